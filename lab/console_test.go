package lab

import (
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"l2hub/hub"
)

// feed is a console the test writes: each Read returns one write, and the
// next Read says that the reader has done with it (taken).
type feed struct {
	in      chan string
	taken   chan struct{}
	started bool
}

func (f *feed) Read(b []byte) (int, error) {
	if f.started {
		f.taken <- struct{}{}
	}
	f.started = true
	s, ok := <-f.in
	if !ok {
		return 0, io.EOF
	}
	return copy(b, s), nil
}

// console is a process's reader at work on a feed, on a virtual clock.
type console struct {
	t      *testing.T
	clock  *hub.VirtualClock
	in     *inbox
	feed   *feed
	done   chan struct{}
	got    []string
	at     []time.Duration // got's stamps
	closed bool
}

func newConsole(t *testing.T) *console {
	t.Helper()
	clock := hub.NewVirtualClock(hub.DefaultEpoch)
	log, err := createLog(osFS{}, filepath.Join(t.TempDir(), "a.log"), "a.log", nil)
	if err != nil {
		t.Fatal(err)
	}
	p := &process{name: "a", clock: clock, start: clock.Now(), log: log}
	c := &console{t: t, clock: clock, in: newInbox(clock, clock.Now()), feed: &feed{in: make(chan string), taken: make(chan struct{})}, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		p.read(c.feed, c.in)
	}()
	t.Cleanup(func() {
		c.close()
		<-c.done
		p.closeLog()
	})
	return c
}

// write writes s to the console and returns once the reader has done
// with it: handed over the lines it ends, armed its quiet timer.
func (c *console) write(s string) {
	c.feed.in <- s
	<-c.feed.taken
}

func (c *console) close() {
	if !c.closed {
		close(c.feed.in)
		c.closed = true
	}
}

// quiet moves the clock on by d, firing what falls due, once the reader's
// quiet timer is armed if want.
func (c *console) quiet(d time.Duration, want bool) {
	c.t.Helper()
	for deadline := time.Now().Add(hangGuard); want && c.clock.Pending() == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			c.t.Fatalf("no quiet timer armed after %v", hangGuard)
		}
	}
	drv := hub.Driver{Clock: c.clock}
	drv.AdvanceTo(c.clock.Now().Add(d), nil)
}

// events waits until n events have been handed over in all, and returns
// them as "line: TEXT" or "prompt: TEXT".
func (c *console) events(n int) []string {
	c.t.Helper()
	for deadline := time.Now().Add(hangGuard); len(c.got) < n; {
		select {
		case <-c.in.ready:
		case <-time.After(10 * time.Millisecond):
		}
		evs, _, _ := c.in.take()
		for _, ev := range evs {
			kind := "line"
			if ev.prompt {
				kind = "prompt"
			}
			c.got = append(c.got, kind+": "+ev.text)
			c.at = append(c.at, ev.at)
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("got events %q after %v, want %d", c.got, hangGuard, n)
		}
	}
	return c.got
}

// The start of a line after which the console stays quiet (a prompt) is
// handed over once, as a prompt; the whole line when it ends. A line whose
// bytes keep coming is not: only a quiet of promptQuiet counts.
func TestConsolePrompt(t *testing.T) {
	c := newConsole(t)
	c.write("booting\nlogin: ")
	c.quiet(promptQuiet-time.Millisecond, true) // not quiet long enough
	c.write("\r")                               // more of the line: the quiet starts again
	c.quiet(promptQuiet-time.Millisecond, false)
	if got := c.events(1); !slices.Equal(got, []string{"line: booting"}) {
		t.Fatalf("got %q before the console was quiet for %v, want the first line only", got, promptQuiet)
	}
	c.quiet(promptQuiet, true)
	want := []string{"line: booting", "prompt: login: "}
	if got := c.events(2); !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	c.write("root") // the same line: no second prompt, however quiet
	c.quiet(time.Second, false)
	c.write("\n$ ")
	c.quiet(time.Second, true)
	want = append(want, "line: login: \rroot", "prompt: $ ")
	if got := c.events(4); !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	c.close()
	want = append(want, "line: $ ") // the last line, without its newline
	if got := c.events(5); !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

// A prompt is stamped when its last bytes came, not when the quiet after
// them ended; until it is handed over (or its line ends), the inbox's
// horizon holds what comes after those bytes, a bound too.
func TestConsolePromptStampedWhenPrinted(t *testing.T) {
	c := newConsole(t)
	ms := time.Millisecond
	c.quiet(50*ms, false)
	c.write("login")
	c.quiet(100*ms, true) // 150 ms: still not quiet for long enough
	c.write(": ")
	if _, _, horizon := c.in.take(); horizon != 150*ms {
		t.Errorf("got horizon %v while the line is open, want 150ms (its last bytes)", horizon)
	}
	c.quiet(100*ms, true) // the quiet timer armed at 50 ms fires at 250 ms, and waits for 350 ms
	c.quiet(100*ms, true)
	if got := c.events(1); !slices.Equal(got, []string{"prompt: login: "}) || c.at[0] != 150*ms {
		t.Errorf("got %q stamped %v, want the prompt stamped 150ms, when its last bytes came", got, c.at)
	}
	if _, _, horizon := c.in.take(); horizon != noHorizon {
		t.Errorf("got horizon %v once the prompt is handed over, want none", horizon)
	}
	c.write("root\n")
	if got := c.events(2); got[1] != "line: login: root" || c.at[1] != 150*ms+promptQuiet {
		t.Errorf("got %q stamped %v, want the line stamped when it ended", got, c.at)
	}
}

// Lines are cut at maxLine wherever the pipe's chunks fall; the cut counts
// what was dropped but the newline.
func TestConsoleLongLine(t *testing.T) {
	var lb lineBuf
	var got []string
	emit := func(text string, cut int) { got = append(got, fmt.Sprintf("%d:%d", len(text), cut)) }
	lb.write([]byte(strings.Repeat("x", maxLine-1)), emit)
	lb.write([]byte("yy"), emit)
	lb.write([]byte(strings.Repeat("z", 10)+"\r\nok\r\n"), emit)
	if want := []string{fmt.Sprintf("%d:12", maxLine), "2:0"}; !slices.Equal(got, want) {
		t.Errorf("got lines (length:cut) %q, want %q", got, want)
	}
}
