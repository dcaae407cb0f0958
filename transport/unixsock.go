package transport

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"l2hub/internal/unixpath"
)

// DefaultSocketMode is the mode of the socket file a unix or unixgram port
// binds, whatever the umask, unless its mode= option says otherwise: only
// the hub's user may connect, since whoever may connect to a VM's port is
// that VM on the segment.
const DefaultSocketMode fs.FileMode = 0o600

// absSocketPath is path, relative to the working directory, as an
// absolute path: what a runner's Spec gives (QEMUArgs, the banner, the
// ready file) for a unix socket, so that a QEMU started in another
// directory (a lab's, a script's) finds it, and where a unixgram port
// sends. It names the file path names: "." and doubled slashes go, but a
// path with a ".." keeps it, since the kernel resolves "x/.." through x,
// which may be a symbolic link, where cleaning would drop both. A path
// whose absolute form would pass the bytes a socket address holds
// (unixpath.MaxLen), or an abstract name (Linux's "@name"), stays as it
// is.
func absSocketPath(path string) string {
	if path == "" || filepath.IsAbs(path) || path[0] == '@' {
		return path
	}
	wd, err := os.Getwd()
	if err != nil {
		return path
	}
	abs := filepath.Join(wd, path)
	if hasDotDot(path) {
		abs = strings.TrimSuffix(wd, string(filepath.Separator)) + string(filepath.Separator) + path
	}
	if len(abs) > unixpath.MaxLen {
		return path
	}
	return abs
}

// hasDotDot says whether path has a ".." element.
func hasDotDot(path string) bool {
	for e := range strings.SplitSeq(filepath.ToSlash(path), "/") {
		if e == ".." {
			return true
		}
	}
	return false
}

// listenUnix listens on a unix stream socket at path whose file has mode
// whatever the umask. The socket is bound, its file chmod'ed, and only then
// does it listen: until it does, a connect is refused, so no one the mode
// excludes can get a connection queued while the file has the umask's
// mode. Close removes the file.
func listenUnix(path string, mode fs.FileMode) (net.Listener, error) {
	f, err := bindUnix(path, syscall.SOCK_STREAM, mode)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	ln, err := net.FileListener(f)
	if err != nil {
		removeSocketFile(path)
		return nil, fmt.Errorf("listen unix %s: %w", path, err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(true)
	return ln, nil
}

// listenUnixgram binds a unix datagram socket at path whose file has mode
// whatever the umask. A datagram socket has no listen to wait for: for the
// microseconds between bind and chmod a local user could send to it or
// connect to it (and go on sending), which is why a unixgram port takes
// only the datagrams whose source is its peer= path, absolute or exactly
// as written (foreign-source drops the rest; see classify). Closing the
// conn leaves the file; the caller removes it.
func listenUnixgram(path string, mode fs.FileMode) (*net.UnixConn, error) {
	f, err := bindUnix(path, syscall.SOCK_DGRAM, mode)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	c, err := net.FilePacketConn(f)
	if err != nil {
		removeSocketFile(path)
		return nil, fmt.Errorf("listen unixgram %s: %w", path, err)
	}
	return c.(*net.UnixConn), nil
}

// bindUnix returns a unix socket of type typ bound at path, its file's mode
// set to mode, listening if it is a stream socket. The caller closes the
// returned file once net has its own copy of the descriptor.
func bindUnix(path string, typ int, mode fs.FileMode) (*os.File, error) {
	network := "unix"
	if typ == syscall.SOCK_DGRAM {
		network = "unixgram"
	}
	fail := func(op string, err error) error {
		return &net.OpError{Op: "listen", Net: network, Addr: &net.UnixAddr{Name: path, Net: network}, Err: os.NewSyscallError(op, err)}
	}
	// As the net package does where socket(2) takes no SOCK_CLOEXEC: no
	// fork may copy the descriptor before it is marked close-on-exec.
	syscall.ForkLock.RLock()
	fd, err := syscall.Socket(syscall.AF_UNIX, typ, 0)
	if err == nil {
		syscall.CloseOnExec(fd)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return nil, fail("socket", err)
	}
	f := os.NewFile(uintptr(fd), path)
	if err := syscall.Bind(fd, &syscall.SockaddrUnix{Name: path}); err != nil {
		f.Close()
		return nil, fail("bind", err)
	}
	if err := os.Chmod(path, mode); err != nil {
		f.Close()
		removeSocketFile(path)
		return nil, fmt.Errorf("%s %s: setting the socket's mode %#o: %w", network, path, mode, err)
	}
	if typ == syscall.SOCK_STREAM {
		if err := syscall.Listen(fd, syscall.SOMAXCONN); err != nil {
			f.Close()
			removeSocketFile(path)
			return nil, fail("listen", err)
		}
	}
	return f, nil
}

// clearStaleSocket makes path free to bind. Nothing there is fine. A socket
// file that refuses a connection is a leftover of a process that died
// without unlinking it, and is removed. A socket that answers is in use
// (ErrAddrInUse). Anything that is not a socket is never touched.
func clearStaleSocket(network, path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s %s: %w", network, path, err)
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("%s %s: exists and is not a socket but %s; not replacing it", network, path, describeFile(path, fi.Mode()))
	}
	c, err := net.DialTimeout(network, path, time.Second)
	if err == nil {
		c.Close()
		return fmt.Errorf("%s %s: another process is listening there: %w", network, path, ErrAddrInUse)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("%s %s: socket file exists and may be in use (%v): %w", network, path, err, ErrAddrInUse)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s %s: removing stale socket: %w", network, path, err)
	}
	return nil
}

// describeFile says what a file that is not a socket is, for a person
// deciding whether to remove it: "a regular file, mode 0644", "a
// directory, mode 0755", "a symbolic link to /x".
func describeFile(path string, fi fs.FileMode) string {
	perm := fmt.Sprintf(", mode %04o", fi.Perm())
	switch t := fi.Type(); {
	case t.IsRegular():
		return "a regular file" + perm
	case t&fs.ModeDir != 0:
		return "a directory" + perm
	case t&fs.ModeSymlink != 0:
		if to, err := os.Readlink(path); err == nil {
			return "a symbolic link to " + to
		}
		return "a symbolic link"
	case t&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)" + perm
	case t&fs.ModeCharDevice != 0:
		return "a character device" + perm
	case t&fs.ModeDevice != 0:
		return "a block device" + perm
	}
	return fmt.Sprintf("a file of type %s", fi.Type())
}

// removeSocketFile removes path if it is still a socket file.
func removeSocketFile(path string) {
	if fi, err := os.Lstat(path); err == nil && fi.Mode().Type() == fs.ModeSocket {
		os.Remove(path)
	}
}
