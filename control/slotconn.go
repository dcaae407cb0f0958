// slotconn.go is the connection's side of the slot listener (slots.go):
// slotConn, which hands the server the head the lobby read and frees its
// place as it closes, and what a handler does with the place of the
// connection it serves, found through the request's context: claim it
// (claimSlot), set it aside for an injection stream (setAsideSlot), mark a
// change that must be answered before a stopping server cuts its
// connections (changeSlot; cutOff), and linger after an answer given with
// the body unread (lingerSlot, refuseConn).

package control

import (
	"context"
	"io"
	"net"
	"net/http"
	"slices"
	"time"
)

// slotConn is a connection in the lobby or handed to the server.
type slotConn struct {
	net.Conn
	l       *slotListener
	born    time.Time // when it connected (connAge), or was accepted
	got     int       // bytes of its head read so far; under l.mu
	handed  bool      // handed to the server; under l.mu
	since   time.Time // when it was handed to the server; under l.mu
	claimed bool      // under l.mu
	done    bool      // answered for the last time (CloseWrite); under l.mu
	change  bool      // its request is a change in flight (slotListener.changes); under l.mu
	linger  bool      // answered with its request unread (lingerSlot); under l.mu
	head    []byte    // read in the lobby, not yet by the server
}

// markChange marks c's request as a change the server is about to apply, so
// that the server answers it before it closes its connections (cutOff).
// It reports false once cutOff has run: the change must not be applied,
// since its answer might not be given. While changes applied before the
// cut are still in flight, it is counted with them all the same, so that
// its refusal (503 stopped) is answered too before the connections are
// cut.
func (c *slotConn) markChange() bool {
	c.l.mu.Lock()
	defer c.l.mu.Unlock()
	if c.l.cut && c.l.changes == 0 { // settled: the connections are being cut
		return false
	}
	if !c.change {
		c.change = true
		c.l.changes++
	}
	return !c.l.cut
}

// cutOff ends the changes: none starts after it (markChange), and the
// channel it returns is closed once those in flight were answered (their
// connections closed).
func (l *slotListener) cutOff() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.cut {
		l.cut = true
		if l.changes == 0 {
			close(l.settled)
		}
	}
	return l.settled
}

// endChangeLocked ends c's change, if it was one. Call it with l.mu held.
func (l *slotListener) endChangeLocked(c *slotConn) {
	if !c.change {
		return
	}
	c.change = false
	if l.changes--; l.changes == 0 && l.cut {
		close(l.settled)
	}
}

// Read returns what the lobby read of the request head first, then what
// follows.
func (c *slotConn) Read(b []byte) (int, error) {
	if len(c.head) > 0 {
		n := copy(b, c.head)
		c.head = c.head[n:]
		return n, nil
	}
	return c.Conn.Read(b)
}

// CloseWrite ends c's output, and lets c give its place up at once to a
// connection that waits for one. http.Server calls it (closeWriteAndWait)
// once it has flushed its last answer on a connection whose request it
// did not read whole (a refusal of a request that declared a body over
// 256 KiB, a 431 for a head too long), and then lingers 500 ms before it
// closes the connection, so that the client reads the answer before a
// reset: a place held all that time would let a few hundred such
// requests keep a client with the token out for minutes.
func (c *slotConn) CloseWrite() error {
	var err error
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		err = cw.CloseWrite()
	}
	c.l.mu.Lock()
	c.done = true
	c.l.mu.Unlock()
	c.l.signal()
	return err
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

// Close closes the connection and frees its slot; a change it carried
// has been answered. A connection answered with its request unread
// (lingerSlot), which http.Server closes at once when it read the body
// to a deadline already past, first lingers as refuseStopping does: its
// output ends, and what the client still sends is read until it closes,
// for at most stopLinger, so that the client reads the answer rather
// than a reset or a broken pipe. A change's end waits for that.
func (c *slotConn) Close() error {
	c.l.mu.Lock()
	linger := c.linger && !c.done // done: http.Server lingered already (CloseWrite)
	c.linger = false
	c.l.mu.Unlock()
	if linger {
		c.CloseWrite() // its place may go to a newcomer now, which closes it and so ends the linger
		c.Conn.SetReadDeadline(time.Now().Add(stopLinger))
		io.Copy(io.Discard, c.Conn)
	}
	c.l.mu.Lock()
	c.l.leaveLocked(c)
	c.l.endChangeLocked(c)
	c.l.mu.Unlock()
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

// setAside gives c's place back while c goes on, claimed, until it
// closes: a connection that another bound counts (an injection stream,
// Server.MaxInjections), so that it takes none of the max places the
// short requests have. It reports false if c holds no place (it gave it
// up already, or is set aside).
func (c *slotConn) setAside() bool {
	c.l.mu.Lock()
	defer c.l.mu.Unlock()
	i := slices.Index(c.l.held, c)
	if i < 0 || !c.claimed {
		return false
	}
	c.l.held = slices.Delete(c.l.held, i, i+1)
	c.l.aside = append(c.l.aside, c)
	c.l.signal() // a place is free
	return true
}

// setAsideSlot sets the slot of r's connection aside (setAside), if it
// holds one.
func setAsideSlot(r *http.Request) {
	if c, ok := r.Context().Value(slotKey{}).(*slotConn); ok {
		c.setAside()
	}
}

// lingerSlot says r's connection is answered with r's body unread: it
// lingers before it closes (slotConn.Close).
func lingerSlot(r *http.Request) {
	if c, ok := r.Context().Value(slotKey{}).(*slotConn); ok {
		c.l.mu.Lock()
		c.linger = true
		c.l.mu.Unlock()
	}
}

// changeSlot marks r's request as a change about to be applied
// (slotConn.markChange). It reports false when it must not be: the server
// is closing its connections; true for a request on no slot (a handler
// called without Serve).
func changeSlot(r *http.Request) bool {
	c, ok := r.Context().Value(slotKey{}).(*slotConn)
	return !ok || c.markChange()
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
