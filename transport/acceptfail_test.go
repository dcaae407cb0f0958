package transport

import (
	"context"
	"errors"
	"net"
	"os"
	"slices"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"l2hub/hub"
)

// scriptedListener's Accept says on asked that it was called, then
// returns what the test sends on next: once it asked again, the runner
// has acted on the previous result.
type scriptedListener struct {
	asked  chan struct{}
	next   chan acceptResult
	closed chan struct{}
}

type acceptResult struct {
	c   net.Conn
	err error
}

func (l *scriptedListener) Accept() (net.Conn, error) {
	select {
	case l.asked <- struct{}{}:
	case <-l.closed:
		return nil, net.ErrClosed
	}
	select {
	case r := <-l.next:
		return r.c, r.err
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *scriptedListener) Close() error {
	select {
	case <-l.closed:
	default:
		close(l.closed)
	}
	return nil
}

func (l *scriptedListener) Addr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 7001}
}

// takingAttacher takes whatever comes, says so on attached, and lets it
// go at once.
type takingAttacher struct{ attached chan hub.PortIO }

func (a takingAttacher) Attach(_ string, io hub.PortIO) (<-chan struct{}, error) {
	a.attached <- io
	io.Close()
	done := make(chan struct{})
	close(done)
	return done, nil
}

// runScripted runs a listening port's runner over a scripted listener,
// with the given backoff bounds, until the test ends (the runner closed,
// Run's error checked): its accepts return what the test sends on ln.next,
// and what it attaches goes to a.attached.
func runScripted(t *testing.T, minBackoff, maxBackoff time.Duration) (*streamListener, *scriptedListener, takingAttacher) {
	t.Helper()
	opts, err := Options{MinBackoff: minBackoff, MaxBackoff: maxBackoff}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	base := &runnerBase{spec: Spec{Name: "a", Transport: TCP, Address: "127.0.0.1:7001"}, opts: opts, log: opts.Logger}
	base.life, base.quit = context.WithCancel(context.Background())
	ln := &scriptedListener{asked: make(chan struct{}), next: make(chan acceptResult), closed: make(chan struct{})}
	r := &streamListener{runnerBase: base, ln: ln}
	a := takingAttacher{attached: make(chan hub.PortIO, 1)}
	done := make(chan error, 1)
	go func() { done <- r.Run(context.Background(), a) }()
	t.Cleanup(func() {
		r.Close()
		if err := <-done; err != nil {
			t.Errorf("Run() = %v, want nil after Close", err)
		}
	})
	return r, ln, a
}

// TestAcceptFailing: a listening port whose accepts fail (out of file
// descriptors) says so (AcceptFailing), since the first failure in a row
// and with the latest error, until an accept succeeds.
func TestAcceptFailing(t *testing.T) {
	r, ln, a := runScripted(t, time.Microsecond, time.Microsecond)
	// give has the runner's Accept return res; the runner has acted on
	// it once it asks again.
	give := func(res acceptResult) {
		ln.next <- res
		<-ln.asked
	}

	<-ln.asked
	if f, failing := AcceptFailing(r); failing {
		t.Fatalf("AcceptFailing before any accept = %+v, true; want false", f)
	}
	emfile := &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", syscall.EMFILE)}
	give(acceptResult{err: emfile})
	first, failing := AcceptFailing(r)
	if !failing || !errors.Is(first.Err, syscall.EMFILE) || first.Since.IsZero() {
		t.Fatalf("AcceptFailing after a failed accept = %+v, %v; want EMFILE, since a time", first, failing)
	}
	enfile := &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", syscall.ENFILE)}
	give(acceptResult{err: emfile})
	give(acceptResult{err: enfile})
	if f, failing := AcceptFailing(r); !failing || !errors.Is(f.Err, syscall.ENFILE) || !f.Since.Equal(first.Since) {
		t.Errorf("AcceptFailing after more failures = %+v, %v; want the latest error (ENFILE), since the first (%v)", f, failing, first.Since)
	}
	vm, hubSide := net.Pipe()
	defer vm.Close()
	give(acceptResult{c: hubSide})
	<-a.attached
	if f, failing := AcceptFailing(r); failing {
		t.Errorf("AcceptFailing after an accept succeeded = %+v, true; want false", f)
	}
	if _, failing := AcceptFailing(&boundRunner{runnerBase: r.runnerBase}); failing {
		t.Error("AcceptFailing(a bound socket's runner) = true; want false")
	}
}

// TestAcceptFailureBackoff: a listening port whose accepts fail waits
// before each retry, the wait doubling up to MaxBackoff (out of file
// descriptors, it does not spin at MinBackoff), and an accept that
// succeeds starts the wait over at MinBackoff. Time is synctest's.
func TestAcceptFailureBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, ln, a := runScripted(t, 10*time.Millisecond, 80*time.Millisecond)
		// waitAfter has the runner's Accept return res and returns how
		// long the runner took to accept again.
		waitAfter := func(res acceptResult) time.Duration {
			start := time.Now()
			ln.next <- res
			<-ln.asked
			return time.Since(start)
		}
		<-ln.asked
		emfile := &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", syscall.EMFILE)}
		var got []time.Duration
		for range 6 {
			got = append(got, waitAfter(acceptResult{err: emfile}))
		}
		ms := time.Millisecond
		if want := []time.Duration{10 * ms, 20 * ms, 40 * ms, 80 * ms, 80 * ms, 80 * ms}; !slices.Equal(got, want) {
			t.Errorf("got waits %v after failed accepts in a row, want %v", got, want)
		}
		vm, hubSide := net.Pipe()
		defer vm.Close()
		ln.next <- acceptResult{c: hubSide}
		<-a.attached
		<-ln.asked
		if got, want := waitAfter(acceptResult{err: emfile}), 10*ms; got != want {
			t.Errorf("got a wait of %v after a failure that followed a success, want %v (MinBackoff)", got, want)
		}
	})
}
