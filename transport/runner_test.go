package transport_test

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
	"l2hub/transport"
	"l2hub/transport/transporttest"
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
	if err := os.Chmod(regular, 0o640); err != nil { // whatever the umask
		t.Fatal(err)
	}
	subdir, link := filepath.Join(dir, "sub"), filepath.Join(dir, "link.sock")
	if err := os.Mkdir(subdir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(subdir, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("notes.txt", link); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name string
		spec transport.Spec
		want string
	}{
		{"tcp", transport.Spec{Name: "a", Transport: transport.TCP, Address: ln.Addr().String()}, "address already in use"},
		{"udp", transport.Spec{Name: "a", Transport: transport.UDP, Address: udp.LocalAddr().String(), Peer: "127.0.0.1:9"}, "address already in use"},
		{"unix-live", transport.Spec{Name: "a", Transport: transport.Unix, Address: live}, "address already in use"},
		{"unixgram-live", transport.Spec{Name: "a", Transport: transport.Unixgram, Address: liveGram, Peer: filepath.Join(dir, "p")}, "address already in use"},
		{"unix-regular-file", transport.Spec{Name: "a", Transport: transport.Unix, Address: regular}, "exists and is not a socket but a regular file, mode 0640; not replacing it"},
		{"unix-directory", transport.Spec{Name: "a", Transport: transport.Unix, Address: subdir}, "is not a socket but a directory, mode 0750;"},
		{"unixgram-symlink", transport.Spec{Name: "a", Transport: transport.Unixgram, Address: link, Peer: filepath.Join(dir, "p")}, "is not a socket but a symbolic link to notes.txt;"},
		{"tap-netns-missing", transport.Spec{Name: "a", Transport: transport.TAP, Address: "tap0", Options: map[string]string{"netns": "/nonexistent/netns"}}, "no such file or directory"},
		{"invalid", transport.Spec{Name: "a", Transport: transport.TCP, Address: "nope"}, "host:port"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := tc.spec.Open(transport.Options{})
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
	for _, m := range []int{-1, transport.MinFrame - 1, transport.MaxFrameLimit + 1} {
		r, err := transport.Spec{Name: "a", Transport: transport.TCP, Address: "127.0.0.1:0"}.Open(transport.Options{MaxFrame: m})
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
		spec    func(path string) transport.Spec
	}{
		{"unix", func(p string) transport.Spec { return transport.Spec{Name: "p", Transport: transport.Unix, Address: p} }},
		{"unixgram", func(p string) transport.Spec {
			return transport.Spec{Name: "p", Transport: transport.Unixgram, Address: p, Peer: p + ".vm"}
		}},
	} {
		t.Run(tc.network, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "hub.sock")
			staleSocket(t, tc.network, path)
			r, err := tc.spec(path).Open(transport.Options{})
			if err != nil {
				t.Fatalf("Open over a stale socket: %v", err)
			}
			att := transporttest.NewAttacher("p")
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
	r, err := transport.Spec{Name: "p", Transport: transport.TCP, Address: "127.0.0.1:0"}.Open(transport.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- r.Run(ctx, transporttest.NewAttacher("p")) }()
	cancel()
	if err := <-errc; err != nil {
		t.Fatalf("first Run = %v, want nil", err)
	}
	if err := r.Run(context.Background(), transporttest.NewAttacher("p")); !errors.Is(err, transport.ErrRunning) {
		t.Errorf("second Run = %v, want ErrRunning", err)
	}
}

func TestRunnerUnknownPortIsFatal(t *testing.T) {
	for _, tr := range []transport.Transport{transport.TCP, transport.UDP} {
		t.Run(string(tr), func(t *testing.T) {
			spec := transport.Spec{Name: "ghost", Transport: tr, Address: "127.0.0.1:0"}
			if tr == transport.UDP {
				spec.Peer = "127.0.0.1:9"
			}
			r, err := spec.Open(transport.Options{})
			if err != nil {
				t.Fatal(err)
			}
			errc := make(chan error, 1)
			go func() { errc <- r.Run(context.Background(), transporttest.NewAttacher("p")) }()
			if tr == transport.TCP {
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
			case <-time.After(transporttest.HangGuard):
				r.Close()
				t.Fatal("Run did not return on an unknown port")
			}
		})
	}
}

func TestRunnerClose(t *testing.T) {
	for _, spec := range []transport.Spec{
		{Name: "p", Transport: transport.TCP, Address: "127.0.0.1:0"},
		{Name: "p", Transport: transport.TCPDial, Address: "127.0.0.1:9"},
		{Name: "p", Transport: transport.UDP, Address: "127.0.0.1:0", Peer: "127.0.0.1:9"},
	} {
		t.Run(string(spec.Transport), func(t *testing.T) {
			r, err := spec.Open(transport.Options{})
			if err != nil {
				t.Fatal(err)
			}
			att := transporttest.NewAttacher("p")
			errc := make(chan error, 1)
			go func() { errc <- r.Run(context.Background(), att) }()
			if spec.Transport == transport.UDP {
				att.Next(t).Drain()
			}
			r.Close()
			select {
			case err := <-errc:
				if err != nil {
					t.Errorf("Run after Close = %v, want nil", err)
				}
			case <-time.After(transporttest.HangGuard):
				t.Fatal("Close did not stop Run")
			}
			r.Close() // twice is harmless
		})
	}
}

// A datagram runner attaches its socket once; the VM's frames reach it
// through the real bound address, and QEMUArgs of the runner's spec name it.
func TestDatagramRunner(t *testing.T) {
	vmAddr := freeUDPAddr(t)
	r, err := transport.Spec{Name: "d", Transport: transport.UDP, Address: "127.0.0.1:0", Peer: vmAddr}.Open(transport.Options{})
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
	att := transporttest.NewAttacher("d")
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- r.Run(ctx, att) }()
	at := att.Next(t)

	vm, err := transport.ListenUDP(vmAddr, bound, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer vm.Close()
	f := transporttest.Frame(0xb2, 60, 1)
	if err := vm.WriteFrame(f); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, transport.DefaultMaxFrame)
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
	h, err := transport.ListenUnixgram(hubPath, vmPath, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	f := transporttest.Frame(0xa1, 60, 0)
	err = h.WriteFrame(f)
	var fe *hub.FrameError
	if !errors.As(err, &fe) || fe.Reason != hub.DropDown {
		t.Fatalf("WriteFrame to a missing peer = %v, want a *hub.FrameError with DropDown", err)
	}
	if !errors.Is(err, syscall.ENOENT) && !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("WriteFrame to a missing peer = %v, want it to wrap the system error", err)
	}
	vm, err := transport.ListenUnixgram(vmPath, hubPath, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer vm.Close()
	if err := h.WriteFrame(f); err != nil {
		t.Fatalf("WriteFrame once the peer exists = %v, want nil", err)
	}
	buf := make([]byte, transport.DefaultMaxFrame)
	if n, err := vm.ReadFrame(buf); err != nil || string(buf[:n]) != string(f) {
		t.Fatalf("VM read = %d bytes, %v; want the frame", n, err)
	}
}

// Two QEMU-like members and the hub on one group: each member's frames
// reach the hub and the other member; the hub's reach both members; the
// hub never reads its own frames back.
func TestMcastMembers(t *testing.T) {
	needMulticast(t)
	h, err := transport.JoinMcast(mcastGroup+":0", "127.0.0.1", 0, 0)
	if err != nil {
		t.Fatalf("JoinMcast: %v", err)
	}
	defer h.Close()
	group := h.LocalAddr().String()
	var vms []*transport.DatagramConn
	for range 2 {
		vm, err := transport.JoinMcastLikeQEMU(group, "127.0.0.1", 0)
		if err != nil {
			t.Fatalf("JoinMcastLikeQEMU: %v", err)
		}
		defer vm.Close()
		vms = append(vms, vm)
	}
	mcastWorks(t, vms[0], vms[1], h)
	buf := make([]byte, transport.DefaultMaxFrame)
	readOne := func(c *transport.DatagramConn) string {
		t.Helper()
		n, err := c.ReadFrame(buf)
		if err != nil {
			t.Fatalf("%s: %v", c.Describe(), err)
		}
		return string(buf[:n])
	}
	fromHub := transporttest.Frame(0xa1, 60, 1)
	if err := h.WriteFrame(fromHub); err != nil {
		t.Fatal(err)
	}
	fromVM := transporttest.Frame(0xb2, 60, 2)
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

// TestRelativeSocketPathsAreGivenAbsolute: a unix socket named relative to
// the working directory is bound there, and the runner's Spec (what the
// banner, the ready file and QEMUArgs show) names it by its absolute path,
// which a QEMU started in another directory can use.
func TestRelativeSocketPathsAreGivenAbsolute(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	for _, s := range []transport.Spec{
		{Name: "u", Transport: transport.Unix, Address: "u.sock"},
		{Name: "d", Transport: transport.UnixDial, Address: "d.sock"},
		{Name: "g", Transport: transport.Unixgram, Address: "g.sock", Peer: "g-vm.sock"},
	} {
		t.Run(string(s.Transport), func(t *testing.T) {
			r, err := s.Open(transport.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			got := r.Spec()
			if want := filepath.Join(dir, s.Address); got.Address != want {
				t.Errorf("Spec().Address = %q, want %q", got.Address, want)
			}
			if s.Peer != "" {
				if want := filepath.Join(dir, s.Peer); got.Peer != want {
					t.Errorf("Spec().Peer = %q, want %q", got.Peer, want)
				}
			}
			if args := strings.Join(got.QEMUArgs("n0"), " "); !strings.Contains(args, "path="+filepath.Join(dir, s.Address)) {
				t.Errorf("QEMUArgs = %s, want the socket's absolute path", args)
			}
			if s.Transport != transport.UnixDial {
				if _, err := os.Lstat(filepath.Join(dir, s.Address)); err != nil {
					t.Errorf("socket not bound in the working directory: %v", err)
				}
			}
		})
	}
}
