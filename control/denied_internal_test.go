package control

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestDeniedOwnSocketIsRetried: a connect denied on the caller's own
// socket (a hub that has not made it 0600 yet, under umask 0277) is a
// plain error, which a wait asks again after; denied on another user's
// socket, or with a directory closed, it is an unsafeSocketError, which
// ends a wait at once.
func TestDeniedOwnSocketIsRetried(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "h.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	denied := &net.OpError{Op: "dial", Net: "unix", Err: os.NewSyscallError("connect", syscall.EACCES)}
	var ue *unsafeSocketError
	if err := refusedSocket(path, denied); err == nil || errors.As(err, &ue) || !errors.Is(err, syscall.EACCES) {
		t.Errorf("got refusedSocket(own socket) = %#v, want a plain error wrapping EACCES, which a wait retries", err)
	}
	if err := refusedSocket(filepath.Join(dir, "closed", "h.sock"), denied); !errors.As(err, &ue) {
		t.Errorf("got refusedSocket(behind a closed directory) = %v, want an unsafeSocketError", err)
	}
	if os.Getuid() != 0 {
		return // only root can give the socket to another user
	}
	if err := os.Lchown(path, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	if err := refusedSocket(path, denied); !errors.As(err, &ue) || !errors.Is(err, ErrNotYours) {
		t.Errorf("got refusedSocket(nobody's socket) = %v, want an unsafeSocketError, ErrNotYours", err)
	}
}
