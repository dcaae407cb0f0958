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
// (QEMU binds local.path as given), or as the config writes it; a stranger
// is refused, and the refusal names it. Both read paths (one datagram per
// call, and the batch) are held to it.
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
		{"dot-slash", "./vm.sock", true},
		{"doubled-slash", dir + "//vm.sock", true},
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
