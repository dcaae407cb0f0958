package control

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"l2hub/internal/ready"
	"l2hub/internal/unixpath"
)

// The control socket is the hub's steering wheel, so who may touch it is
// decided three times: the default socket lives in a directory only its
// user can enter; every socket file is chmod 0600 whatever the umask; and
// both ends check the other's credentials (SO_PEERCRED), so that a socket
// someone else bound at the path, or a connection made before the chmod,
// gets nowhere. A user's hub answers that user's processes and root's, and
// a user's client trusts a hub that root runs; but a client trusts only
// its own user's sockets and root's, so root's ctl refuses a user's hub
// (ErrNotYours) like anyone else's. The refusal does not tell root to run
// the command as that user: the client cannot tell that user's hub from a
// listener squatting the address, and runuser keeps the environment, the
// token in $L2HUB_CONTROL_TOKEN with it.

// DefaultAddr is the control socket `serve`, `ctl` and `inject` use unless
// told otherwise: $XDG_RUNTIME_DIR/l2hub.sock when that directory is the
// caller's own and private (as the XDG spec makes it), else
// l2hub.sock in $TMPDIR/l2hub-UID, a directory Listen creates with mode
// 0700 and refuses to use unless the caller owns it and it is private.
func DefaultAddr() string {
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" && filepath.IsAbs(d) && checkPrivateDir(d) == nil {
		return filepath.Join(d, "l2hub.sock")
	}
	return filepath.Join(defaultDir(), "l2hub.sock")
}

// defaultDir is the fallback directory of the default socket.
func defaultDir() string {
	return filepath.Join(os.TempDir(), fmt.Sprintf("l2hub-%d", os.Getuid()))
}

// prepareDir makes the default socket's directory when it is missing and
// checks that it is the caller's own and private, whoever made it.
func prepareDir(dir string) error {
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("control socket directory: %w", err)
	}
	return checkPrivateDir(dir)
}

// checkPrivateDir checks that dir is a real directory (not a symlink) that
// the caller owns and that nobody else may enter.
func checkPrivateDir(dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("control socket directory: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("control socket directory %s is not a directory (a symlink?): remove it, or use --control", dir)
	}
	if uid, ok := fileOwner(fi); ok && uid != os.Getuid() {
		return fmt.Errorf("control socket directory %s %w (uid %d, you are uid %d): remove it, or use --control", dir, ErrNotYours, uid, os.Getuid())
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("control socket directory %s has mode %04o, want 0700 (only you): chmod 700 %s, or use --control", dir, perm, dir)
	}
	return nil
}

// fileOwner returns the uid that owns fi.
func fileOwner(fi fs.FileInfo) (int, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return int(st.Uid), true
}

// trusted says whether a socket or peer owned by uid may be talked to: the
// caller's own, or root's.
func trusted(uid int) bool { return uid == os.Getuid() || uid == 0 }

// checkSocketOwner refuses a socket file that belongs to someone other than
// the caller or root: it is not the caller's hub.
func checkSocketOwner(path string) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return nil // the dial says what is wrong
	}
	if uid, ok := fileOwner(fi); ok && !trusted(uid) {
		return fmt.Errorf("control socket %s %w (%s; you are uid %d): refusing to talk to it%s", path, ErrNotYours, ready.Who(uid), os.Getuid(), notTrusted(path))
	}
	return nil
}

// notTrusted ends the refusal of another user's control socket: what it
// means and how to go on. It does not say to run the command as that user:
// whoever holds the path may be a squatter, which would then get what is
// sent, and with runuser the caller's $L2HUB_CONTROL_TOKEN too.
func notTrusted(path string) string {
	return fmt.Sprintf(": it is not trusted, since whoever holds the path would get what is sent (the token too); "+
		"see who runs it (ls -l %s; ss -xlp), and give your hub a socket path of your own (serve --control PATH) and use that path", path)
}

// deniedSocket says why the connect to a unix control socket was denied
// (err, EACCES or EPERM): the socket, mode 0600, is another user's (root's
// hub, to a user), or a directory on its path is closed to the caller.
// Asking again cannot change that: the error is an unsafeSocketError,
// which ends a wait at once. The caller's own socket is the exception: a
// hub binds it with mode 0777 less the umask and makes it 0600 a moment
// later, so under a umask that takes the owner's write bit (0277) a wait
// may meet it before the chmod; that error is a plain one, and a wait
// asks again.
func deniedSocket(path string, err error) error {
	fi, lerr := os.Lstat(path)
	if lerr != nil {
		return fmt.Errorf("control socket %s: %w: a directory on its path is closed to you (uid %d)", path, err, os.Getuid())
	}
	uid, ok := fileOwner(fi)
	switch {
	case !ok:
		return fmt.Errorf("control socket %s (mode %04o): %w", path, fi.Mode().Perm(), err)
	case uid != os.Getuid():
		return fmt.Errorf("control socket %s %w, %s (mode %04o; you are uid %d): only its owner and root may talk to it: %w",
			path, ErrNotYours, ready.Who(uid), fi.Mode().Perm(), os.Getuid(), err)
	}
	return fmt.Errorf("control socket %s is yours, but its mode %04o does not let you write to it: %w: chmod 600 %s", path, fi.Mode().Perm(), err, path)
}

// refusedSocket wraps deniedSocket's answer as unsafeSocketError, but for
// the caller's own socket (see deniedSocket).
func refusedSocket(path string, err error) error {
	err = deniedSocket(path, err)
	if fi, lerr := os.Lstat(path); lerr == nil {
		if uid, ok := fileOwner(fi); ok && uid == os.Getuid() {
			return err
		}
	}
	return &unsafeSocketError{err}
}

// checkPeer refuses a unix connection whose other end runs as someone other
// than the caller or root. Where the system cannot say, it trusts the
// socket file's owner (checked before the dial).
func checkPeer(c net.Conn, path string) error {
	uid, err := peerUID(c)
	switch {
	case errors.Is(err, errors.ErrUnsupported):
		return nil
	case err != nil:
		return fmt.Errorf("control socket %s: peer credentials: %w", path, err)
	case !trusted(uid):
		return fmt.Errorf("control socket %s is served by %s, %w (you are uid %d): refusing to talk to it%s", path, ready.Who(uid), ErrNotYours, os.Getuid(), notTrusted(path))
	}
	return nil
}

// checkTCPPeer refuses a TCP connection whose server runs on this host as
// someone other than the caller or root, before the client sends it a
// byte (the token): any local user may bind a loopback port that the hub
// does not hold at that moment (before it starts, while it restarts, a
// port mistyped, the local end of an ssh -L that could not bind it). On
// Linux the kernel names the server's socket's owner (tcpServerUID), as
// SO_PEERCRED names a unix socket's; a loopback address, or another of
// this host's (servedHere), whose server this host has no socket for (a
// NAT rule sent it elsewhere) is refused too,
// and so is any address when the kernel cannot be asked at all (a /proc
// without net/ and no NETLINK_SOCK_DIAG). A server on another host is not
// checked: the token goes where the address points. A hub in another
// user namespace shows as uid 65534 (unmapped) and is refused. In each
// refusal the way on is a unix socket, which the file's mode protects.
// Elsewhere than Linux nothing is checked.
func checkTCPPeer(c net.Conn, addr string) error {
	uid, found, err := serverUID(c)
	const unixHint = "; talk to the hub over a unix socket instead: serve --control PATH, and the same --control PATH to ctl, wait or inject"
	switch {
	case errors.Is(err, errors.ErrUnsupported):
		return nil
	case err != nil:
		return fmt.Errorf("control address %s: who serves it cannot be told: %w: refusing to send it the token%s", addr, err, unixHint)
	case found && !trusted(uid):
		hint := "(is the hub running, on that port? another user's process holds it)"
		if uid == overflowUID {
			hint = "(another user's process holds it: nobody's or, if this runs in a user namespace, that of a user it does not map, whose hub cannot be checked)"
		}
		return fmt.Errorf("control address %s is served by %s, %w (you are uid %d): refusing to send it the token %s%s",
			addr, ready.Who(uid), ErrNotYours, os.Getuid(), hint, unixHint)
	case !found:
		la, lok := c.LocalAddr().(*net.TCPAddr)
		ra, rok := c.RemoteAddr().(*net.TCPAddr)
		if lok && rok && servedHere(la, ra) {
			return fmt.Errorf("control address %s: no TCP socket of this host holds the connection's other end (a NAT rule, DNAT or REDIRECT, sent it elsewhere?), "+
				"so who serves it cannot be told: refusing to send it the token%s", addr, unixHint)
		}
	}
	return nil
}

// servedHere says whether a connection from local to remote goes to this
// host: remote is a loopback address, or one of this host's (the kernel
// then picks it as the source too). If this host's addresses cannot be
// listed, it says so, which refuses a server that is not found.
func servedHere(local, remote *net.TCPAddr) bool {
	if remote.IP.IsLoopback() || remote.IP.Equal(local.IP) {
		return true
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return true
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.Equal(remote.IP) {
			return true
		}
	}
	return false
}

// errNoLookup is a server's socket that cannot be looked up at all.
var errNoLookup = errors.New("this host does not say who holds a TCP socket")

// serverUID is tcpServerUID, or a test's stand-in.
var serverUID = tcpServerUID

// overflowUID is the uid the kernel shows for one a user namespace does
// not map (/proc/sys/kernel/overflowuid, by default).
const overflowUID = 65534

// checkSocketPathLen refuses a socket path longer than the kernel takes,
// which it would answer with a bare EINVAL ("bind: invalid argument").
func checkSocketPathLen(path string) error {
	if len(path) > unixpath.MaxLen {
		return fmt.Errorf("control socket %s: the path is %d bytes, and a unix socket path is at most %d: "+
			"give a shorter one (a path relative to the working directory counts as written)", path, len(path), unixpath.MaxLen)
	}
	return nil
}

// listenUnix binds a unix control socket at path with mode 0600.
func listenUnix(path string) (net.Listener, error) {
	if err := checkSocketPathLen(path); err != nil {
		return nil, err
	}
	if err := clearStaleSocket(path); err != nil {
		return nil, err
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	// The file's mode follows the umask, and whoever may write to it may
	// connect. A connection made before the chmod is refused by the
	// server's credential check.
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	return l, nil
}

// clearStaleSocket removes a socket file left by a hub that is gone, and
// refuses a path that someone else holds or that a running hub answers on.
func clearStaleSocket(path string) error {
	fi, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("control socket %s: %w", path, err)
	case fi.Mode()&fs.ModeSocket == 0:
		return fmt.Errorf("control socket %s: exists and is not a socket", path)
	}
	if err := checkSocketOwner(path); err != nil {
		return err
	}
	c, err := net.DialTimeout("unix", path, time.Second)
	if err == nil {
		c.Close()
		return fmt.Errorf("control socket %s: %w (use --control to pick another path)", path, ErrInUse)
	}
	return os.Remove(path)
}
