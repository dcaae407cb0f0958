package transport_test

import (
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"l2hub/internal/nobody"
	"l2hub/transport"
)

// helpers are what these tests run as nobody (see TestMain).
var helpers = map[string]nobody.Helper{
	// dial NETWORK PATH: connect; print "connected" or "dial error: ...".
	"dial": func(args []string) int {
		if len(args) != 2 {
			fmt.Println("usage: dial NETWORK PATH")
			return 2
		}
		c, err := net.Dial(args[0], args[1])
		if err != nil {
			fmt.Println("dial error:", err)
			return 0
		}
		c.Close()
		fmt.Println("connected")
		return 0
	},
}

// withUmask runs f under umask, restoring the old one after. The umask is
// the process's: no test of this package runs in parallel with another.
func withUmask(umask int, f func()) {
	old := syscall.Umask(umask)
	defer syscall.Umask(old)
	f()
}

// socketDir returns a directory for socket files that nobody may enter.
func socketDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "l2hub-sockmode-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// The socket file a unix or unixgram port binds has mode 0600, or its
// mode= option's, whatever the umask: 000 does not open it, 077 does not
// close a mode= that asks for more.
func TestSocketMode(t *testing.T) {
	for _, tc := range []struct {
		name  string
		tr    transport.Transport
		mode  string // the mode= option, "" for none
		umask int
		want  fs.FileMode
	}{
		{"unix-default-umask-000", transport.Unix, "", 0o000, 0o600},
		{"unix-mode-0660", transport.Unix, "0660", 0o000, 0o660},
		{"unix-mode-0666-umask-077", transport.Unix, "0666", 0o077, 0o666},
		{"unix-mode-0", transport.Unix, "0", 0o000, 0},
		{"unixgram-default-umask-000", transport.Unixgram, "", 0o000, 0o600},
		{"unixgram-mode-660", transport.Unixgram, "660", 0o000, 0o660},
		{"unixgram-mode-0o640", transport.Unixgram, "0o640", 0o000, 0o640},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "hub.sock")
			spec := transport.Spec{Name: "p", Transport: tc.tr, Address: path}
			if tc.tr == transport.Unixgram {
				spec.Peer = path + ".vm"
			}
			if tc.mode != "" {
				spec.Options = transport.SpecOptions{"mode": tc.mode}
			}
			var r transport.Runner
			var err error
			withUmask(tc.umask, func() { r, err = spec.Open(transport.Options{}) })
			if err != nil {
				t.Fatalf("Open(%s): %v", spec, err)
			}
			fi, err := os.Lstat(path)
			r.Close()
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Type() != fs.ModeSocket || fi.Mode().Perm() != tc.want {
				t.Errorf("Open(%s) under umask %03o: socket file %v, want a socket of mode %v", spec, tc.umask, fi.Mode(), fs.ModeSocket|tc.want)
			}
			if _, err := os.Lstat(path); err == nil {
				t.Errorf("socket file left after Close")
			}
		})
	}
	t.Run("ListenUnixgram", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "hub.sock")
		var c *transport.DatagramConn
		var err error
		withUmask(0, func() { c, err = transport.ListenUnixgram(path, filepath.Join(dir, "vm.sock"), 0, 0) })
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if fi, err := os.Lstat(path); err != nil || fi.Mode().Perm() != transport.DefaultSocketMode {
			t.Errorf("ListenUnixgram under umask 000: mode %v (%v), want %v", fi.Mode().Perm(), err, transport.DefaultSocketMode)
		}
	})
}

// A bad mode= is refused before anything is bound, saying what to write.
func TestSocketModeRefused(t *testing.T) {
	for _, mode := range []string{"0800", "1777", "01000", "rw-rw----", "", "-600", "0x1ff", "0o"} {
		path := filepath.Join(t.TempDir(), "hub.sock")
		spec := transport.Spec{Name: "p", Transport: transport.Unix, Address: path, Options: transport.SpecOptions{"mode": mode}}
		r, err := spec.Open(transport.Options{})
		if err == nil {
			r.Close()
			t.Errorf("Open with mode=%q = nil error, want a refusal", mode)
			continue
		}
		want := fmt.Sprintf(`port "p": options.mode %q: want the socket file's permissions in octal, 0..0777`, mode)
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Open with mode=%q = %q, want it to say %q", mode, err, want)
		}
		if _, err := os.Lstat(path); err == nil {
			t.Errorf("mode=%q: a socket file was bound all the same", mode)
		}
	}
}

// Under umask 000 another local user cannot attach as the VM: connecting
// to the port's socket is refused, unless mode= lets them.
func TestSocketModeKeepsOthersOut(t *testing.T) {
	for _, tc := range []struct {
		tr   transport.Transport
		net  string
		mode string
		want string
	}{
		{transport.Unix, "unix", "", "permission denied"},
		{transport.Unix, "unix", "0666", "connected"},
		{transport.Unixgram, "unixgram", "", "permission denied"},
		{transport.Unixgram, "unixgram", "0666", "connected"},
	} {
		name := string(tc.tr) + "-default"
		if tc.mode != "" {
			name = string(tc.tr) + "-mode-" + tc.mode
		}
		t.Run(name, func(t *testing.T) {
			dir := socketDir(t)
			path := filepath.Join(dir, "hub.sock")
			spec := transport.Spec{Name: "p", Transport: tc.tr, Address: path}
			if tc.tr == transport.Unixgram {
				spec.Peer = filepath.Join(dir, "vm.sock")
			}
			if tc.mode != "" {
				spec.Options = transport.SpecOptions{"mode": tc.mode}
			}
			var r transport.Runner
			var err error
			withUmask(0, func() { r, err = spec.Open(transport.Options{}) })
			if err != nil {
				t.Fatalf("Open(%s): %v", spec, err)
			}
			defer r.Close()
			out, err := nobody.Command(t, "dial", tc.net, path).CombinedOutput()
			if err != nil {
				t.Fatalf("helper: %v\n%s", err, out)
			}
			if got := strings.TrimSpace(string(out)); !strings.Contains(got, tc.want) {
				t.Errorf("nobody connecting to %s: got %q, want %q", spec, got, tc.want)
			}
		})
	}
}
