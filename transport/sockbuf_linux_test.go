//go:build linux

package transport

import (
	"bytes"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestReceiveBufferIsWhatTheKernelGranted: the size ReceiveBuffer reports
// is the kernel's (socket(7): it reports twice what it grants): as root the
// size asked for, past net.core.rmem_max; otherwise at most rmem_max.
func TestReceiveBufferIsWhatTheKernelGranted(t *testing.T) {
	const asked = 4 << 20
	c, err := ListenUDP("127.0.0.1:0", "127.0.0.1:9", 0, asked)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	granted, gotAsked := c.ReceiveBuffer()
	if gotAsked != asked || granted <= 0 {
		t.Fatalf("ReceiveBuffer() = %d, %d; want the kernel's size and %d", granted, gotAsked, asked)
	}
	if os.Geteuid() == 0 {
		if granted != asked {
			t.Errorf("as root the kernel granted %d, want the %d asked for (SO_RCVBUFFORCE)", granted, asked)
		}
		return
	}
	raw, err := os.ReadFile("/proc/sys/net/core/rmem_max")
	if err != nil {
		t.Skipf("cannot read rmem_max: %v", err)
	}
	max, _ := strconv.Atoi(strings.TrimSpace(string(raw)))
	if granted > max {
		t.Errorf("without privileges the kernel granted %d, more than rmem_max %d: ReceiveBuffer misreads it", granted, max)
	}
}

// TestSmallReceiveBufferIsWarned: a port whose receive buffer the kernel
// capped says so once at bind, with both sizes and the fix; one that got
// what it asked for says nothing.
func TestSmallReceiveBufferIsWarned(t *testing.T) {
	for _, tc := range []struct {
		granted, asked int
		warn           bool
	}{
		{212992, 4 << 20, true},
		{4 << 20, 4 << 20, false},
		{0, 4 << 20, false}, // the system did not say
	} {
		var out bytes.Buffer
		warnSmallBuffer(slog.New(slog.NewTextHandler(&out, nil)), &DatagramConn{rcvGranted: tc.granted, rcvAsked: tc.asked})
		got := out.String()
		if !tc.warn {
			if got != "" {
				t.Errorf("granted %d of %d: logged %q, want nothing", tc.granted, tc.asked, got)
			}
			continue
		}
		for _, want := range []string{"receive buffer smaller than asked", "asked=" + strconv.Itoa(tc.asked), "granted=" + strconv.Itoa(tc.granted), "rmem_max", "kernel-overflow"} {
			if !strings.Contains(got, want) {
				t.Errorf("granted %d of %d: logged %q, want %q in it", tc.granted, tc.asked, got, want)
			}
		}
	}
}
