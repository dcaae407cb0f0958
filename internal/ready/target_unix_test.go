//go:build unix

package ready

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestRemoveOnlyTheFileWritten: Remove deletes the ready file Write made
// and nothing else: not another hub's ready file written over it since,
// nor a FIFO put in its place.
func TestRemoveOnlyTheFileWritten(t *testing.T) {
	for _, tt := range []struct {
		name    string
		replace func(t *testing.T, path string) // after Write; nil: nothing
		removed bool
	}{
		{"as-written", nil, true},
		{"another-hubs", func(t *testing.T, path string) {
			// Renamed over it, as a hub older than the lock would.
			other := path + ".other"
			if err := os.WriteFile(other, []byte(`{"pid": 1}`), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(other, path); err != nil {
				t.Fatal(err)
			}
		}, false},
		{"a-fifo", func(t *testing.T, path string) {
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			if err := syscall.Mkfifo(path, 0o600); err != nil {
				t.Skipf("mkfifo: %v", err)
			}
		}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "hub.ready")
			f, err := Write(path, Info{PID: os.Getpid()})
			if err != nil {
				t.Fatal(err)
			}
			if tt.replace != nil {
				tt.replace(t, path)
			}
			if err := f.Remove(); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Lstat(path); errors.Is(err, os.ErrNotExist) != tt.removed {
				t.Errorf("got Lstat after Remove = %v, want removed %v", err, tt.removed)
			}
		})
	}
}

// TestReadyFileMustBeARegularFile: a ready file goes where nothing is or a
// regular file is. Anything else there is refused by Check and by Write,
// and left as it was: a FIFO (the hub's start would wait for a reader),
// a device, a link (to a file or a device), a socket, a directory.
func TestReadyFileMustBeARegularFile(t *testing.T) {
	for _, tt := range []struct {
		name, want string
		make       func(t *testing.T, path string)
	}{
		{"fifo", "is a FIFO", func(t *testing.T, path string) {
			if err := syscall.Mkfifo(path, 0o600); err != nil {
				t.Skipf("mkfifo: %v", err)
			}
			// A reader, so that a write there does not wait for one.
			r, err := os.OpenFile(path, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { r.Close() })
		}},
		{"device", "is a device", func(t *testing.T, path string) {
			if err := syscall.Mknod(path, syscall.S_IFCHR|0o666, 1<<8|3); err != nil {
				t.Skipf("mknod a null device (needs root and CAP_MKNOD): %v", err)
			}
		}},
		{"link-to-a-file", "is a symbolic link", func(t *testing.T, path string) {
			to := path + ".target"
			if err := os.WriteFile(to, []byte("kept\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(to, path); err != nil {
				t.Fatal(err)
			}
		}},
		{"link-to-a-device", "is a symbolic link", func(t *testing.T, path string) {
			if err := os.Symlink(os.DevNull, path); err != nil {
				t.Fatal(err)
			}
		}},
		{"socket", "is a socket", func(t *testing.T, path string) {
			l, err := net.Listen("unix", path)
			if err != nil {
				t.Skipf("unix socket: %v", err)
			}
			t.Cleanup(func() { l.Close() })
		}},
		{"directory", "is a directory", func(t *testing.T, path string) {
			if err := os.Mkdir(path, 0o755); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "hub.ready")
			tt.make(t, path)
			was := lstat(path)
			want := "ready file: write " + path + ": " + tt.want + "; a ready file must be a regular file or a new path"
			for name, err := range map[string]error{"Check": Check(path), "WriteFile": WriteFile(path, Info{PID: os.Getpid()})} {
				if err == nil || !strings.HasPrefix(err.Error(), want) {
					t.Errorf("got %s = %v, want %s (...)", name, err, want)
				}
			}
			if now := lstat(path); now != was {
				t.Errorf("got %s after, want it as it was: %s", now, was)
			}
		})
	}
}

// lstat says what path is without following a link: its mode, and where a
// link leads.
func lstat(path string) string {
	fi, err := os.Lstat(path)
	if err != nil {
		return err.Error()
	}
	to, _ := os.Readlink(path)
	return fmt.Sprintf("%v %d %q", fi.Mode(), fi.Size(), to)
}
