package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"l2hub/control"
	"l2hub/hub/hubtest"
	"l2hub/transport"
)

// fdCount is how many file descriptors process pid holds.
func fdCount(t *testing.T, pid int) int {
	t.Helper()
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Skipf("skipping: cannot count the hub's file descriptors: %v", err)
	}
	return len(ents)
}

// TestControlFloodLeavesVMsAlone is issue 15's connection flood against a
// token-protected TCP control port, scaled to a hub allowed 256 file
// descriptors: a thousand idle connections and a hundred stalled bodies
// hold at most the API's connection cap, and two VMs that connect during
// the flood pass every one of 6000 frames.
var floodN = 1100

func TestControlFloodLeavesVMsAlone(t *testing.T) {
	const token = "flood-token-0123456789"
	p := startBinary(t, []string{control.TokenEnv + "=" + token}, "serve",
		"--port", "a=tcp:127.0.0.1:0", "--port", "b=tcp:127.0.0.1:0", "--control", "tcp:127.0.0.1:0")
	m := regexp.MustCompile(`control API on tcp:(\S+);`).FindStringSubmatch(p.stdout.String())
	if m == nil {
		t.Fatalf("no TCP control address in the banner:\n%s", p.stdout.String())
	}
	ctlAddr := m[1]
	addrs := tcpPorts(t, p.stdout.String())
	pid := p.cmd.Process.Pid
	lim := unix.Rlimit{Cur: 256, Max: 256}
	if err := unix.Prlimit(pid, unix.RLIMIT_NOFILE, &lim, nil); err != nil {
		t.Skipf("skipping: cannot lower the hub's file limit: %v", err)
	}
	base := fdCount(t, pid)

	var flood []net.Conn
	t.Cleanup(func() {
		for _, c := range flood {
			c.Close()
		}
	})
	for i := range floodN {
		c, err := net.DialTimeout("tcp", ctlAddr, 5*time.Second)
		if err != nil {
			continue // the kernel's queue is full: the attack is just slower
		}
		if i%11 == 0 { // a request whose body never comes
			fmt.Fprintf(c, "PUT /v1/policy HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\nContent-Type: application/yaml\r\nContent-Length: 100000\r\n\r\nseed: 1\n", token)
		}
		flood = append(flood, c)
	}
	for deadline := time.Now().Add(hangGuard); fdCount(t, pid) < base+control.DefaultMaxConns; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the hub took only %d of the flood's connections", fdCount(t, pid)-base)
		}
	}
	if got := fdCount(t, pid) - base; got > control.DefaultMaxConns+2 {
		t.Errorf("the flood holds %d of the hub's file descriptors, want at most the cap, %d", got, control.DefaultMaxConns)
	}

	// Two VMs connect during the flood, and every frame a sends reaches b.
	a, b := dialVM(t, addrs["a"]), dialVM(t, addrs["b"])
	got := make(chan []byte, 1024)
	go func() {
		defer close(got)
		buf := make([]byte, transport.DefaultMaxFrame)
		for {
			n, err := b.ReadFrame(buf)
			if err != nil {
				return
			}
			got <- bytes.Clone(buf[:n])
		}
	}()
	numbered := func(kind string, i int) []byte {
		return hubtest.Frame(hubtest.Broadcast, macA, kind+strconv.Itoa(i))
	}
	// b may attach after a's first frames: a probes until one arrives.
	for i := 0; ; i++ {
		if err := a.WriteFrame(numbered("probe", i)); err != nil {
			t.Fatal(err)
		}
		select {
		case <-got:
		case <-time.After(10 * time.Millisecond):
			continue
		}
		break
	}
	// a keeps at most window frames in flight, well inside b's egress
	// queue, so that no frame may be tail-dropped whatever the load.
	const frames, window = 6000, 64
	slots := make(chan struct{}, window)
	go func() {
		if err := a.WriteFrame(numbered("start", 0)); err != nil {
			return
		}
		for i := range frames {
			slots <- struct{}{}
			if a.WriteFrame(numbered("frame", i)) != nil {
				return
			}
		}
	}()
	for f := range got {
		if bytes.Contains(f, []byte("start")) {
			break
		}
	}
	for i := range frames {
		var f []byte
		select {
		case f = <-got:
		case <-time.After(hangGuard):
			t.Fatalf("b got %d of %d frames during the flood; hub stderr:\n%s", i, frames, p.stderr.String())
		}
		<-slots
		if want := numbered("frame", i); !bytes.Equal(f, want) {
			t.Fatalf("frame %d: got % x, want % x", i, f, want)
		}
	}
	if strings.Contains(p.stderr.String(), "too many open files") {
		t.Errorf("the hub ran out of file descriptors:\n%s", p.stderr.String())
	}

	// Once the flood ends, the control API answers again.
	for _, c := range flood {
		c.Close()
	}
	flood = nil
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	if _, err := control.NewClient("tcp:"+ctlAddr, token).Ports(ctx); err != nil {
		t.Errorf("after the flood: %v", err)
	}
}

func atoi(t *testing.T, b []byte) int {
	t.Helper()
	n, err := strconv.Atoi(string(b))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestBinaryRaisesItsFileLimit: the hub's soft limit on file descriptors
// is its hard limit (the Go runtime raises it at start), so the budget the
// control API leaves the VM ports is the largest the system allows.
func TestBinaryRaisesItsFileLimit(t *testing.T) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Skipf("skipping: %v", err)
	}
	if lim.Max < 512 {
		t.Skipf("skipping: the hard limit, %d, leaves no room to lower the soft one", lim.Max)
	}
	// The child inherits a low soft limit from the test.
	low := lim
	low.Cur = 256
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
		t.Skipf("skipping: %v", err)
	}
	p := startBinary(t, nil, "serve", "--port", "a=tcp:127.0.0.1:0", "--control", "off")
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	limits, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", p.cmd.Process.Pid))
	if err != nil {
		t.Skipf("skipping: %v", err)
	}
	m := regexp.MustCompile(`Max open files\s+(\d+)\s+(\d+)`).FindSubmatch(limits)
	if m == nil {
		t.Fatalf("no open-files line in /proc/PID/limits:\n%s", limits)
	}
	// The runtime sets the soft limit one below the hard one, to notice a
	// prlimit from outside.
	if soft, hard := atoi(t, m[1]), atoi(t, m[2]); soft < hard-1 {
		t.Errorf("the hub's soft limit on open files is %d, its hard limit %d: want it raised to the hard limit", soft, hard)
	}
}
