package control

import (
	"context"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"
)

// slotListener is a server's budget of connections: at most max held at
// once. Beyond them a connection waits in the kernel's accept queue, where
// it costs the process no descriptor, or, one at a time, accepted and
// waiting for a slot here. A held connection claims its slot with a request
// that passed the server's checks (a valid token, when one is asked);
// until then, once grace has passed since it got the slot, it gives the
// slot up to a connection that waits: it is closed. So connections that
// send nothing, trickle their headers or lack the token can delay a
// client with the token by grace, not keep it out, and a claimed slot is
// kept until its connection closes.
//
// Accept is for one goroutine (http.Server's); claim and Close are safe
// for concurrent use.
type slotListener struct {
	net.Listener
	max     int
	grace   time.Duration
	evicted func(remote net.Addr) // called for each connection closed to free its slot; may be nil

	mu    sync.Mutex
	held  []*slotConn   // in the order they got their slots
	freed chan struct{} // 1-buffered: a held connection closed
	done  chan struct{} // closed by Close
	once  sync.Once
}

func newSlotListener(l net.Listener, max int, grace time.Duration, evicted func(net.Addr)) *slotListener {
	return &slotListener{Listener: l, max: max, grace: grace, evicted: evicted,
		freed: make(chan struct{}, 1), done: make(chan struct{})}
}

// slotConn is a connection holding (or having held) a slot.
type slotConn struct {
	net.Conn
	l       *slotListener
	since   time.Time // when it got its slot
	claimed bool      // under l.mu
}

// Accept returns the next connection once it has a slot: a free one, or
// one an unclaimed connection gave up.
func (l *slotListener) Accept() (net.Conn, error) {
	// Take a connection from the kernel only when it can get a slot: one is
	// free, or held by a connection that may yet give it up.
	for {
		l.mu.Lock()
		room := len(l.held) < l.max || slices.ContainsFunc(l.held, unclaimed)
		l.mu.Unlock()
		if room {
			break
		}
		select {
		case <-l.freed:
		case <-l.done:
			return nil, net.ErrClosed
		}
	}
	nc, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	c := &slotConn{Conn: nc, l: l}
	for {
		l.mu.Lock()
		if len(l.held) < l.max {
			c.since = time.Now()
			l.held = append(l.held, c)
			l.mu.Unlock()
			return c, nil
		}
		var expire *time.Timer // when the oldest unclaimed connection's grace ends
		if i := slices.IndexFunc(l.held, unclaimed); i >= 0 {
			victim := l.held[i]
			if wait := l.grace - time.Since(victim.since); wait > 0 {
				expire = time.NewTimer(wait)
			} else {
				l.held = slices.Delete(l.held, i, i+1)
				l.mu.Unlock()
				victim.Conn.Close() // its server goroutine's read fails: it ends
				if l.evicted != nil {
					l.evicted(victim.RemoteAddr())
				}
				continue
			}
		}
		l.mu.Unlock()
		var expired <-chan time.Time
		if expire != nil {
			expired = expire.C
		}
		closed := false
		select {
		case <-l.freed:
		case <-expired:
		case <-l.done:
			closed = true
		}
		if expire != nil {
			expire.Stop()
		}
		if closed {
			nc.Close()
			return nil, net.ErrClosed
		}
	}
}

func unclaimed(c *slotConn) bool { return !c.claimed }

// Close closes the listener and ends an Accept waiting for a slot. The
// connections it returned are the server's to close.
func (l *slotListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// claim makes c's slot its own until it closes. It reports false if c
// gave its slot up already: it is closed.
func (c *slotConn) claim() bool {
	c.l.mu.Lock()
	defer c.l.mu.Unlock()
	if !slices.Contains(c.l.held, c) {
		return false
	}
	c.claimed = true
	return true
}

// Close closes the connection and frees its slot.
func (c *slotConn) Close() error {
	l := c.l
	l.mu.Lock()
	if i := slices.Index(l.held, c); i >= 0 {
		l.held = slices.Delete(l.held, i, i+1)
		select {
		case l.freed <- struct{}{}:
		default:
		}
	}
	l.mu.Unlock()
	return c.Conn.Close()
}

type slotKey struct{}

// slotContext is http.Server's ConnContext for a slotListener: it puts
// the connection where claimSlot finds it.
func slotContext(ctx context.Context, c net.Conn) context.Context {
	if sc, ok := c.(*slotConn); ok {
		return context.WithValue(ctx, slotKey{}, sc)
	}
	return ctx
}

// claimSlot claims the slot of r's connection for its request, which
// passed the server's checks. It reports false if the connection gave its
// slot up already (it is closed: there is no one to answer); true if it
// holds none (a handler called without Serve).
func claimSlot(r *http.Request) bool {
	c, ok := r.Context().Value(slotKey{}).(*slotConn)
	return !ok || c.claim()
}

// refuseConn makes the answer being written the connection's last, sent
// without reading the request's body first: a refused request (no token,
// a web page's) holds its connection's slot no longer than it takes to
// answer.
func refuseConn(w http.ResponseWriter) {
	w.Header().Set("Connection", "close")
	http.NewResponseController(w).SetReadDeadline(time.Now()) // fails only where there is no connection (a test's recorder)
}
