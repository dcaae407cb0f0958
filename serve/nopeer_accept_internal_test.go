package serve

import (
	"context"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"l2hub/hub"
	"l2hub/internal/syncbuf"
	"l2hub/transport"
)

// failingRunner is a listening port's runner whose accepts fail while
// failing is set.
type failingRunner struct {
	transport.Runner // nil: only Spec and AcceptFailing are called
	spec             transport.Spec
	failing          atomic.Pointer[transport.AcceptFailure]
}

func (r *failingRunner) Spec() transport.Spec { return r.spec }

func (r *failingRunner) AcceptFailing() (transport.AcceptFailure, bool) {
	f := r.failing.Load()
	if f == nil {
		return transport.AcceptFailure{}, false
	}
	return *f, true
}

// TestNoPeerHintWhileAcceptsFail: out of file descriptors, a listening
// port cannot accept the VM that connected (it waits in the kernel's
// backlog), so the hint about a port with no VM says that, and blames no
// QEMU, while the accepts fail; should they recover with still no VM,
// the QEMU hint comes then.
func TestNoPeerHintWhileAcceptsFail(t *testing.T) {
	spec := transport.Spec{Name: "p13", Transport: transport.TCP, Address: "127.0.0.1:7013"}
	since := time.Date(2025, 1, 1, 6, 19, 0, 0, time.UTC)
	emfile := &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", syscall.EMFILE)}
	r := &failingRunner{spec: spec}
	r.failing.Store(&transport.AcceptFailure{Since: since, Err: emfile})
	st := &hub.PortStats{}
	for range 279 {
		st.Drop(hub.DropDown)
	}
	var logs syncbuf.Buffer
	s := &Session{runners: []transport.Runner{r}, stats: []PortStats{{"p13", st}}, log: slog.New(slog.NewTextHandler(&logs, nil))}
	tick := make(chan time.Time) // unbuffered: a second send returns once the first was acted on
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); s.watchNoPeers(ctx, tick) }()
	defer func() { cancel(); <-done }()
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	ticks := func(d time.Duration) { tick <- t0.Add(d); tick <- t0.Add(d) }

	ticks(0)
	ticks(noPeerAfter)
	got := logs.String()
	for _, want := range []string{
		"no VM has attached to port p13 yet, and 279 frames for it were dropped (port-down), but the hub cannot accept connections on it",
		"every accept since 06:19:00 failed (accept tcp: accept4: too many open files)",
		"waits in the listen backlog", "ulimit -n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the hint while accepts fail does not say %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "restart it") || strings.Contains(got, "QEMU") {
		t.Errorf("the hint while accepts fail blames QEMU:\n%s", got)
	}
	if hints := s.noPeerHints(); len(hints) != 1 || !strings.Contains(hints[0].text, "cannot accept") {
		t.Errorf("the summary's hints while accepts fail = %v, want the one about accepts", hints)
	}

	r.failing.Store(nil) // the accepts recover, and no VM was waiting
	ticks(noPeerAfter + time.Second)
	if got := logs.String(); !strings.Contains(got, "restart it") || strings.Count(got, "cannot accept") != 1 {
		t.Errorf("once the accepts recover with no VM, want the QEMU hint after the one hint about accepts:\n%s", got)
	}
}
