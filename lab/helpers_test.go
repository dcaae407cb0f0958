package lab

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// fakeLookPath finds every QEMU binary: the judge's and the loader's tests
// start nothing.
func fakeLookPath(name string) (string, error) { return "/usr/bin/" + name, nil }

// mustParse reads a lab file given as text, in dir.
func mustParse(t *testing.T, dir, text string) *Lab {
	t.Helper()
	l, err := Parse("lab.yaml", dir, []byte(text), LoadOptions{LookPath: fakeLookPath})
	if err != nil {
		t.Fatalf("Parse:\n%s\nerror: %v", text, err)
	}
	return l
}

// step is one thing that happens to a judge: a console line (vm >= 0,
// text), the start of one the console went quiet after (prompt set), a
// QEMU exit (exit set) or the clock reaching at (vm < 0).
type step struct {
	at     time.Duration
	vm     int
	text   string
	exit   bool
	prompt bool
}

func say(at time.Duration, vm int, text string) step { return step{at: at, vm: vm, text: text} }
func prompts(at time.Duration, vm int, text string) step {
	return step{at: at, vm: vm, text: text, prompt: true}
}
func ends(at time.Duration, vm int) step {
	return step{at: at, vm: vm, exit: true, text: "exit status 0"}
}
func tickAt(at time.Duration) step { return step{at: at, vm: -1} }

// play feeds steps to a judge as the runner would: before each step the
// clock wakes the judge for every deadline up to it, and each action fired
// is made at once (at its time). It returns the judge and every action
// fired, with its time.
func play(t *testing.T, l *Lab, until int, soak time.Duration, steps ...step) (*judge, []fire) {
	t.Helper()
	var log strings.Builder
	j := newJudge(l, until, soak, func(at time.Duration, format string, args ...any) {
		log.WriteString(at.String() + " ")
		log.WriteString(strings.TrimSpace(fmt.Sprintf(format, args...)) + "\n")
	})
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("judge's log:\n%s", log.String())
		}
	})
	var fires []fire
	act := func(fs []fire) {
		for _, f := range fs {
			j.acted(f, nil, f.at, f.at)
		}
		fires = append(fires, fs...)
	}
	wake := func(now time.Duration) {
		for {
			d, ok := j.deadline()
			if !ok || d >= now {
				return
			}
			act(j.tick(d))
		}
	}
	act(j.tick(0))
	for _, s := range steps {
		if j.done {
			break
		}
		wake(s.at)
		switch {
		case s.vm < 0:
			act(j.tick(s.at))
		case s.exit:
			act(j.exit(s.vm, s.at, s.text))
		case s.prompt:
			act(j.prompt(s.vm, s.at, s.text))
		default:
			act(j.line(s.vm, s.at, s.text))
		}
	}
	return j, fires
}
