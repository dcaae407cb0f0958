package transport

import (
	"context"
	"errors"
	"net"
	"os"
	"syscall"
	"testing"
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

// TestAcceptFailing: a listening port whose accepts fail (out of file
// descriptors) says so (AcceptFailing), since the first failure in a row
// and with the latest error, until an accept succeeds.
func TestAcceptFailing(t *testing.T) {
	opts, err := Options{MinBackoff: time.Microsecond, MaxBackoff: time.Microsecond}.withDefaults()
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
	defer func() {
		r.Close()
		if err := <-done; err != nil {
			t.Errorf("Run() = %v, want nil after Close", err)
		}
	}()
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
	if _, failing := AcceptFailing(&boundRunner{runnerBase: base}); failing {
		t.Error("AcceptFailing(a bound socket's runner) = true; want false")
	}
}
