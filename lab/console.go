package lab

import (
	"bytes"
	"io"
	"strings"
	"time"

	"l2hub/hub"
)

// maxLine bounds one console line: the rest of a longer line is dropped
// (the log says how much), so a guest printing without newlines costs a
// bounded amount of memory.
const maxLine = 16 << 10

// promptQuiet is how long a console must stay quiet after the start of a
// line that has no newline yet before that start is matched: a prompt
// ("login: ", "=> ", "~ # ") waits for input, and never ends its line by
// itself. Output in progress comes in bursts far closer together.
const promptQuiet = 200 * time.Millisecond

// read follows the console to its end (or until the pipe is closed),
// handing each line to in (where it is stamped) before writing it to the
// log: a slow disk delays the log, not the judging. The start of a line
// after which the console has been quiet for promptQuiet (on the run's
// clock) is handed over too, once per line, as a prompt stamped when its
// last bytes came (in.partial).
func (p *process) read(r io.Reader, in *inbox) {
	// One goroutine blocks in Read; this one assembles lines and watches
	// the quiet. A chunk's buffer is reused once it has been taken (ack).
	data := make(chan []byte)
	ack := make(chan struct{})
	go func() {
		defer close(data)
		buf := make([]byte, 64<<10)
		for {
			n, err := r.Read(buf)
			if n > 0 {
				data <- buf[:n]
				<-ack
			}
			if err != nil {
				return
			}
		}
	}()
	emit := func(text string, cut int) {
		at := in.put(event{vm: p.vm, text: text})
		if cut > 0 {
			p.logf(at, "%s [%d more bytes of this line dropped]", text, cut)
		} else {
			p.logf(at, "%s", text)
		}
	}
	quiet := make(chan struct{}, 1)
	var timer hub.Timer
	arm := func(d time.Duration) {
		timer = p.clock.AfterFunc(d, func() {
			select {
			case quiet <- struct{}{}:
			default:
			}
		})
	}
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	var lb lineBuf
	var last time.Time // when the last bytes came
	armed := false
	for {
		select {
		case chunk, ok := <-data:
			if !ok {
				if lb.open() { // the last line, without its newline
					emit(lb.take())
				}
				return
			}
			last = p.clock.Now()
			lb.write(chunk, emit)
			if lb.open() && !lb.probed {
				if lb.hasText() {
					in.partial(p.vm) // a prompt, if any, is stamped now
				}
				if !armed {
					armed = true
					arm(promptQuiet)
				}
			}
			ack <- struct{}{}
		case <-quiet:
			armed = false
			if !lb.open() || lb.probed {
				continue
			}
			if since := p.clock.Now().Sub(last); since < promptQuiet {
				armed = true
				arm(promptQuiet - since) // bytes came meanwhile
				continue
			}
			lb.probed = true
			if text := lb.text(); text != "" {
				in.put(event{vm: p.vm, prompt: true, text: text})
			}
		}
	}
}

// lineBuf assembles console lines from what the pipe gives, keeping at
// most maxLine bytes of each.
type lineBuf struct {
	b      []byte // the line so far, without its newline
	cut    int    // bytes of it dropped beyond maxLine
	probed bool   // the line so far was handed over as a prompt
}

// write adds chunk, calling emit with each line it ends (without its "\n"
// and trailing "\r") and the bytes dropped from it.
func (l *lineBuf) write(chunk []byte, emit func(text string, cut int)) {
	for len(chunk) > 0 {
		part, rest, ended := bytes.Cut(chunk, []byte{'\n'})
		keep := min(len(part), maxLine-len(l.b))
		l.b = append(l.b, part[:keep]...)
		l.cut += len(part) - keep
		if !ended {
			return
		}
		emit(l.take())
		chunk = rest
	}
}

// open reports whether a line has begun and not ended.
func (l *lineBuf) open() bool { return len(l.b) > 0 || l.cut > 0 }

// hasText reports whether the line so far holds more than "\r": whether
// text is not empty.
func (l *lineBuf) hasText() bool { return len(bytes.TrimRight(l.b, "\r")) > 0 }

// text is the line so far, without trailing "\r".
func (l *lineBuf) text() string { return strings.TrimRight(string(l.b), "\r") }

// take returns the line so far and the bytes dropped from it, and starts
// the next.
func (l *lineBuf) take() (string, int) {
	text, cut := l.text(), l.cut
	l.b, l.cut, l.probed = l.b[:0], 0, false
	return text, cut
}
