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
// what it asked for, or all the kernel ever grants, says nothing.
func TestSmallReceiveBufferIsWarned(t *testing.T) {
	for _, tc := range []struct {
		granted, asked int
		warn           bool
	}{
		{212992, 4 << 20, true},
		{4 << 20, 4 << 20, false},
		{0, 4 << 20, false}, // the system did not say
		// sockbuf=1G, the largest option, as root: the kernel's own
		// ceiling, which no privilege raises.
		{1<<30 - 1, 1 << 30, false},
		{1<<30 - 2, 1 << 30, true},
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

// TestLargestSockbufIsNotWarnedAsRoot: as root, sockbuf=1G (the largest
// the option takes) gets the kernel's ceiling, a byte short, and no
// warning whose advice (CAP_NET_ADMIN) the process already follows.
func TestLargestSockbufIsNotWarnedAsRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: without CAP_NET_ADMIN the kernel caps the buffer at rmem_max, which is warned of")
	}
	c, err := ListenUDP("127.0.0.1:0", "127.0.0.1:9", 0, maxSockbufOption)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var out bytes.Buffer
	warnSmallBuffer(slog.New(slog.NewTextHandler(&out, nil)), c)
	if granted, asked := c.ReceiveBuffer(); out.Len() > 0 {
		t.Errorf("granted %d of %d: logged %q, want nothing", granted, asked, out.String())
	}
}
