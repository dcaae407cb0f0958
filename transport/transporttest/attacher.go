package transporttest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"l2hub/hub"
	"l2hub/transport"
)

// HangGuard bounds every wait in this package: a transport that should have
// delivered, attached or unblocked by now never will. It only turns a hang
// into a failure; no test measures time.
const HangGuard = 10 * time.Second

// Attacher is a fake hub for transport tests, with the attach rules of
// hub.Hub: an unknown port is hub.ErrNoPort, a port with a peer is
// hub.ErrPortBusy. It does not read or write: each attached PortIO is handed
// to the test through Next, and the test lets go of it with Detach, as the
// hub does when its reader sees the end of the stream.
type Attacher struct {
	mu       sync.Mutex
	ports    map[string]*Attachment // nil: the port is free
	busy     map[string]int
	attached chan *Attachment
}

// NewAttacher returns a fake hub with the named ports.
func NewAttacher(ports ...string) *Attacher {
	a := &Attacher{
		ports:    map[string]*Attachment{},
		busy:     map[string]int{},
		attached: make(chan *Attachment, 64),
	}
	for _, p := range ports {
		a.ports[p] = nil
	}
	return a
}

// Attachment is one PortIO attached to a port of an Attacher.
type Attachment struct {
	Port  string
	IO    hub.PortIO
	a     *Attacher
	done  chan struct{}
	once  sync.Once
	drain sync.Once
}

// Attach implements transport.Attacher.
func (a *Attacher) Attach(port string, io hub.PortIO) (<-chan struct{}, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	cur, ok := a.ports[port]
	switch {
	case !ok:
		return nil, hub.ErrNoPort
	case cur != nil:
		a.busy[port]++
		return nil, hub.ErrPortBusy
	}
	at := &Attachment{Port: port, IO: io, a: a, done: make(chan struct{})}
	a.ports[port] = at
	a.attached <- at
	return at.done, nil
}

// Next returns the next PortIO attached, failing the test if none comes.
func (a *Attacher) Next(t testing.TB) *Attachment {
	t.Helper()
	select {
	case at := <-a.attached:
		return at
	case <-time.After(HangGuard):
		t.Fatalf("no PortIO attached within %v", HangGuard)
		return nil
	}
}

// Busy returns how many attaches to port were refused as busy.
func (a *Attacher) Busy(port string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.busy[port]
}

// Attached returns the attachment currently holding port, or nil.
func (a *Attacher) Attached(port string) *Attachment {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.ports[port]
}

// Done is the channel Attach returned for this attachment.
func (at *Attachment) Done() <-chan struct{} { return at.done }

// Detach closes the PortIO, frees the port and closes Done, as the hub does
// once it stops using a PortIO. Safe to call more than once.
func (at *Attachment) Detach() {
	at.once.Do(func() {
		at.IO.Close()
		at.a.mu.Lock()
		if at.a.ports[at.Port] == at {
			at.a.ports[at.Port] = nil
		}
		at.a.mu.Unlock()
		close(at.done)
	})
}

// Drain plays the hub's reader from now on: it reads and discards frames
// until the PortIO fails (closed by its runner, or the peer gone) and then
// detaches. A test that stops a runner with a PortIO still attached calls it
// first, since the runner waits for Done. Safe to call more than once.
func (at *Attachment) Drain() {
	at.drain.Do(func() {
		go func() {
			buf := make([]byte, transport.MaxFrameLimit)
			for {
				_, err := hub.ReadFrame(at.IO, buf)
				var fe *hub.FrameError
				if err != nil && !errors.As(err, &fe) {
					at.Detach()
					return
				}
			}
		}()
	})
}
