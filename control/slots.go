// slots.go holds the slotListener, the connection cap in front of the
// control API and the metrics endpoint: its lobby, which reads each
// connection's request head before the server sees it, the choice of the
// connection that gives its place up to a newcomer, and the 503s it
// answers itself. A connection's side, and what handlers do with its
// place, is slotconn.go's.

package control

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"time"
)

// slotListener is a server's budget of connections: at most max held at
// once, and one more accepted to wait for a place. It takes connections
// from the kernel itself, as they come, into a lobby, where it reads each
// one's request head (up to the empty line); a connection whose head is
// complete is handed to the server, which answers it at once (a request
// that fails the checks is refused and closed) or lets it claim its place
// (a valid token): claimed places are kept until their connection closes.
// So the connections that stay are those whose head has not come, and when
// no place is free for a newcomer they give way, each turned away with a
// 503 "busy" that says its request was not read (a client may send it
// again):
//
//   - a lobby connection that has sent nothing for firstByte since it
//     connected, the oldest first; then one that sent part of a head and
//     has nothing more waiting in the kernel;
//   - a newcomer that has sent nothing for firstByte since it connected,
//     at once: on Linux, the age of a TCP connection counts from its
//     handshake (connAge), so connections that sent nothing while they
//     waited in the kernel's queue go as fast as they can be accepted;
//   - a connection handed to the server that has not claimed its place
//     within grace (a backstop: the server answers a complete head at
//     once).
//
// Before all of them goes a connection the server has answered for the
// last time while it lingers before closing (CloseWrite): it has nothing
// more to say or hear.
//
// A connection whose bytes wait in its socket (pendingInput), or that
// connected less than firstByte ago, is never the one to go: a client that
// sends its request as it connects is served however many silent
// connections came before it, and clients that connect at the same moment
// wait for each other's places, as before. A lobby connection whose head
// has not come within headerTimeout is closed.
//
// Accept is for one goroutine (http.Server's); claim and Close are safe
// for concurrent use.
type slotListener struct {
	net.Listener
	max           int
	firstByte     time.Duration
	grace         time.Duration
	headerTimeout time.Duration
	headLimit     int                   // bytes of a head the lobby reads; a longer one goes to the server, which refuses it
	evicted       func(remote net.Addr) // called for each connection closed to make room; may be nil
	busy          []byte                // the 503 a connection turned away is sent (busyAnswer)
	stopping      []byte                // the 503 a connection never dispatched is sent at Close (stoppingAnswer)
	// pending reports whether c has bytes waiting in the kernel, unread
	// (pendingInput); age, how long ago c connected (connAge). A test may
	// fake them.
	pending func(c net.Conn) bool
	age     func(c net.Conn) time.Duration
	// reading, when not nil, is called as a lobby reader starts: a test
	// holds a reader there, as a loaded scheduler may before it runs it.
	reading func(c net.Conn)

	mu    sync.Mutex
	lobby []*slotConn   // accepted, head incomplete; oldest first
	held  []*slotConn   // handed to the server, in the order they were
	aside []*slotConn   // handed to the server and set aside (setAside): they take no place of max
	ready chan net.Conn // handed over, for Accept
	errs  chan error    // the kernel listener's errors, for Accept
	wake  chan struct{} // 1-buffered: a place was freed, or a connection may now give its place up
	done  chan struct{} // closed by Close
	once  sync.Once
	wg    sync.WaitGroup // the accept loop and the lobby's readers
	shut  bool           // Close has closed the lobby; under mu

	// Changes in flight (markChange): connections whose request the server
	// applies, or has applied and not yet answered; under mu. Once cut,
	// no change starts, and settled is closed when none is in flight.
	changes int
	cut     bool
	settled chan struct{}
}

// slotLimits configures a slotListener.
type slotLimits struct {
	max           int
	firstByte     time.Duration
	grace         time.Duration
	headerTimeout time.Duration
	maxHeader     int
	service       string // what a connection turned away is told is busy; "" for the control API
}

func newSlotListener(l net.Listener, lim slotLimits, evicted func(net.Addr)) *slotListener {
	sl := makeSlotListener(l, lim, evicted)
	sl.start()
	return sl
}

// makeSlotListener makes a slotListener that start starts.
func makeSlotListener(l net.Listener, lim slotLimits, evicted func(net.Addr)) *slotListener {
	sl := &slotListener{Listener: l, max: lim.max, firstByte: lim.firstByte, grace: lim.grace, headerTimeout: lim.headerTimeout,
		headLimit: lim.maxHeader + 4096, // http.Server reads as much before it refuses
		evicted:   evicted, busy: busyAnswer(cmp.Or(lim.service, "the control API")), stopping: stoppingAnswer(cmp.Or(lim.service, "the control API"), lim.service == ""),
		pending: pendingInput, age: connAge,
		ready: make(chan net.Conn, lim.max), errs: make(chan error),
		wake: make(chan struct{}, 1), done: make(chan struct{}), settled: make(chan struct{})}
	return sl
}

// start starts taking connections from the kernel.
func (l *slotListener) start() {
	l.wg.Add(1)
	go l.acceptLoop()
}

// Accept returns the next connection whose request head is complete.
func (l *slotListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ready:
		return c, nil
	case err := <-l.errs:
		return nil, err
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// acceptLoop takes connections from the kernel whenever one may get a
// place: one is free, or held by a connection that may have to give it
// up.
func (l *slotListener) acceptLoop() {
	defer l.wg.Done()
	for {
		for {
			l.mu.Lock()
			room := len(l.lobby)+len(l.held) < l.max || len(l.lobby) > 0 || slices.ContainsFunc(l.held, yieldable)
			l.mu.Unlock()
			if room {
				break
			}
			select {
			case <-l.wake:
			case <-l.done:
				return
			}
		}
		nc, err := l.Listener.Accept()
		if err != nil {
			select {
			case <-l.done:
				return
			default:
			}
			// http.Server's Serve waits and asks again (a temporary
			// error: out of descriptors), or returns it.
			select {
			case l.errs <- err:
			case <-l.done:
				return
			}
			continue
		}
		l.place(nc)
	}
}

// place puts a newly accepted connection in the lobby, making room if it
// must (see slotListener), or turns it away.
func (l *slotListener) place(nc net.Conn) {
	c := &slotConn{Conn: nc, l: l, born: time.Now().Add(-l.age(nc))}
	for {
		l.mu.Lock()
		if l.shut { // accepted as Close ran: no one would answer it
			l.mu.Unlock()
			l.refuseStopping(nc)
			return
		}
		if len(l.lobby)+len(l.held) < l.max {
			// Set before the lobby holds it, so that Close's deadline,
			// set later, is the one that holds however late its reader
			// starts.
			nc.SetReadDeadline(time.Now().Add(l.headerTimeout))
			l.lobby = append(l.lobby, c)
			l.wg.Add(1)
			go l.read(c)
			l.mu.Unlock()
			return
		}
		now := time.Now()
		silent := !l.pending(nc)
		if silent && now.Sub(c.born) >= l.firstByte {
			l.mu.Unlock()
			l.turnAway(nc)
			return
		}
		victim, next := l.victimLocked(now)
		if victim != nil {
			l.removeLocked(victim)
			done := victim.done
			l.mu.Unlock()
			if done {
				victim.Conn.Close() // answered: only its linger ends
			} else if victim.handed {
				if l.evicted != nil {
					l.evicted(victim.RemoteAddr())
				}
				victim.Conn.Close() // its server goroutine's read fails: it ends
			} else {
				l.turnAway(victim.Conn)
			}
			continue
		}
		l.mu.Unlock()
		if silent && (next.IsZero() || c.born.Add(l.firstByte).Before(next)) {
			next = c.born.Add(l.firstByte) // then it goes, unless it has sent something
		}
		var expired <-chan time.Time
		var timer *time.Timer
		if !next.IsZero() {
			timer = time.NewTimer(next.Sub(now))
			expired = timer.C
		}
		closed := false
		select {
		case <-l.wake:
		case <-expired:
		case <-l.done:
			closed = true
		}
		if timer != nil {
			timer.Stop()
		}
		if closed {
			l.refuseStopping(nc)
			return
		}
	}
}

// victimLocked picks the connection that gives its place up to a newcomer
// (see slotListener), or says when the next may: the oldest connection
// answered for the last time, else the oldest lobby connection that has
// sent nothing for firstByte since it connected, else the oldest that
// sent part of a head and has nothing more waiting, else the oldest
// connection handed to the server that has not claimed its place within
// grace. Call it with l.mu held and no place free.
func (l *slotListener) victimLocked(now time.Time) (victim *slotConn, next time.Time) {
	later := func(t time.Time) {
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	for _, c := range l.held {
		if c.done {
			return c, time.Time{}
		}
	}
	var partial *slotConn
	for _, c := range l.lobby {
		switch {
		case l.pending(c.Conn): // bytes to read: it is about to be handed over
		case c.got > 0:
			if partial == nil {
				partial = c
			}
		case now.Sub(c.born) >= l.firstByte:
			return c, time.Time{}
		default:
			later(c.born.Add(l.firstByte))
		}
	}
	if partial != nil {
		return partial, time.Time{}
	}
	for _, c := range l.held {
		if c.claimed {
			continue
		}
		if now.Sub(c.since) >= l.grace {
			return c, time.Time{}
		}
		later(c.since.Add(l.grace))
	}
	return nil, next
}

// busyAnswer is what a connection turned away to make room is told, by
// service ("the control API", "the metrics endpoint"): the hub never read
// its request, so a client may send it again.
func busyAnswer(service string) []byte {
	body := `{"error": "` + service + ` is busy: too many connections that have sent no request; the request was not read (send it again)", "code": "` + CodeBusy + `"}` + "\n"
	return fmt.Appendf(nil, "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(body), body)
}

// stoppingAnswer is what a connection is told whose request the server
// never saw when the listener closes (the hub is stopping): for a service
// that changes things, that it was not applied, so that a client need
// not wonder whether it was.
func stoppingAnswer(service string, changes bool) []byte {
	applied := ""
	if changes {
		applied = "; nothing was applied"
	}
	body := `{"error": "hub stopping: ` + service + ` stopped before it read the request` + applied + `", "code": "` + CodeStopped + `"}` + "\n"
	return fmt.Appendf(nil, "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(body), body)
}

// stopLinger bounds how long a connection answered stopping is read
// (refuseStopping) before it is closed: as long as net/http lingers
// after an answer it sent without reading the request whole.
const stopLinger = 500 * time.Millisecond

// refuseStopping answers c stopping (stoppingAnswer), ends its output and
// reads what the client still sends until it closes, for at most
// stopLinger, before it closes c: a socket closed with bytes unread
// resets the connection, and a TCP reset can destroy the answer before
// the client reads it.
func (l *slotListener) refuseStopping(c net.Conn) {
	c.SetWriteDeadline(time.Now().Add(time.Second)) // a socket that has written nothing has room for it
	if _, err := c.Write(l.stopping); err == nil {
		if cw, ok := c.(interface{ CloseWrite() error }); ok {
			cw.CloseWrite()
		}
		c.SetReadDeadline(time.Now().Add(stopLinger))
		io.Copy(io.Discard, c)
	}
	c.Close()
}

// turnAway answers c busy, as far as its socket takes it without waiting,
// and closes it (once evicted has counted it, so that a client who sees the
// end of the answer sees it counted).
func (l *slotListener) turnAway(c net.Conn) {
	c.SetWriteDeadline(time.Now().Add(time.Second)) // a socket that has written nothing has room for it: the bound is never reached
	c.Write(l.busy)
	if l.evicted != nil {
		l.evicted(c.RemoteAddr())
	}
	c.Close()
}

// read reads c's request head in the lobby, by the deadline place set,
// and hands c to the server once it is complete, or closes c when it
// fails to come.
func (l *slotListener) read(c *slotConn) {
	defer l.wg.Done()
	if l.reading != nil {
		l.reading(c.Conn)
	}
	buf := make([]byte, 0, 1024)
	for {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, cap(buf))
		}
		n, err := c.Conn.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if headComplete(buf) || len(buf) >= l.headLimit {
			l.promote(c, buf)
			return
		}
		if n > 0 {
			l.mu.Lock()
			c.got = len(buf)
			l.mu.Unlock()
			l.signal() // part of a head: c may give its place up
		}
		if err != nil {
			l.mu.Lock()
			shut := l.shut
			l.leaveLocked(c)
			l.mu.Unlock()
			if !shut { // else Close answers it
				c.Conn.Close()
			}
			return
		}
	}
}

// headComplete reports whether head holds a whole request head as
// net/http reads one: a request line and header lines up to an empty line
// (lines end in "\n" or "\r\n"). An empty first line is complete too: it
// is refused as it is read.
func headComplete(head []byte) bool {
	return bytes.HasPrefix(head, []byte("\n")) || bytes.HasPrefix(head, []byte("\r\n")) ||
		bytes.Contains(head, []byte("\n\n")) || bytes.Contains(head, []byte("\n\r\n"))
}

// promote hands c, whose head is read, to the server.
func (l *slotListener) promote(c *slotConn, head []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	i := slices.Index(l.lobby, c)
	if i < 0 {
		return // turned away meanwhile (c is closed), or the listener closed (Close answers c)
	}
	l.lobby = slices.Delete(l.lobby, i, i+1)
	c.Conn.SetReadDeadline(time.Time{}) // the server sets its own
	c.head = head
	c.handed = true
	c.since = time.Now()
	l.held = append(l.held, c)
	l.ready <- c // never blocks: it holds at most max, and so many are held
	l.signal()   // its grace starts
}

// signal wakes a newcomer waiting for a place, to look again.
func (l *slotListener) signal() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// leaveLocked takes c out of the lobby and the held, and says a place is
// free if it had one. Call it with l.mu held.
func (l *slotListener) leaveLocked(c *slotConn) {
	if l.removeLocked(c) {
		l.signal()
	}
}

// removeLocked takes c out of the lobby and the held, and reports whether
// it was in either. Call it with l.mu held.
func (l *slotListener) removeLocked(c *slotConn) bool {
	n := len(l.lobby) + len(l.held)
	l.lobby = slices.DeleteFunc(l.lobby, func(o *slotConn) bool { return o == c })
	l.held = slices.DeleteFunc(l.held, func(o *slotConn) bool { return o == c })
	l.aside = slices.DeleteFunc(l.aside, func(o *slotConn) bool { return o == c })
	return len(l.lobby)+len(l.held) < n
}

// yieldable reports whether a connection handed to the server may have
// to give its place up. Call it with l.mu held.
func yieldable(c *slotConn) bool { return !c.claimed || c.done }

// Close closes the listener and ends an Accept. The connections whose
// request the server never took (in the lobby, or handed over and not
// accepted) are answered 503 CodeStopped and closed (refuseStopping)
// before it returns. The connections Accept returned are the server's to
// close.
func (l *slotListener) Close() error {
	closed := false
	l.once.Do(func() { close(l.done); closed = true })
	err := l.Listener.Close()
	if !closed {
		return err
	}
	l.mu.Lock()
	lobby := l.lobby
	l.lobby = nil
	l.shut = true
	l.mu.Unlock()
	for _, c := range lobby {
		c.Conn.SetReadDeadline(time.Now()) // its reader ends, and leaves it to be answered here
	}
	l.wg.Wait()
	// The server never saw these requests: each is told so, at once.
	var unread []net.Conn
	for _, c := range lobby {
		unread = append(unread, c.Conn)
	}
	for more := true; more; {
		select {
		case c := <-l.ready: // handed over, never accepted
			l.mu.Lock()
			l.removeLocked(c.(*slotConn))
			l.mu.Unlock()
			unread = append(unread, c.(*slotConn).Conn)
		default:
			more = false
		}
	}
	var answering sync.WaitGroup
	for _, c := range unread {
		answering.Go(func() { l.refuseStopping(c) })
	}
	answering.Wait()
	return err
}
