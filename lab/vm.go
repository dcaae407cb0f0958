package lab

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"l2hub/hub"
	"l2hub/internal/shell"
)

// maxLine bounds one console line: the rest of a longer line is dropped
// (the log says how much), so a guest printing without newlines costs a
// bounded amount of memory.
const maxLine = 16 << 10

// process is one running QEMU: its console is read line by line, each
// line stamped with the time since the run's start, written to the log and
// handed to the run's loop.
type process struct {
	vm    int
	name  string
	cmd   *exec.Cmd
	dog   *watchdog // kills QEMU's process group if the runner dies (Linux)
	noDog error     // why there is no watchdog where there should be one
	pgid  int       // QEMU's process group
	log   *os.File
	clock hub.Clock
	start time.Time // the run's start

	mu     sync.Mutex
	exited bool // QEMU has ended and what was left of its group is killed: no more signals to it
	status string
	done   chan struct{} // closed when QEMU has ended and its console is read
}

// startProcess launches bin with args in dir, the console to logPath.
// Lines go to in, each stamped there, and so does the exit. QEMU runs
// in its own process group (an interrupt on the terminal reaches the
// runner only, which stops it in order); that group, with whatever QEMU
// started, is killed once QEMU has ended, and if the runner dies (on
// Linux, where a watchdog starts: see watchdog).
func startProcess(vm int, name, bin string, args []string, dir, logPath string, clock hub.Clock, start time.Time,
	in *inbox) (*process, error) {
	log, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("VM %s: console log: %w", name, err)
	}
	fmt.Fprintf(log, "# %s\n# cwd=%s\n# t0=%s\n", shell.Quote(append([]string{bin}, args...)), dir, start.UTC().Format(time.RFC3339Nano))
	p := &process{vm: vm, name: name, log: log, clock: clock, start: start, done: make(chan struct{})}
	if p.dog, p.noDog = startWatchdog(); p.noDog != nil {
		fmt.Fprintf(log, "%8.3f # %v: QEMU starts without one\n", p.since().Seconds(), p.noDog)
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		p.dog.stop()
		log.Close()
		return nil, fmt.Errorf("VM %s: %w", name, err)
	}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Dir = dir
	p.cmd.Stdout, p.cmd.Stderr = pw, pw
	p.cmd.SysProcAttr = vmProcAttr(p.dog)
	if err := p.cmd.Start(); err != nil {
		p.dog.stop()
		pr.Close()
		pw.Close()
		fmt.Fprintf(log, "%8.3f # could not start: %v\n", p.since().Seconds(), err)
		log.Close()
		return nil, fmt.Errorf("VM %s: start %s: %w", name, bin, err)
	}
	pw.Close() // QEMU holds the write end now
	p.pgid = p.cmd.Process.Pid
	if p.dog != nil {
		p.pgid = p.dog.pgid()
	}
	go func() {
		defer close(p.done)
		p.read(pr, in)
		err := waitQEMU(p.cmd, func() {
			// What QEMU left in its group (the VM of a wrapper that started
			// it in the background and exited, say) ends with it. From now
			// on nothing signals the group: once QEMU is reaped and the
			// watchdog stopped, its id may be another's.
			p.mu.Lock()
			syscall.Kill(-p.pgid, syscall.SIGKILL)
			p.exited = true
			p.mu.Unlock()
		})
		p.dog.stop() // only now: while it lives, the group id cannot be reused
		pr.Close()
		status := exitText(err)
		p.mu.Lock()
		p.status = status
		p.mu.Unlock()
		at := in.put(event{vm: vm, exit: true, text: status})
		fmt.Fprintf(log, "%8.3f # exit: %s\n", at.Seconds(), status)
		log.Close()
	}()
	return p, nil
}

func (p *process) since() time.Duration { return p.clock.Now().Sub(p.start) }

// read follows the console to its end. Each line is handed over (and
// stamped) before it is written to the log: a slow disk delays the log,
// not the judging.
func (p *process) read(r io.Reader, in *inbox) {
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		text, cut, err := readLine(br)
		if err != nil && text == "" && cut == 0 {
			return
		}
		at := in.put(event{vm: p.vm, text: text})
		line := fmt.Sprintf("%8.3f %s\n", at.Seconds(), text)
		if cut > 0 {
			line = fmt.Sprintf("%8.3f %s [%d more bytes of this line dropped]\n", at.Seconds(), text, cut)
		}
		p.log.WriteString(line)
		if err != nil {
			return
		}
	}
}

// readLine reads one line without its "\n" and "\r", keeping at most
// maxLine bytes of it; cut is how many it dropped.
func readLine(br *bufio.Reader) (string, int, error) {
	var b []byte
	cut := 0
	for {
		chunk, err := br.ReadSlice('\n')
		if room := maxLine - len(b); room > 0 {
			b = append(b, chunk[:min(len(chunk), room)]...)
			cut += max(len(chunk)-room, 0)
		} else {
			cut += len(chunk)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		s := strings.TrimRight(string(b), "\r\n")
		if cut > 0 && len(chunk) > 0 && chunk[len(chunk)-1] == '\n' {
			cut-- // the newline
		}
		return s, cut, err
	}
}

// terminate asks QEMU's process group to end (SIGTERM: QEMU shuts the
// guest off and exits), then kills it after grace; it returns once QEMU
// has ended and its console is read. Once QEMU has ended, what was left
// of its group is killed already.
func (p *process) terminate(grace time.Duration) {
	if p.signal(syscall.SIGTERM) {
		select {
		case <-p.done:
			return
		case <-hub.After(p.clock, grace):
		}
		p.signal(syscall.SIGKILL)
	}
	<-p.done
}

// signal sends sig to QEMU's process group, unless QEMU has ended (then
// the group's id may be free); it reports whether it did.
func (p *process) signal(sig syscall.Signal) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.exited {
		return false
	}
	syscall.Kill(-p.pgid, sig)
	return true
}

func exitText(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}
