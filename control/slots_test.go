package control

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// hangGuardSlots bounds a wait that must end; it decides no pass.
const hangGuardSlots = 2 * time.Minute

// gatedListener takes a connection from the kernel only when the test
// lets it (gate), so that what a client sent before is in its socket.
type gatedListener struct {
	net.Listener
	gate   chan struct{}
	closed chan struct{}
	once   sync.Once
}

func (l *gatedListener) Accept() (net.Conn, error) {
	select {
	case <-l.gate:
		return l.Listener.Accept()
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *gatedListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return l.Listener.Close()
}

// slotTest is a slotListener on a unix socket, counting the connections
// it turned away or closed to make room.
type slotTest struct {
	t  *testing.T
	in *gatedListener
	l  *slotListener

	mu      sync.Mutex
	evicted int
}

// newSlotTest starts a slotListener; every connection is age old when it
// is accepted (as connAge would say, had it waited that long in the
// kernel's queue).
func newSlotTest(t *testing.T, max int, firstByte, grace, age time.Duration) *slotTest {
	t.Helper()
	inner, err := net.Listen("unix", t.TempDir()+"/s.sock")
	if err != nil {
		t.Fatal(err)
	}
	st := &slotTest{t: t, in: &gatedListener{Listener: inner, gate: make(chan struct{}), closed: make(chan struct{})}}
	st.l = makeSlotListener(st.in, slotLimits{max: max, firstByte: firstByte, grace: grace, headerTimeout: time.Hour, maxHeader: maxHeaderBytes}, func(net.Addr) {
		st.mu.Lock()
		st.evicted++
		st.mu.Unlock()
	})
	st.l.age = func(net.Conn) time.Duration { return age }
	st.l.start()
	t.Cleanup(func() { st.l.Close() })
	return st
}

// arrive connects a client, sends it send (queued in the server's socket
// before the call returns: a unix socket), then lets the listener take it
// from the kernel; it returns once the listener has asked for it.
func (st *slotTest) arrive(send string) net.Conn {
	st.t.Helper()
	c := st.dial(send)
	select {
	case st.in.gate <- struct{}{}:
	case <-time.After(hangGuardSlots):
		st.t.Fatal("the listener took no connection from the kernel")
	}
	return c
}

// dial connects a client and sends it send, leaving it in the kernel's
// queue.
func (st *slotTest) dial(send string) net.Conn {
	st.t.Helper()
	c, err := net.Dial("unix", st.in.Addr().String())
	if err != nil {
		st.t.Fatal(err)
	}
	st.t.Cleanup(func() { c.Close() })
	if _, err := io.WriteString(c, send); err != nil {
		st.t.Fatal(err)
	}
	return c
}

// accept returns the next connection handed to the server.
func (st *slotTest) accept() *slotConn {
	st.t.Helper()
	got := make(chan net.Conn, 1)
	go func() {
		c, err := st.l.Accept()
		if err != nil {
			st.t.Errorf("Accept: %v", err)
		}
		got <- c
	}()
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

// until waits for cond, checked with the listener's lock held.
func (st *slotTest) until(what string, cond func() bool) {
	st.t.Helper()
	for deadline := time.Now().Add(hangGuardSlots); ; time.Sleep(time.Millisecond) {
		st.l.mu.Lock()
		ok := cond()
		st.l.mu.Unlock()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			st.t.Fatalf("never: %s", what)
		}
	}
}

func (st *slotTest) evictions() int {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.evicted
}

// answer reads what the listener said to client c before closing it.
func answer(t *testing.T, c net.Conn) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(hangGuardSlots))
	b, err := io.ReadAll(c)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatal("the connection was kept open")
	}
	first, _, _ := strings.Cut(string(b), "\r\n")
	return first
}

const head = "GET /v1/ports HTTP/1.1\r\nHost: l2hub\r\n\r\n"

// headRead reads c's request head as the server would.
func headRead(t *testing.T, c net.Conn) {
	t.Helper()
	got := make([]byte, len(head))
	if _, err := io.ReadFull(c, got); err != nil || string(got) != head {
		t.Fatalf("the connection handed over reads %q, %v; want the request %q", got, err, head)
	}
}

// inLobby counts the lobby's connections that have sent part of a head
// and those that have sent nothing.
func (st *slotTest) inLobby() (partial, silent int) {
	st.l.mu.Lock()
	defer st.l.mu.Unlock()
	for _, c := range st.l.lobby {
		if c.got > 0 {
			partial++
		} else {
			silent++
		}
	}
	return partial, silent
}

func TestSlots(t *testing.T) {
	const old, long = 2 * time.Hour, time.Hour
	t.Run("silent-connections-make-way", func(t *testing.T) {
		// However long the grace, a hundred connections that sent nothing
		// while they waited to be accepted do not keep out a request
		// that comes after them.
		const silent = 100
		st := newSlotTest(t, 2, long, long, old)
		var quiet []net.Conn
		for range silent {
			quiet = append(quiet, st.arrive(""))
		}
		st.arrive(head)
		headRead(t, st.accept())
		// All but one of the silent ones were turned away, each told why:
		// the first two had places, and the first gave its up to the
		// request; the others went as they came.
		if n := st.evictions(); n != silent-1 {
			t.Fatalf("got %d connections turned away, want %d", n, silent-1) // the answers below would not come
		}
		for _, i := range []int{0, 2, silent - 1} {
			if got := answer(t, quiet[i]); !strings.Contains(got, "503") {
				t.Errorf("silent connection %d, turned away, was answered %q, want 503", i, got)
			}
		}
		if partial, silent := st.inLobby(); partial != 0 || silent != 1 {
			t.Errorf("lobby holds %d with part of a head and %d silent, want the last silent one", partial, silent)
		}
	})
	t.Run("who-makes-way", func(t *testing.T) {
		// A silent connection goes before one that sent part of a head,
		// though it came later; a newcomer that sent nothing goes at
		// once.
		const partial = "GET /v1/ports HTTP/1.1\r\n" // never finished
		st := newSlotTest(t, 2, long, long, old)
		b := st.arrive(partial)
		st.until("b's bytes read", func() bool { return len(st.l.lobby) == 1 && st.l.lobby[0].got > 0 })
		a := st.arrive("")
		st.arrive(head)
		st.accept()
		if n := st.evictions(); n != 1 {
			t.Fatalf("got %d connections turned away to let the request in, want a alone", n)
		}
		if got := answer(t, a); !strings.Contains(got, "503") {
			t.Errorf("a, silent, was answered %q, want 503", got)
		}
		if partial, silent := st.inLobby(); partial != 1 || silent != 0 {
			t.Errorf("lobby holds %d with part of a head and %d silent, want b alone", partial, silent)
		}
		st.arrive(head)
		st.accept()
		if got := answer(t, b); !strings.Contains(got, "503") {
			t.Errorf("b, with part of a head, was answered %q, want 503", got)
		}
		c := st.arrive("") // both places are held by requests
		if got := answer(t, c); !strings.Contains(got, "503") {
			t.Errorf("the silent newcomer was answered %q, want 503", got)
		}
		if n := st.evictions(); n != 3 {
			t.Errorf("got %d turned away, want 3", n)
		}
	})
	t.Run("new-connections-keep-their-place", func(t *testing.T) {
		// Within firstByte of connecting, a silent connection keeps its
		// place: a newcomer, even with a request, waits for a free one.
		st := newSlotTest(t, 2, long, long, 0)
		a := st.arrive("")
		b := st.arrive("")
		st.arrive(head)
		a.Close() // frees its place
		headRead(t, st.accept())
		if n := st.evictions(); n != 0 {
			t.Errorf("got %d turned away, want none", n)
		}
		b.SetReadDeadline(time.Now()) // b is still open: its read waits
		if _, err := b.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("b's read = %v, want it to wait: b keeps its place", err)
		}
	})
	t.Run("claimed-places-are-kept", func(t *testing.T) {
		st := newSlotTest(t, 1, long, 0, old)
		st.arrive(head)
		first := st.accept()
		if !first.claim() {
			t.Fatal("claim of a held place failed")
		}
		// Both wait in the kernel's queue: every place is claimed.
		st.dial("")
		st.dial(head)
		go func() {
			for range 2 {
				select {
				case st.in.gate <- struct{}{}:
				case <-st.in.closed:
					return
				}
			}
		}()
		first.Close() // as the server does once it has answered
		// The silent one gets the place, and gives it up to the request.
		second := st.accept()
		headRead(t, second)
		if n := st.evictions(); n != 1 {
			t.Errorf("got %d turned away, want the silent one alone", n)
		}
		if !second.claim() {
			t.Error("the request could not claim its place")
		}
	})
	t.Run("unclaimed-gives-its-place-up-after-grace", func(t *testing.T) {
		st := newSlotTest(t, 1, long, 0, old)
		st.arrive(head)
		first := st.accept() // handed over, never claimed
		st.arrive(head)
		second := st.accept()
		if first.claim() {
			t.Error("the connection that gave its place up could claim it")
		}
		if !second.claim() {
			t.Error("the newcomer could not claim its place")
		}
		if n := st.evictions(); n != 1 {
			t.Errorf("closed %d to make room, want the unclaimed one", n)
		}
	})
	t.Run("close-answers-the-unread-stopping", func(t *testing.T) {
		// At Close, a connection whose request the server never took
		// (in the lobby, silent or with part of a head; handed over
		// but never accepted) is told the hub is stopping and nothing
		// was applied, not cut with an EOF or a reset.
		st := newSlotTest(t, 3, long, long, 0)
		silent := st.arrive("")
		partial := st.arrive("PUT /v1/policy HTTP/1.1\r\n")
		complete := st.arrive("PUT /v1/policy HTTP/1.1\r\nHost: l2hub\r\nContent-Length: 5\r\n\r\nrules")
		st.until("two in the lobby, one handed over", func() bool {
			return len(st.l.lobby) == 2 && len(st.l.held) == 1 && st.l.lobby[1].got > 0
		})
		answers := make(chan string, 3)
		for _, c := range []net.Conn{silent, partial, complete} {
			go func() { answers <- stoppingRead(t, c) }()
		}
		st.l.Close()
		if _, err := st.l.Accept(); !errors.Is(err, net.ErrClosed) {
			t.Errorf("Accept after Close = %v, want net.ErrClosed", err)
		}
		for range 3 {
			if got := <-answers; got != "" {
				t.Error(got)
			}
		}
	})
	t.Run("answered-connections-make-way", func(t *testing.T) {
		// A connection that http.Server answered for the last time
		// (CloseWrite), and lingers before closing, gives its place up
		// at once, however long the grace; it is not counted as turned
		// away, and its client reads the end of its stream.
		st := newSlotTest(t, 1, long, long, 0)
		refused := st.arrive(head)
		first := st.accept()
		headRead(t, first)
		if err := first.CloseWrite(); err != nil {
			t.Fatalf("CloseWrite: %v", err)
		}
		st.arrive(head)
		headRead(t, st.accept())
		if got := answer(t, refused); got != "" {
			t.Errorf("the answered connection was told %q, want nothing more", got)
		}
		if n := st.evictions(); n != 0 {
			t.Errorf("counted %d turned away, want none", n)
		}
	})
	t.Run("close-races-an-accept", func(t *testing.T) {
		// A connection the kernel hands over as Close runs, once Close
		// has taken the lobby to answer it, is answered too, and Close
		// does not wait for its header timeout (an hour here).
		inner, err := net.Listen("unix", t.TempDir()+"/s.sock")
		if err != nil {
			t.Fatal(err)
		}
		late := &lateListener{Listener: inner, closing: make(chan struct{}), took: make(chan struct{})}
		l := makeSlotListener(late, slotLimits{max: 2, firstByte: long, grace: long, headerTimeout: time.Hour, maxHeader: maxHeaderBytes}, nil)
		late.sl = l
		l.start()
		dial := func() net.Conn {
			c, err := net.Dial("unix", inner.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			return c
		}
		first := dial()
		waitLobby(t, l, 1, "one in the lobby")
		second := dial() // accepted by the kernel listener, held until Close has taken the lobby
		<-late.took      // not in the kernel's queue, which closing the listener resets
		answers := make(chan string, 2)
		for _, c := range []net.Conn{first, second} {
			go func() { answers <- stoppingRead(t, c) }()
		}
		closed := make(chan struct{})
		go func() { l.Close(); close(closed) }()
		select {
		case <-closed:
		case <-time.After(hangGuardSlots):
			t.Fatal("Close waited for the header timeout of a connection accepted as it ran")
		}
		for range 2 {
			if got := <-answers; got != "" {
				t.Error(got)
			}
		}
	})
	t.Run("close-outruns-a-late-reader", func(t *testing.T) {
		// A lobby connection whose reader starts only once Close has
		// set the deadline that ends it (a loaded scheduler) is answered
		// at once, not after its header timeout (an hour here): the
		// reader sets no deadline of its own over Close's.
		inner, err := net.Listen("unix", t.TempDir()+"/s.sock")
		if err != nil {
			t.Fatal(err)
		}
		l := makeSlotListener(&stopSeenListener{inner}, slotLimits{max: 2, firstByte: long, grace: long, headerTimeout: time.Hour, maxHeader: maxHeaderBytes}, nil)
		l.age = func(net.Conn) time.Duration { return 0 }
		l.reading = func(c net.Conn) {
			select {
			case <-c.(*stopSeenConn).stopped:
			case <-time.After(hangGuardSlots):
				t.Error("Close set no deadline to end the lobby's reader")
			}
		}
		l.start()
		c, err := net.Dial("unix", inner.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		waitLobby(t, l, 1, "the connection in the lobby")
		answer := make(chan string, 1)
		go func() { answer <- stoppingRead(t, c) }()
		closed := make(chan struct{})
		go func() { l.Close(); close(closed) }()
		select {
		case <-closed:
		case <-time.After(hangGuardSlots):
			t.Fatal("Close waited for the header timeout of a lobby connection whose reader started late")
		}
		if got := <-answer; got != "" {
			t.Error(got)
		}
	})
	t.Run("changes-in-flight-are-answered-before-the-cut", func(t *testing.T) {
		st := newSlotTest(t, 2, long, long, 0)
		st.arrive(head)
		applied := st.accept()
		if !applied.markChange() {
			t.Fatal("a change before the cut was refused")
		}
		st.arrive(head)
		late := st.accept()
		settled := st.l.cutOff()
		if late.markChange() {
			t.Error("a change after the cut was let through")
		}
		select {
		case <-settled:
			t.Fatal("the cut settled with a change in flight, not yet answered")
		default:
		}
		applied.Close() // as http.Server does once it has answered
		select {
		case <-settled:
			t.Fatal("the cut settled before the change it refused was answered")
		default:
		}
		late.Close() // answered 503 stopped
		<-settled
		st.arrive(head)
		if st.accept().markChange() {
			t.Error("a change after the cut settled was let through")
		}
	})
	t.Run("stopping-answer-says-what-was-not-applied", func(t *testing.T) {
		// The control API tells a client its change was not applied;
		// the metrics endpoint, which changes nothing, does not.
		for _, tc := range []struct {
			service string
			applied bool
		}{{"", true}, {"the metrics endpoint", false}} {
			l := makeSlotListener(nil, slotLimits{max: 1, service: tc.service}, nil)
			if got := strings.Contains(string(l.stopping), "nothing was applied"); got != tc.applied {
				t.Errorf("service %q: got %q, want \"nothing was applied\" in it: %v", tc.service, l.stopping, tc.applied)
			}
		}
	})
}

// stoppingRead reads what the listener said to client c as it closed,
// and says what is wrong with it, "" when it is the stopping answer (503,
// CodeStopped) followed by the end of the stream.
func stoppingRead(t *testing.T, c net.Conn) string {
	c.SetReadDeadline(time.Now().Add(hangGuardSlots))
	b, err := io.ReadAll(c)
	if err != nil {
		return fmt.Sprintf("reading the answer: %v (after %q)", err, b)
	}
	if !strings.HasPrefix(string(b), "HTTP/1.1 503 ") || !strings.Contains(string(b), `"code": "stopped"`) || !strings.Contains(string(b), "nothing was applied") {
		return fmt.Sprintf("a connection at Close was answered %q, want a 503 saying the hub stops and nothing was applied", b)
	}
	c.Close() // as a client does once answered: the listener's linger ends
	return ""
}

// lateListener hands its second connection to the slotListener sl only
// once sl's Close has closed it and taken sl's lobby: a connection the
// kernel accepted as Close ran.
type lateListener struct {
	net.Listener
	sl      *slotListener
	closing chan struct{}
	took    chan struct{} // closed once it has taken the second from the kernel
	once    sync.Once
	n       int
}

func (l *lateListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	if l.n++; l.n == 1 {
		return c, nil
	}
	close(l.took)
	<-l.closing
	for deadline := time.Now().Add(hangGuardSlots); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		l.sl.mu.Lock()
		taken := l.sl.lobby == nil
		l.sl.mu.Unlock()
		if taken {
			break
		}
	}
	return c, nil
}

func (l *lateListener) Close() error {
	l.once.Do(func() { close(l.closing) })
	return l.Listener.Close()
}

// TestConnAge: a TCP connection that sent nothing is as old as its
// handshake, the time it waited to be accepted included.
func TestConnAge(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	client, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	const queued = 50 * time.Millisecond
	time.Sleep(queued)
	server, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	age := connAge(server)
	if age == 0 {
		t.Skip("skipping: this system does not say how old a connection is (TCP_INFO)")
	}
	if age < queued-10*time.Millisecond { // the kernel counts in ticks
		t.Errorf("got connAge = %v after %v in the queue, want at least that", age, queued)
	}
}

func TestHeadComplete(t *testing.T) {
	for _, tt := range []struct {
		head string
		want bool
	}{
		{"", false},
		{"GET / HTTP/1.1\r\n", false},
		{"GET / HTTP/1.1\r\nHost: l2hub\r\n", false},
		{"GET / HTTP/1.1\r\nHost: l2hub\r\n\r", false},
		{"GET / HTTP/1.1\r\nHost: l2hub\r\n\r\n", true},
		{"GET / HTTP/1.1\nHost: l2hub\n\n", true},
		{"GET / HTTP/1.1\r\n\r\n", true},
		{"\r\n", true}, // an empty request line: refused as soon as read
		{"\n", true},
		{"PUT /v1/policy HTTP/1.1\r\nContent-Length: 5\r\n\r\nseed:", true},
	} {
		if got := headComplete([]byte(tt.head)); got != tt.want {
			t.Errorf("got headComplete(%q) = %v, want %v", tt.head, got, tt.want)
		}
	}
}

// TestPendingInput: bytes a client sent that no one has read are seen,
// and left to read.
func TestPendingInput(t *testing.T) {
	l, err := net.Listen("unix", t.TempDir()+"/p.sock")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	client, err := net.Dial("unix", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	if pendingInput(server) {
		t.Error("got pendingInput = true before the client sent anything")
	}
	io.WriteString(client, "x") // a unix socket queues it before Write returns
	if !pendingInput(server) {
		t.Error("got pendingInput = false with a byte waiting")
	}
	var b [1]byte
	if _, err := server.Read(b[:]); err != nil || b[0] != 'x' {
		t.Fatalf("read after the peek: %q, %v; want the byte", b, err)
	}
	if pendingInput(server) {
		t.Error("got pendingInput = true once the byte was read")
	}
	client.Close()
	if pendingInput(server) {
		t.Error("got pendingInput = true at the end of the stream")
	}
}

// stopSeenListener hands out its connections as stopSeenConns.
type stopSeenListener struct{ net.Listener }

func (l *stopSeenListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &stopSeenConn{UnixConn: c.(*net.UnixConn), stopped: make(chan struct{})}, nil
}

// stopSeenConn is a unix connection that says when a read deadline
// already past was set on it (slotListener.Close's).
type stopSeenConn struct {
	*net.UnixConn
	stopped chan struct{}
	once    sync.Once
}

func (c *stopSeenConn) SetReadDeadline(t time.Time) error {
	err := c.UnixConn.SetReadDeadline(t)
	if !t.IsZero() && !t.After(time.Now()) {
		c.once.Do(func() { close(c.stopped) })
	}
	return err
}

// waitLobby waits until l's lobby holds n connections, failing the test
// after hangGuardSlots with what it waited for.
func waitLobby(t *testing.T, l *slotListener, n int, what string) {
	t.Helper()
	for deadline := time.Now().Add(hangGuardSlots); ; time.Sleep(time.Millisecond) {
		l.mu.Lock()
		got := len(l.lobby)
		l.mu.Unlock()
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("never: " + what)
		}
	}
}
