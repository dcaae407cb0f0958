package control_test

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"l2hub/control"
)

// TestNoHubSaysSo: a control address where nothing listens (no socket
// file, a socket file left by a hub that died, a TCP port nobody holds)
// gives a plain "no hub answers at ADDR (why)", with no advice meant for
// l2hub's command line (a Go caller has no --control flag), and still lets
// errors.Is see the dial's errno.
func TestNoHubSaysSo(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, "stale.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: stale, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false)
	l.Close()
	tl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "tcp:" + tl.Addr().String()
	tl.Close()
	run := filepath.Join(dir, "run") // the default socket's: private, and empty
	if err := os.Mkdir(run, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Setenv("XDG_RUNTIME_DIR", run)

	for _, tt := range []struct {
		name, addr, says string
		errno            error
	}{
		{"missing-socket", filepath.Join(dir, "none.sock"), filepath.Join(dir, "none.sock") + " (connect: no such file or directory)", syscall.ENOENT},
		{"stale-socket", stale, stale + " (connect: connection refused)", syscall.ECONNREFUSED},
		{"closed-tcp-port", closed, closed + " (connect: connection refused)", syscall.ECONNREFUSED},
		{"default", "", filepath.Join(run, "l2hub.sock") + ", the default control socket (connect: no such file", syscall.ENOENT},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := control.NewClient(tt.addr, "token-for-a-tcp-address-0123456789").Ports(context.Background())
			if !errors.Is(err, control.ErrNoHub) || !errors.Is(err, tt.errno) {
				t.Fatalf("Ports: %v, want ErrNoHub wrapping %v", err, tt.errno)
			}
			want := "no hub answers at " + tt.says
			if msg := err.Error(); !strings.HasPrefix(msg, want) || strings.Contains(msg, "--control") || strings.Contains(msg, "l2hub serve") {
				t.Errorf("Ports: %q, want it to start %q and give no command-line advice", msg, want)
			}
		})
	}
}
