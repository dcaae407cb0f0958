package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// openPTY opens a pseudo-terminal and returns its terminal end, or skips
// the test where the system has none for it.
func openPTY(t *testing.T) *os.File {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("skipping: needs a pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Skipf("skipping: needs a pseudo-terminal: TIOCGPTN: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Skipf("skipping: needs a pseudo-terminal: unlock: %v", err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("skipping: needs a pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// --capture - refuses a standard output that is a terminal, as tshark and
// dumpcap do: a pcapng stream is binary, and would garble it.
func TestCaptureToStdoutRefusesATerminal(t *testing.T) {
	tty := openPTY(t)
	// Cancelled: were it not refused, serve would stop at once.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := run(ctx, []string{"serve", "--control", "off", "--port", "a=tcp:127.0.0.1:0", "--capture", "-"}, tty, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "standard output is a terminal") {
		t.Errorf("serve --capture - with a terminal on stdout: %v, want it refused", err)
	}
}
