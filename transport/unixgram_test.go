package transport_test

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"l2hub/hub"
	"l2hub/transport"
	"l2hub/transport/transporttest"
)

// A unixgram port whose peer= is relative takes the VM's datagrams whether
// the VM bound the path absolute, as the banner and qemu-args print it
// (QEMU binds local.path as given), or as the config writes it; anything
// else is refused, and the refusal names it: a stranger, and the peer's
// file spelled otherwise, since the hub cannot tell a relative spelling's
// file (see TestUnixgramStrangerElsewhere) and will not guess an absolute
// one's. Both read paths (one datagram per call, and the batch) are held
// to it.
func TestUnixgramRelativePeer(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	abs := func(p string) string { return filepath.Join(dir, p) }
	tests := []struct {
		name, from string
		ok         bool
	}{
		{"absolute", abs("vm.sock"), true},
		{"as-written", "vm.sock", true},
		{"dot-slash", "./vm.sock", false},
		{"doubled-slash", dir + "//vm.sock", false},
		{"stranger", abs("other.sock"), false},
		{"stranger-relative", "other.sock", false},
	}
	readers := []struct {
		name string
		read func(c *transport.DatagramConn) (int, error)
	}{
		{"ReadFrame", func(c *transport.DatagramConn) (int, error) {
			return c.ReadFrame(make([]byte, transport.DefaultMaxFrame))
		}},
		{"ReadFrames", func(c *transport.DatagramConn) (int, error) {
			frames := make([]*hub.Frame, 4)
			n, err := c.ReadFrames(frames, transport.DefaultMaxFrame)
			hub.ReleaseAll(frames[:n])
			return n, err
		}},
	}
	for _, r := range readers {
		for _, tc := range tests {
			t.Run(r.name+"/"+tc.name, func(t *testing.T) {
				h, err := transport.ListenUnixgram("hub.sock", "vm.sock", 0, 0)
				if err != nil {
					t.Fatal(err)
				}
				defer h.Close()
				vm, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: tc.from, Net: "unixgram"})
				if err != nil {
					t.Fatal(err)
				}
				defer os.Remove(tc.from)
				defer vm.Close()
				if _, err := vm.WriteToUnix(transporttest.Frame(0xa1, 60, 0), &net.UnixAddr{Name: abs("hub.sock"), Net: "unixgram"}); err != nil {
					t.Fatal(err)
				}
				_, err = r.read(h)
				var fe *hub.FrameError
				switch {
				case tc.ok && err != nil:
					t.Fatalf("got %s of a datagram from %s = %v, want the frame", r.name, tc.from, err)
				case !tc.ok && (!errors.As(err, &fe) || fe.Reason != hub.DropForeign):
					t.Fatalf("got %s of a datagram from %s = %v, want a %s drop", r.name, tc.from, err, hub.DropForeign)
				case !tc.ok && (!strings.Contains(err.Error(), "from "+tc.from+",") || !strings.Contains(err.Error(), abs("vm.sock"))):
					t.Errorf("got refusal %q, want it to name the sender %s and the peer %s", err, tc.from, abs("vm.sock"))
				}
			})
		}
	}
}

// The hub sends to the peer's absolute path, the one it prints, so that a
// VM bound there receives, even once the hub's directory is another.
func TestUnixgramSendsToAbsolutePeer(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	h, err := transport.ListenUnixgram("hub.sock", "vm.sock", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if err := os.Chdir(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	vmPath := filepath.Join(dir, "vm.sock")
	vm, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: vmPath, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer vm.Close()
	f := transporttest.Frame(0xa1, 60, 0)
	if err := h.WriteFrame(f); err != nil {
		t.Fatalf("got WriteFrame = %v, want the frame sent to %s", err, vmPath)
	}
	buf := make([]byte, transport.DefaultMaxFrame)
	if n, _, err := vm.ReadFromUnix(buf); err != nil || string(buf[:n]) != string(f) {
		t.Fatalf("got VM read = %d bytes, %v; want the frame", n, err)
	}
	if got, want := h.Describe(), "peer "+vmPath; !strings.HasSuffix(got, want) {
		t.Errorf("got Describe() = %q, want it to end in %q", got, want)
	}
}

// A unixgram port refuses a stranger that binds, in another directory, a
// relative path that names the peer's file from the hub's directory: the
// kernel reports a source as its sender bound it, relative to the sender's
// directory, not the hub's. The hub counts its datagrams as foreign-source
// and takes the VM's, bound where the banner says, all the same.
func TestUnixgramStrangerElsewhere(t *testing.T) {
	tests := []struct {
		name         string
		hubDir, peer string // the hub's directory under the test's, and its peer= (relative to the hub's)
		stranger     string // the path the stranger binds, in a directory of its own
		vm           string // the VM's path, relative to the test's directory
	}{
		{"absolute-peer/same-name", "lab", "<abs>/lab/vm.sock", "vm.sock", "lab/vm.sock"},
		{"absolute-peer/name-from-above", ".", "<abs>/lab/vm.sock", "lab/vm.sock", "lab/vm.sock"},
		{"relative-peer/dot-slash", "lab", "vm.sock", "./vm.sock", "lab/vm.sock"},
		{"relative-peer/name-from-above", ".", "lab/vm.sock", "./lab/vm.sock", "lab/vm.sock"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			base := t.TempDir()
			for _, d := range []string{"lab", "other", "other/lab"} {
				if err := os.Mkdir(filepath.Join(base, d), 0o700); err != nil {
					t.Fatal(err)
				}
			}
			hubDir := filepath.Join(base, tc.hubDir)
			t.Chdir(hubDir)
			lh := startHub(t, transport.Spec{Name: "g", Transport: transport.Unixgram, Address: "hub.sock", Peer: strings.ReplaceAll(tc.peer, "<abs>", base)})
			to := &net.UnixAddr{Name: filepath.Join(hubDir, "hub.sock"), Net: "unixgram"}

			// The stranger's datagram is queued before the VM's: once the
			// hub has accounted for two, it has judged both.
			t.Chdir(filepath.Join(base, "other"))
			stranger, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: tc.stranger, Net: "unixgram"})
			if err != nil {
				t.Fatal(err)
			}
			defer stranger.Close()
			vm, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: filepath.Join(base, tc.vm), Net: "unixgram"})
			if err != nil {
				t.Fatal(err)
			}
			defer vm.Close()
			if _, err := stranger.WriteToUnix(transporttest.Frame(0xbb, 60, 0), to); err != nil {
				t.Fatal(err)
			}
			if _, err := vm.WriteToUnix(transporttest.Frame(0xa1, 60, 1), to); err != nil {
				t.Fatal(err)
			}
			var got hub.StatsSnapshot
			lh.waitPort(t, "g", "two datagrams not accounted for", func(p hub.PortStatus) bool {
				got = p.Stats
				return p.Stats.RxFrames+p.Stats.Drops[hub.DropForeign.String()] >= 2
			})
			if got.RxFrames != 1 || got.Drops[hub.DropForeign.String()] != 1 {
				t.Errorf("got RX frames %d, %s %d; want the VM's 1 and the stranger's (%s in another directory) 1", got.RxFrames, hub.DropForeign, got.Drops[hub.DropForeign.String()], tc.stranger)
			}
		})
	}
}

// A peer path with a ".." is where the kernel finds it, through a symbolic
// link if the element before ".." is one: the hub sends to it uncleaned,
// prints it so, and takes the VM that binds it as printed.
func TestUnixgramPeerThroughSymlink(t *testing.T) {
	for _, relative := range []bool{true, false} {
		t.Run(map[bool]string{true: "relative", false: "absolute"}[relative], func(t *testing.T) {
			base := t.TempDir()
			t.Chdir(base)
			if err := os.MkdirAll(filepath.Join(base, "lab", "sub"), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(filepath.Join("lab", "sub"), filepath.Join(base, "x")); err != nil {
				t.Fatal(err)
			}
			peer := "x/../vm.sock" // lab/vm.sock; cleaned, vm.sock in base
			if !relative {
				peer = base + "/" + peer
			}
			h, err := transport.ListenUnixgram("hub.sock", peer, 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer h.Close()
			printed := base + "/x/../vm.sock"
			if got := h.Describe(); !strings.HasSuffix(got, "peer "+printed) {
				t.Errorf("got Describe() = %q, want it to end in %q", got, "peer "+printed)
			}
			vm, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: printed, Net: "unixgram"})
			if err != nil {
				t.Fatal(err)
			}
			defer vm.Close()
			if _, err := os.Stat(filepath.Join(base, "lab", "vm.sock")); err != nil {
				t.Fatalf("the VM's socket is not where the kernel should have put it: %v", err)
			}
			f := transporttest.Frame(0xa1, 60, 0)
			if err := h.WriteFrame(f); err != nil {
				t.Fatalf("got WriteFrame = %v, want the frame sent to %s", err, printed)
			}
			buf := make([]byte, transport.DefaultMaxFrame)
			if n, _, err := vm.ReadFromUnix(buf); err != nil || string(buf[:n]) != string(f) {
				t.Fatalf("got VM read = %d bytes, %v; want the frame", n, err)
			}
			if _, err := vm.WriteToUnix(f, &net.UnixAddr{Name: filepath.Join(base, "hub.sock"), Net: "unixgram"}); err != nil {
				t.Fatal(err)
			}
			if _, err := h.ReadFrame(buf); err != nil {
				t.Errorf("got ReadFrame of the VM's datagram = %v, want the frame", err)
			}
		})
	}
}

// TestUnixgramStalePeerIsDown: a VM that stopped leaves its socket file
// (QEMU does not remove local.path), and sends to it fail with
// ECONNREFUSED, not ENOENT. That is the VM down, counted port-down as a
// missing file is, not a write error, which would read as the hub's fault.
// Both write paths (one datagram per call, and the batch) are held to it.
func TestUnixgramStalePeerIsDown(t *testing.T) {
	dir := t.TempDir()
	hubPath, vmPath := filepath.Join(dir, "hub.sock"), filepath.Join(dir, "vm.sock")
	old, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: vmPath, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	old.Close() // the file stays: a stale socket
	if _, err := os.Stat(vmPath); err != nil {
		t.Fatalf("the stale socket file: %v", err)
	}
	h, err := transport.ListenUnixgram(hubPath, vmPath, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	f := transporttest.Frame(0xa1, 60, 0)
	var fe *hub.FrameError
	if err := h.WriteFrame(f); !errors.As(err, &fe) || fe.Reason != hub.DropDown {
		t.Errorf("got WriteFrame to a stale peer = %v, want a *hub.FrameError with DropDown", err)
	}
	if n, err := h.WriteFrames(hubFrames(f, f)); n != 0 || !errors.As(err, &fe) || fe.Reason != hub.DropDown {
		t.Errorf("got WriteFrames to a stale peer = %d, %v; want 0 and a *hub.FrameError with DropDown", n, err)
	}
}
