package idle

import (
	"sync/atomic"
	"testing"
)

// TestSettleWaitsForWork: a chain of goroutines, each busy for a while and
// then waking the next, is finished when Settle returns.
func TestSettleWaitsForWork(t *testing.T) {
	const links = 20
	var done atomic.Int32
	chans := make([]chan int, links+1)
	for i := range chans {
		chans[i] = make(chan int)
	}
	for i := range links {
		go func() {
			v := <-chans[i]
			for j := range 20000 { // a little CPU work between the hand-offs
				v = v*31 + j
			}
			done.Add(1)
			chans[i+1] <- v
		}()
	}
	go func() { <-chans[links] }()
	if err := Settle(); err != nil {
		t.Fatal(err)
	}
	if n := done.Load(); n != 0 {
		t.Fatalf("%d links ran before anything started them", n)
	}
	chans[0] <- 1
	if err := Settle(); err != nil {
		t.Fatal(err)
	}
	if n := done.Load(); n != links {
		t.Fatalf("Settle returned with %d of %d links done", n, links)
	}
}

// TestIdleReadsTheDump: the parser of runtime.Stack's dump skips the
// caller's goroutine, and counts running, runnable and preempted ones as
// busy and every waiting state (however long, in a system call included)
// as idle.
func TestIdleReadsTheDump(t *testing.T) {
	const caller = "goroutine 1 [running]:\nmain.main()\n\n"
	for _, tc := range []struct {
		name string
		dump string
		want bool
	}{
		{"only-the-caller", caller, true},
		{"waiting", caller + "goroutine 7 [chan receive]:\n\ngoroutine 8 [select, 2 minutes]:\n\ngoroutine 9 [sync.Mutex.Lock]:\n", true},
		{"in-a-syscall", caller + "goroutine 5 [syscall, 3 minutes]:\n", true},
		{"running", caller + "goroutine 7 [chan receive]:\n\ngoroutine 8 [running]:\n", false},
		{"runnable", caller + "goroutine 8 [runnable]:\n", false},
		{"preempted", caller + "goroutine 8 [preempted]:\n", false},
		{"no-state", caller + "goroutine 8 :\n", true},
		{"frames-look-like-headers", caller + "goroutine 7 [chan send]:\nmain.f(0x1)\n\tgoroutine [running] in a string\n", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := idle([]byte(tc.dump)); got != tc.want {
				t.Errorf("got idle(%q) = %v, want %v", tc.dump, got, tc.want)
			}
		})
	}
}
