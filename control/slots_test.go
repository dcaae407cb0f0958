package control

import (
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// pipeListener hands out the connections given to it, each once Accept
// has taken it (the channel is unbuffered).
type pipeListener struct {
	conns chan net.Conn
	done  chan struct{}
}

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}
func (l *pipeListener) Close() error   { close(l.done); return nil }
func (l *pipeListener) Addr() net.Addr { return &net.UnixAddr{Name: "pipe", Net: "unix"} }

// trackedConn records whether it was closed.
type trackedConn struct {
	net.Conn
	closed atomic.Bool
}

func (c *trackedConn) Close() error { c.closed.Store(true); return c.Conn.Close() }

// slotTest is a slotListener over a pipeListener, counting the
// connections it closed to free their slots.
type slotTest struct {
	t       *testing.T
	in      *pipeListener
	l       *slotListener
	evicted atomic.Int32
}

func newSlotTest(t *testing.T, max int, grace time.Duration) *slotTest {
	st := &slotTest{t: t, in: newPipeListener()}
	st.l = newSlotListener(st.in, max, grace, func(net.Addr) { st.evicted.Add(1) })
	return st
}

// arrive makes a connection arrive; it returns once Accept has taken it
// from the kernel's queue.
func (st *slotTest) arrive() *trackedConn {
	server, client := net.Pipe()
	st.t.Cleanup(func() { client.Close() })
	c := &trackedConn{Conn: server}
	st.in.conns <- c
	return c
}

// accept runs Accept in the background.
func (st *slotTest) accept() <-chan net.Conn {
	got := make(chan net.Conn, 1)
	go func() {
		c, err := st.l.Accept()
		if err != nil {
			st.t.Errorf("Accept: %v", err)
		}
		got <- c
	}()
	return got
}

func (st *slotTest) wait(got <-chan net.Conn) *slotConn {
	st.t.Helper()
	select {
	case c := <-got:
		sc, _ := c.(*slotConn)
		if sc == nil {
			st.t.Fatalf("Accept returned %T, want a *slotConn", c)
		}
		st.t.Cleanup(func() { sc.Close() })
		return sc
	case <-time.After(hangGuardSlots):
		st.t.Fatal("Accept did not return")
		return nil
	}
}

// next makes a connection arrive and returns what Accept made of it.
func (st *slotTest) next() (*trackedConn, *slotConn) {
	got := st.accept()
	c := st.arrive()
	return c, st.wait(got)
}

// hangGuardSlots bounds a wait that must end; it decides no pass.
const hangGuardSlots = 2 * time.Minute

func TestSlots(t *testing.T) {
	t.Run("oldest-unclaimed-gives-its-slot-up", func(t *testing.T) {
		st := newSlotTest(t, 3, 0)
		c1, s1 := st.next()
		if !s1.claim() {
			t.Fatal("claim of a held slot failed")
		}
		c2, s2 := st.next()
		c3, _ := st.next()
		c4, s4 := st.next()
		closed := []bool{c1.closed.Load(), c2.closed.Load(), c3.closed.Load(), c4.closed.Load()}
		if closed[0] || !closed[1] || closed[2] || closed[3] || st.evicted.Load() != 1 {
			t.Errorf("got closed %v, %d evicted; want the second alone: the first claimed its slot, the second is the oldest that did not",
				closed, st.evicted.Load())
		}
		if s2.claim() {
			t.Error("the connection that gave its slot up could claim it")
		}
		if !s4.claim() {
			t.Error("the newcomer could not claim its slot")
		}
	})
	t.Run("claimed-slots-are-kept", func(t *testing.T) {
		st := newSlotTest(t, 2, 0)
		_, s1 := st.next()
		c2, s2 := st.next()
		s1.claim()
		s2.claim()
		got := st.accept()
		arrived := make(chan *trackedConn, 1)
		go func() { arrived <- st.arrive() }()
		s1.Close() // as the server does once it has answered
		s3 := st.wait(got)
		c3 := <-arrived
		if st.evicted.Load() != 0 || c2.closed.Load() || c3.closed.Load() {
			t.Errorf("got %d evicted, closed 2:%v 3:%v; want none: the newcomer waits for a claimed slot to be freed",
				st.evicted.Load(), c2.closed.Load(), c3.closed.Load())
		}
		if !s3.claim() {
			t.Error("the newcomer could not claim the freed slot")
		}
	})
	t.Run("unclaimed-keeps-its-slot-within-grace", func(t *testing.T) {
		st := newSlotTest(t, 1, time.Hour)
		_, s1 := st.next()
		got := st.accept()
		c2 := st.arrive() // taken, and waiting for the slot
		s1.Close()
		st.wait(got)
		if st.evicted.Load() != 0 || c2.closed.Load() {
			t.Errorf("got %d evicted, newcomer closed %v; want none: the first was within its grace", st.evicted.Load(), c2.closed.Load())
		}
	})
	t.Run("close-ends-the-waits", func(t *testing.T) {
		st := newSlotTest(t, 1, time.Hour)
		_, s1 := st.next()
		got := make(chan error, 1)
		go func() {
			_, err := st.l.Accept()
			got <- err
		}()
		c2 := st.arrive() // waits for s1's slot
		st.l.Close()
		select {
		case err := <-got:
			if !errors.Is(err, net.ErrClosed) || !c2.closed.Load() {
				t.Errorf("Accept after Close = %v, newcomer closed %v; want net.ErrClosed, and it closed", err, c2.closed.Load())
			}
		case <-time.After(hangGuardSlots):
			t.Fatal("Close did not end Accept's wait for a slot")
		}
		s1.claim()
		if _, err := st.l.Accept(); !errors.Is(err, net.ErrClosed) {
			t.Errorf("Accept on a closed listener with its slots claimed = %v, want net.ErrClosed", err)
		}
	})
}
