package tap_test

import (
	"context"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"l2hub/hub"
	"l2hub/tap"
	"l2hub/tap/taptest"
)

func TestOpenAddressInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	dir := t.TempDir()
	live := filepath.Join(dir, "live.sock")
	liveLn, err := net.Listen("unix", live)
	if err != nil {
		t.Fatal(err)
	}
	defer liveLn.Close()
	liveGram := filepath.Join(dir, "livegram.sock")
	lg, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: liveGram, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer lg.Close()
	regular := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(regular, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name string
		spec tap.Spec
		want string
	}{
		{"tcp", tap.Spec{Name: "a", Transport: tap.TCP, Address: ln.Addr().String()}, "address already in use"},
		{"udp", tap.Spec{Name: "a", Transport: tap.UDP, Address: udp.LocalAddr().String(), Peer: "127.0.0.1:9"}, "address already in use"},
		{"unix-live", tap.Spec{Name: "a", Transport: tap.Unix, Address: live}, "address already in use"},
		{"unixgram-live", tap.Spec{Name: "a", Transport: tap.Unixgram, Address: liveGram, Peer: filepath.Join(dir, "p")}, "address already in use"},
		{"unix-regular-file", tap.Spec{Name: "a", Transport: tap.Unix, Address: regular}, "not a socket"},
		{"tap-netns-missing", tap.Spec{Name: "a", Transport: tap.TAP, Address: "tap0", Options: map[string]string{"netns": "/nonexistent/netns"}}, "no such file or directory"},
		{"invalid", tap.Spec{Name: "a", Transport: tap.TCP, Address: "nope"}, "host:port"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := tc.spec.Open(tap.Options{})
			if err == nil {
				r.Close()
				t.Fatalf("Open(%s) = nil error, want %q", tc.spec, tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), `port "a"`) {
				t.Errorf("Open(%s) = %q, want it to name the port and say %q", tc.spec, err, tc.want)
			}
		})
	}
	if b, err := os.ReadFile(regular); err != nil || string(b) != "keep me" {
		t.Errorf("regular file at the socket path: got %q, %v; want it untouched", b, err)
	}
}

func TestOpenBadMaxFrame(t *testing.T) {
	for _, m := range []int{-1, tap.MinFrame - 1, tap.MaxFrameLimit + 1} {
		r, err := tap.Spec{Name: "a", Transport: tap.TCP, Address: "127.0.0.1:0"}.Open(tap.Options{MaxFrame: m})
		if err == nil {
			r.Close()
			t.Errorf("Open with MaxFrame %d = nil error, want one", m)
		}
	}
}

// staleSocket leaves a socket file nobody listens on, as a killed process does.
func staleSocket(t *testing.T, network, path string) {
	t.Helper()
	switch network {
	case "unix":
		ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
		if err != nil {
			t.Fatal(err)
		}
		ln.SetUnlinkOnClose(false)
		ln.Close()
	case "unixgram":
		c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
	if fi, err := os.Lstat(path); err != nil || fi.Mode().Type() != fs.ModeSocket {
		t.Fatalf("stale socket %s not left behind: %v", path, err)
	}
}

func TestUnixStaleSocketReplacedAndRemoved(t *testing.T) {
	for _, tc := range []struct {
		network string
		spec    func(path string) tap.Spec
	}{
		{"unix", func(p string) tap.Spec { return tap.Spec{Name: "p", Transport: tap.Unix, Address: p} }},
		{"unixgram", func(p string) tap.Spec {
			return tap.Spec{Name: "p", Transport: tap.Unixgram, Address: p, Peer: p + ".vm"}
		}},
	} {
		t.Run(tc.network, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "hub.sock")
			staleSocket(t, tc.network, path)
			r, err := tc.spec(path).Open(tap.Options{})
			if err != nil {
				t.Fatalf("Open over a stale socket: %v", err)
			}
			att := taptest.NewAttacher("p")
			ctx, cancel := context.WithCancel(context.Background())
			errc := make(chan error, 1)
			go func() { errc <- r.Run(ctx, att) }()
			if tc.network == "unixgram" {
				att.Next(t).Drain()
			}
			cancel()
			if err := <-errc; err != nil {
				t.Fatalf("Run = %v, want nil", err)
			}
			if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("socket file after Run returned: %v, want it removed", err)
			}
		})
	}
}

func TestRunnerRunsOnce(t *testing.T) {
	r, err := tap.Spec{Name: "p", Transport: tap.TCP, Address: "127.0.0.1:0"}.Open(tap.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- r.Run(ctx, taptest.NewAttacher("p")) }()
	cancel()
	if err := <-errc; err != nil {
		t.Fatalf("first Run = %v, want nil", err)
	}
	if err := r.Run(context.Background(), taptest.NewAttacher("p")); !errors.Is(err, tap.ErrRunning) {
		t.Errorf("second Run = %v, want ErrRunning", err)
	}
}

func TestRunnerUnknownPortIsFatal(t *testing.T) {
	for _, tr := range []tap.Transport{tap.TCP, tap.UDP} {
		t.Run(string(tr), func(t *testing.T) {
			spec := tap.Spec{Name: "ghost", Transport: tr, Address: "127.0.0.1:0"}
			if tr == tap.UDP {
				spec.Peer = "127.0.0.1:9"
			}
			r, err := spec.Open(tap.Options{})
			if err != nil {
				t.Fatal(err)
			}
			errc := make(chan error, 1)
			go func() { errc <- r.Run(context.Background(), taptest.NewAttacher("p")) }()
			if tr == tap.TCP {
				c, err := net.Dial("tcp", r.Spec().Address)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
			}
			select {
			case err := <-errc:
				if !errors.Is(err, hub.ErrNoPort) {
					t.Errorf("Run = %v, want hub.ErrNoPort", err)
				}
			case <-time.After(taptest.HangGuard):
				r.Close()
				t.Fatal("Run did not return on an unknown port")
			}
		})
	}
}

func TestRunnerClose(t *testing.T) {
	for _, spec := range []tap.Spec{
		{Name: "p", Transport: tap.TCP, Address: "127.0.0.1:0"},
		{Name: "p", Transport: tap.TCPDial, Address: "127.0.0.1:9"},
		{Name: "p", Transport: tap.UDP, Address: "127.0.0.1:0", Peer: "127.0.0.1:9"},
	} {
		t.Run(string(spec.Transport), func(t *testing.T) {
			r, err := spec.Open(tap.Options{})
			if err != nil {
				t.Fatal(err)
			}
			att := taptest.NewAttacher("p")
			errc := make(chan error, 1)
			go func() { errc <- r.Run(context.Background(), att) }()
			if spec.Transport == tap.UDP {
				att.Next(t).Drain()
			}
			r.Close()
			select {
			case err := <-errc:
				if err != nil {
					t.Errorf("Run after Close = %v, want nil", err)
				}
			case <-time.After(taptest.HangGuard):
				t.Fatal("Close did not stop Run")
			}
			r.Close() // twice is harmless
		})
	}
}

// A datagram runner attaches its socket once; the VM's frames reach it
// through the real bound address, and QEMUArgs of the runner's spec name it.
func TestDatagramRunner(t *testing.T) {
	vmAddr := freeUDP(t)
	r, err := tap.Spec{Name: "d", Transport: tap.UDP, Address: "127.0.0.1:0", Peer: vmAddr}.Open(tap.Options{})
	if err != nil {
		t.Fatal(err)
	}
	bound := r.Spec().Address
	if strings.HasSuffix(bound, ":0") {
		t.Fatalf("Spec().Address = %s, want the port the system chose", bound)
	}
	if args := r.Spec().QEMUArgs("n0"); len(args) == 0 || !strings.Contains(args[0], "remote.port="+bound[strings.LastIndex(bound, ":")+1:]) {
		t.Errorf("QEMUArgs = %q, want remote.port of %s", args, bound)
	}
	att := taptest.NewAttacher("d")
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- r.Run(ctx, att) }()
	at := att.Next(t)

	vm, err := tap.ListenUDP(vmAddr, bound, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer vm.Close()
	f := taptest.Frame(0xb2, 60, 1)
	if err := vm.WriteFrame(f); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, tap.DefaultMaxFrame)
	if n, err := hub.ReadFrame(at.IO, buf); err != nil || string(buf[:n]) != string(f) {
		t.Fatalf("hub read = %d bytes, %v; want the VM's frame", n, err)
	}
	at.Drain()
	cancel()
	if err := <-errc; err != nil {
		t.Fatalf("Run = %v, want nil", err)
	}
	if err := vm.WriteFrame(f); err != nil {
		t.Logf("write after the hub left: %v", err)
	}
}

// A unix datagram peer that does not exist yet is a counted, per-frame
// failure, not the end of the port.
func TestUnixgramPeerMissing(t *testing.T) {
	dir := t.TempDir()
	hubPath, vmPath := filepath.Join(dir, "hub.sock"), filepath.Join(dir, "vm.sock")
	h, err := tap.ListenUnixgram(hubPath, vmPath, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	f := taptest.Frame(0xa1, 60, 0)
	err = h.WriteFrame(f)
	var fe *hub.FrameError
	if !errors.As(err, &fe) || fe.Reason != hub.DropDown {
		t.Fatalf("WriteFrame to a missing peer = %v, want a *hub.FrameError with DropDown", err)
	}
	if !errors.Is(err, syscall.ENOENT) && !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("WriteFrame to a missing peer = %v, want it to wrap the system error", err)
	}
	vm, err := tap.ListenUnixgram(vmPath, hubPath, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer vm.Close()
	if err := h.WriteFrame(f); err != nil {
		t.Fatalf("WriteFrame once the peer exists = %v, want nil", err)
	}
	buf := make([]byte, tap.DefaultMaxFrame)
	if n, err := vm.ReadFrame(buf); err != nil || string(buf[:n]) != string(f) {
		t.Fatalf("VM read = %d bytes, %v; want the frame", n, err)
	}
}

// Two QEMU-like members and the hub on one group: each member's frames
// reach the hub and the other member; the hub's reach both members; the
// hub never reads its own frames back.
func TestMcastMembers(t *testing.T) {
	h, err := tap.JoinMcast(mcastGroup+":0", "127.0.0.1", 0, 0)
	if err != nil {
		t.Skipf("multicast on loopback is not available here: %v", err)
	}
	defer h.Close()
	group := h.LocalAddr().String()
	var vms []*tap.DatagramConn
	for range 2 {
		vm, err := tap.JoinMcastLikeQEMU(group, "127.0.0.1", 0)
		if err != nil {
			t.Skipf("multicast on loopback is not available here: %v", err)
		}
		defer vm.Close()
		vms = append(vms, vm)
	}
	if !mcastWorks(t, vms[0], vms[1], h) {
		t.Skip("multicast on loopback does not deliver here")
	}
	buf := make([]byte, tap.DefaultMaxFrame)
	readOne := func(c *tap.DatagramConn) string {
		t.Helper()
		n, err := c.ReadFrame(buf)
		if err != nil {
			t.Fatalf("%s: %v", c.Describe(), err)
		}
		return string(buf[:n])
	}
	fromHub := taptest.Frame(0xa1, 60, 1)
	if err := h.WriteFrame(fromHub); err != nil {
		t.Fatal(err)
	}
	fromVM := taptest.Frame(0xb2, 60, 2)
	if err := vms[1].WriteFrame(fromVM); err != nil {
		t.Fatal(err)
	}
	if got := readOne(h); got != string(fromVM) {
		t.Errorf("hub read %x, want the VM's frame (its own must be skipped)", got[:14])
	}
	for i, vm := range vms {
		// Every member hears the hub's frame, then the second member's
		// (its own echo, for the second).
		if got := readOne(vm); got != string(fromHub) {
			t.Errorf("member %d read %x first, want the hub's frame", i, got[:14])
		}
		if got := readOne(vm); got != string(fromVM) {
			t.Errorf("member %d read %x second, want the VM's frame", i, got[:14])
		}
	}
}
