package transporttest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"l2hub/hub"
	"l2hub/transport"
)

const portName = "p"

// TestStreamRunner runs the connection-lifecycle suite against a stream
// transport's Runner (transport.TCP, transport.Unix, transport.TCPDial or transport.UnixDial) over
// loopback: attach, the VM coming back after a disconnect (the listener
// accepts it again, the dialer redials), a second VM refused while the port
// is busy, and shutdown when the context ends.
func TestStreamRunner(t *testing.T, tr transport.Transport) {
	switch tr {
	case transport.TCP, transport.Unix:
		t.Run("reattach-after-disconnect", func(t *testing.T) { testListenReattach(t, tr) })
		t.Run("busy-refused", func(t *testing.T) { testListenBusy(t, tr) })
		t.Run("cancel", func(t *testing.T) { testListenCancel(t, tr) })
	case transport.TCPDial, transport.UnixDial:
		t.Run("dial-until-listening", func(t *testing.T) { testDialUntilListening(t, tr) })
		t.Run("redial-after-drop", func(t *testing.T) { testRedial(t, tr) })
		t.Run("busy-redials", func(t *testing.T) { testDialBusy(t, tr) })
		t.Run("cancel", func(t *testing.T) { testDialCancel(t, tr) })
	default:
		t.Fatalf("TestStreamRunner(%s): not a stream transport", tr)
	}
}

// LogBuffer is a goroutine-safe log sink for checking what a runner logged.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *LogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Logger returns a logger writing text records to b.
func (b *LogBuffer) Logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// runner is a Runner started for a test, stopped by the test's cleanup.
type runner struct {
	transport.Runner
	att    *Attacher
	log    *LogBuffer
	cancel context.CancelFunc
	errc   chan error
	once   sync.Once
}

func startRunner(t *testing.T, spec transport.Spec) *runner {
	t.Helper()
	log := &LogBuffer{}
	r, err := spec.Open(transport.Options{Logger: log.Logger(), MinBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})
	if err != nil {
		t.Fatalf("Open(%s): %v", spec, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	rr := &runner{Runner: r, att: NewAttacher(spec.Name), log: log, cancel: cancel, errc: make(chan error, 1)}
	go func() { rr.errc <- r.Run(ctx, rr.att) }()
	t.Cleanup(func() {
		if at := rr.att.Attached(spec.Name); at != nil {
			at.Drain()
		}
		rr.stop(t)
	})
	return rr
}

// stop cancels Run and checks that it returns nil. Safe to call twice.
func (r *runner) stop(t *testing.T) {
	t.Helper()
	r.once.Do(func() {
		r.cancel()
		select {
		case err := <-r.errc:
			if err != nil {
				t.Errorf("Run returned %v, want nil", err)
			}
		case <-time.After(HangGuard):
			t.Errorf("Run did not return within %v of cancel", HangGuard)
		}
	})
}

func network(tr transport.Transport) string {
	if tr == transport.Unix || tr == transport.UnixDial {
		return "unix"
	}
	return "tcp"
}

func listenSpec(t *testing.T, tr transport.Transport) transport.Spec {
	addr := "127.0.0.1:0"
	if tr == transport.Unix {
		addr = filepath.Join(t.TempDir(), "hub.sock")
	}
	return transport.Spec{Name: portName, Transport: tr, Address: addr}
}

// dialVM connects a VM to a listening runner.
func dialVM(t *testing.T, r *runner) *transport.StreamConn {
	t.Helper()
	s := r.Spec()
	c, err := transport.DialStream(context.Background(), network(s.Transport), s.Address, 0)
	if err != nil {
		t.Fatalf("VM dial %s: %v", s.Address, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// exchange checks that one frame crosses each way between the VM and the
// attached hub end.
func exchange(t *testing.T, vm hub.PortIO, at *Attachment, seq int) {
	t.Helper()
	buf := make([]byte, transport.DefaultMaxFrame)
	up, down := Frame(vmMAC, 60, seq), Frame(hubMAC, 60, seq)
	mustWrite(t, vm, up)
	n, err := read(t, at.IO, buf)
	expectFrame(t, "hub read", n, err, buf, up)
	mustWrite(t, at.IO, down)
	n, err = read(t, vm, buf)
	expectFrame(t, "vm read", n, err, buf, down)
}

// expectEnd reads from p until the stream ends, which it must.
func expectEnd(t *testing.T, what string, p hub.PortIO) {
	t.Helper()
	_, err := read(t, p, make([]byte, transport.DefaultMaxFrame))
	if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("%s: ReadFrame = %v, want the end of the stream", what, err)
	}
}

func testListenReattach(t *testing.T, tr transport.Transport) {
	r := startRunner(t, listenSpec(t, tr))
	for i := range 3 {
		vm := dialVM(t, r)
		at := r.att.Next(t)
		exchange(t, vm, at, i)
		vm.Close()
		expectEnd(t, "hub end after the VM left", at.IO)
		at.Detach()
	}
}

func testListenBusy(t *testing.T, tr transport.Transport) {
	r := startRunner(t, listenSpec(t, tr))
	vm1 := dialVM(t, r)
	at := r.att.Next(t)
	exchange(t, vm1, at, 1)

	vm2 := dialVM(t, r)
	expectEnd(t, "second VM while the port is busy", vm2)
	if got := r.att.Busy(portName); got != 1 {
		t.Errorf("got %d busy refusals, want 1", got)
	}
	if log := r.log.String(); !strings.Contains(log, "port already has a peer") {
		t.Errorf("log does not give the refusal's reason:\n%s", log)
	}
	exchange(t, vm1, at, 2) // the first VM is unaffected

	vm1.Close()
	expectEnd(t, "hub end after the VM left", at.IO)
	at.Detach()
	vm3 := dialVM(t, r)
	exchange(t, vm3, r.att.Next(t), 3)
}

func testListenCancel(t *testing.T, tr transport.Transport) {
	r := startRunner(t, listenSpec(t, tr))
	vm := dialVM(t, r)
	at := r.att.Next(t)
	exchange(t, vm, at, 1)
	at.Drain()
	r.stop(t)
	expectEnd(t, "VM after the runner stopped", vm)
	s := r.Spec()
	if c, err := net.Dial(network(s.Transport), s.Address); err == nil {
		c.Close()
		t.Fatalf("dial %s after the runner stopped: connected, want refused", s.Address)
	}
}

// vmListener plays a QEMU VM with server=on / listen=.
func vmListener(t *testing.T, tr transport.Transport, addr string) net.Listener {
	t.Helper()
	ln, err := net.Listen(network(tr), addr)
	if err != nil {
		t.Fatalf("VM listen: %v", err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// accept takes the hub's next connection on ln, failing if none comes.
func accept(t *testing.T, ln net.Listener) *transport.StreamConn {
	t.Helper()
	ch := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			c = nil
		}
		ch <- c
	}()
	select {
	case c := <-ch:
		if c == nil {
			t.Fatal("VM accept failed")
		}
		sc := transport.NewStreamConn(c, 0)
		t.Cleanup(func() { sc.Close() })
		return sc
	case <-time.After(HangGuard):
		t.Fatalf("the hub did not dial within %v", HangGuard)
		return nil
	}
}

// dialAddress returns an address on which nothing listens yet.
func dialAddress(t *testing.T, tr transport.Transport) string {
	if tr == transport.UnixDial {
		return filepath.Join(t.TempDir(), "vm.sock")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func testDialUntilListening(t *testing.T, tr transport.Transport) {
	addr := dialAddress(t, tr)
	r := startRunner(t, transport.Spec{Name: portName, Transport: tr, Address: addr})
	ln := vmListener(t, tr, addr) // the runner has been failing to dial
	vm := accept(t, ln)
	exchange(t, vm, r.att.Next(t), 1)
}

func testRedial(t *testing.T, tr transport.Transport) {
	addr := dialAddress(t, tr)
	ln := vmListener(t, tr, addr)
	r := startRunner(t, transport.Spec{Name: portName, Transport: tr, Address: addr})
	for i := range 3 {
		vm := accept(t, ln)
		at := r.att.Next(t)
		exchange(t, vm, at, i)
		vm.Close()
		expectEnd(t, "hub end after the VM dropped", at.IO)
		at.Detach()
	}
}

func testDialBusy(t *testing.T, tr transport.Transport) {
	addr := dialAddress(t, tr)
	ln := vmListener(t, tr, addr)
	att := NewAttacher(portName)
	holder, _ := transport.Pipe()
	if _, err := att.Attach(portName, holder); err != nil {
		t.Fatalf("Attach(holder): %v", err)
	}
	held := att.Next(t)

	log := &LogBuffer{}
	r, err := transport.Spec{Name: portName, Transport: tr, Address: addr}.Open(transport.Options{Logger: log.Logger(), MinBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- r.Run(ctx, att) }()
	defer func() {
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("Run returned %v, want nil", err)
		}
	}()

	refused := accept(t, ln)
	expectEnd(t, "connection dialed while the port is busy", refused)
	if got := att.Busy(portName); got < 1 {
		t.Errorf("got %d busy refusals, want at least 1", got)
	}
	if l := log.String(); !strings.Contains(l, "port already has a peer") {
		t.Errorf("log does not give the refusal's reason:\n%s", l)
	}

	held.Detach()
	at := att.Next(t)
	defer at.Drain()
	f := Frame(hubMAC, 60, 7)
	mustWrite(t, at.IO, f)
	buf := make([]byte, transport.DefaultMaxFrame)
	for {
		// Connections dialed before the holder let go were refused and
		// end at once; the one attached carries the frame.
		vm := accept(t, ln)
		n, err := read(t, vm, buf)
		if err != nil {
			continue
		}
		expectFrame(t, "vm read", n, err, buf, f)
		break
	}
}

func testDialCancel(t *testing.T, tr transport.Transport) {
	addr := dialAddress(t, tr)
	ln := vmListener(t, tr, addr)
	r := startRunner(t, transport.Spec{Name: portName, Transport: tr, Address: addr})
	vm := accept(t, ln)
	at := r.att.Next(t)
	exchange(t, vm, at, 1)
	at.Drain()
	r.stop(t)
	expectEnd(t, "VM after the runner stopped", vm)
}
