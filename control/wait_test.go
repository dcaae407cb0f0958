package control_test

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"l2hub/control"
)

// WaitReady answers with the ports once the hub answers, and otherwise
// ends with the context, saying why the hub did not answer.
func TestWaitReady(t *testing.T) {
	_, path := serveFake(t, "")
	ports, err := control.NewClient(path, "").WaitReady(context.Background(), time.Millisecond)
	if err != nil || len(ports) == 0 {
		t.Fatalf("WaitReady on a serving hub: %v, %v", ports, err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	missing := filepath.Join(t.TempDir(), "none.sock")
	_, err = control.NewClient(missing, "").WaitReady(ctx, time.Millisecond)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitReady with nothing serving: %v, want it to end with the context", err)
	}
	// It says where it asked, and why the hub did not answer there.
	if msg := err.Error(); !strings.Contains(msg, missing) || !strings.Contains(msg, "no such file") {
		t.Errorf("WaitReady's error %q, want the address and the last reason (no such file)", msg)
	}
}

// TestWaitReadyStopsAtAWrongToken: a hub that refuses the token refuses it
// every time, so WaitReady says so at once, not after its whole timeout.
// The context here only stops a WaitReady that would poll on.
func TestWaitReadyStopsAtAWrongToken(t *testing.T) {
	const token = "wait-ready-token-0123456789abcdef"
	l, err := control.Listen("tcp:127.0.0.1:0", token)
	if err != nil {
		t.Fatal(err)
	}
	startServer(t, l, &control.Server{Token: token})
	addr := control.Addr(l)
	for _, give := range []string{"", "wrong-token-0123456789abcdef0123"} {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		_, err := control.NewClient(addr, give).WaitReady(ctx, time.Millisecond)
		cancel()
		var he *control.Error
		if !errors.As(err, &he) || he.Status != 401 || errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("WaitReady with token %q: %v, want the hub's 401 at once", give, err)
		}
		if msg := err.Error(); !strings.Contains(msg, "missing or wrong bearer token") || !strings.Contains(msg, addr) {
			t.Errorf("WaitReady's error %q, want the address and the hub's reason", msg)
		}
	}
	ports, err := control.NewClient(addr, token).WaitReady(context.Background(), time.Millisecond)
	if err != nil || len(ports) == 0 {
		t.Fatalf("WaitReady with the token: %v, %v", ports, err)
	}
}

// TestWaitReadyRefusesAnOpenDirectory: a default socket directory that
// others may enter stays so however often it is asked: WaitReady says so
// at once.
func TestWaitReadyRefusesAnOpenDirectory(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	t.Setenv("XDG_RUNTIME_DIR", "")
	dir := filepath.Dir(control.DefaultAddr())
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil { // whatever the umask
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := control.NewClient("", "").WaitReady(ctx, time.Millisecond)
	if err == nil || errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "want 0700") {
		t.Errorf("WaitReady with the default directory open to others = %v, want the refusal at once", err)
	}
}

// TestTimeoutSaysWhere: a hub that takes the connection and never answers
// (stopped, or flooded) makes a call fail naming the address and what may
// be wrong, not Go's words alone.
func TestTimeoutSaysWhere(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close() // held, unanswered, until the listener closes
		}
	}()
	addr := "tcp:" + l.Addr().String()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond) // what times out; not a bound on the test
	defer cancel()
	_, err = control.NewClient(addr, "t0ken").Ports(ctx)
	if err == nil || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), addr) || !strings.Contains(err.Error(), "did not answer in time") {
		t.Errorf("Ports from a hub that never answers = %v, want a timeout naming %s and saying the hub did not answer", err, addr)
	}
}
