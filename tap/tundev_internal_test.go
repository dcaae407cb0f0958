//go:build linux

package tap

import (
	"errors"
	"io/fs"
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// Each way /dev/net/tun can fail says what is missing and how to fix it.
func TestTUNError(t *testing.T) {
	ioctl := func(e unix.Errno) error { return os.NewSyscallError("ioctl", e) }
	for _, tc := range []struct {
		name   string
		err    error
		want   []string
		wantIs error
	}{
		{"tun-missing", unix.ENOENT, []string{"open /dev/net/tun", "missing", "modprobe tun", "container", "--device /dev/net/tun"}, fs.ErrNotExist},
		{"tun-missing-path-error", &fs.PathError{Op: "open", Path: TUNPath, Err: unix.ENOENT}, []string{"open /dev/net/tun: no such file", "--device /dev/net/tun"}, fs.ErrNotExist},
		{"driver-not-loaded", unix.ENODEV, []string{"open /dev/net/tun", "modprobe tun"}, unix.ENODEV},
		{"tun-not-accessible", unix.EACCES, []string{"open /dev/net/tun", "run as root", "setcap cap_net_admin+ep", "0666"}, fs.ErrPermission},
		{"no-cap-net-admin", ioctl(unix.EPERM), []string{"create TAP device", "CAP_NET_ADMIN", "setcap cap_net_admin+ep"}, fs.ErrPermission},
		{"busy", ioctl(unix.EBUSY), []string{"another program"}, unix.EBUSY},
		{"other-ioctl", ioctl(unix.EINVAL), []string{"create TAP device", "invalid argument"}, unix.EINVAL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tunError(tc.err)
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("tunError(%v) = %q, want it to say %q", tc.err, err, w)
				}
			}
			if !errors.Is(err, tc.wantIs) {
				t.Errorf("errors.Is(tunError(%v), %v) = false, want true", tc.err, tc.wantIs)
			}
		})
	}
}

func TestNetnsPath(t *testing.T) {
	for _, tc := range []struct {
		spec      string
		wantPath  string
		wantNamed bool
		wantErr   bool
	}{
		{"lab", "/run/netns/lab", true, false},
		{"/proc/1/ns/net", "/proc/1/ns/net", false, false},
		{"./lab", "./lab", false, false},
		{"", "", false, true},
		{".", "", false, true},
		{"..", "", false, true},
	} {
		path, named, err := netnsPath(tc.spec)
		if path != tc.wantPath || named != tc.wantNamed || (err != nil) != tc.wantErr {
			t.Errorf("netnsPath(%q) = %q, %v, %v; want %q, %v, error %v", tc.spec, path, named, err, tc.wantPath, tc.wantNamed, tc.wantErr)
		}
	}
}

// A namespace file l2hub may not open: under /proc the cause is the ptrace
// check on that process, whoever l2hub runs as; elsewhere, root is not told
// to run as root.
func TestOpenNetnsHint(t *testing.T) {
	for _, tc := range []struct {
		name        string
		path        string
		euid        int
		want, avoid string
	}{
		{"proc-as-root", "/proc/1/ns/net", 0, "ptrace", "run as root"},
		{"proc-as-user", "/proc/1234/ns/net", 1000, "ptrace", "run as root"},
		{"file-as-user", "/run/netns/lab", 1000, "run as root or grant CAP_SYS_ADMIN", "ptrace"},
		{"file-as-root", "/run/netns/lab", 0, "runs as root", "run as root or"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := openNetnsHint(tc.path, tc.euid)
			if !strings.Contains(got, tc.want) || strings.Contains(got, tc.avoid) {
				t.Errorf("openNetnsHint(%q, euid %d) = %q, want it to say %q and not %q", tc.path, tc.euid, got, tc.want, tc.avoid)
			}
		})
	}
}

// A named namespace l2hub may not create: a user is told it takes root;
// root, refused all the same, is told what else to check.
func TestCreateNetnsHint(t *testing.T) {
	for _, tc := range []struct {
		name        string
		euid        int
		want, avoid string
	}{
		{"as-user", 1000, "sudo ip netns add lab", "runs as root"},
		{"as-root", 0, "runs as root and was refused", "takes root"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := createNetnsHint("lab", tc.euid)
			if !strings.Contains(got, tc.want) || strings.Contains(got, tc.avoid) {
				t.Errorf("createNetnsHint(\"lab\", euid %d) = %q, want it to say %q and not %q", tc.euid, got, tc.want, tc.avoid)
			}
		})
	}
}
