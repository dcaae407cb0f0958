//go:build linux

package tap

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// capsHint says how to run with the privileges namespaces need.
const capsHint = "run as root or grant CAP_SYS_ADMIN and CAP_NET_ADMIN (setcap cap_sys_admin,cap_net_admin+ep $(which l2hub))"

// openNetnsHint says why opening the namespace file at path may have been
// refused to a process running as euid. Another process's /proc/PID/ns/net
// opens only with ptrace access to that process, which root lacks too for
// a process with capabilities it has not got (pid 1 in a container).
func openNetnsHint(path string, euid int) string {
	switch {
	case strings.HasPrefix(filepath.Clean(path), "/proc/"):
		return "a process's namespace file opens only with ptrace access to it: the process must run as l2hub's user and hold no capability l2hub lacks (or grant l2hub CAP_SYS_PTRACE)"
	case euid == 0:
		return "l2hub runs as root and was refused all the same: check the file's permissions, the security policy (AppArmor, SELinux) and l2hub's capabilities (CAP_SYS_ADMIN)"
	}
	return capsHint
}

// createNetnsHint says how to get the named namespace l2hub may not
// create: a name is a file made in NetnsDir, root's and mode 0755, which
// CAP_SYS_ADMIN does not let a user write (nor does a setcap l2hub); an
// existing namespace is entered with CAP_SYS_ADMIN. Root refused all the
// same (a read-only /run, a security policy, a container that dropped
// CAP_SYS_ADMIN) is told what to check instead.
func createNetnsHint(name string, euid int) string {
	if euid == 0 {
		return fmt.Sprintf("l2hub runs as root and was refused all the same: check that %s is writable, the security policy (AppArmor, SELinux, a container's seccomp profile) and l2hub's capabilities (CAP_SYS_ADMIN, which a container may drop)", NetnsDir)
	}
	return fmt.Sprintf("creating a named namespace takes root (it is a file made in %s): run as root, or create it first with `sudo ip netns add %s` and grant l2hub CAP_SYS_ADMIN and CAP_NET_ADMIN to enter it (setcap cap_sys_admin,cap_net_admin+ep $(which l2hub))", NetnsDir, name)
}

// namedNetns counts this process's users of each named namespace it opened,
// so that a namespace a port created is deleted when its last user closes,
// not under another port still in it.
var namedNetns = struct {
	sync.Mutex
	m map[string]*netnsEntry
}{m: map[string]*netnsEntry{}}

type netnsEntry struct {
	users   int
	created bool
	// For a namespace this process created: what it was then, so that
	// release deletes the name only while it still names that namespace
	// and nobody else has put an interface in it.
	id      nsID
	initial map[int]bool // its interfaces' indexes: lo, and the kernel's fallback tunnels (sit0, ...)
}

// nsID identifies a namespace: nsfs's device and the namespace's inode, as
// stat(2) of its /proc or bind-mounted file gives them.
type nsID struct{ dev, ino uint64 }

// netnsRef is one user's hold on a network namespace.
type netnsRef struct {
	spec    string         // as configured: a name or a path
	name    string         // set for a named namespace (registered in namedNetns)
	h       netns.NsHandle // open while the ref is held
	created bool           // this process created the named namespace
	log     *slog.Logger   // says why release leaves a namespace it created
}

// netnsPath says where a netns= value points: a path as given, a name under
// NetnsDir. Names cannot be "." or "..": they would escape NetnsDir.
func netnsPath(spec string) (path string, named bool, err error) {
	if strings.Contains(spec, "/") {
		return spec, false, nil
	}
	if spec == "" || spec == "." || spec == ".." {
		return "", false, fmt.Errorf("netns %q: want a namespace name or a path", spec)
	}
	return filepath.Join(NetnsDir, spec), true, nil
}

// acquireNetns opens the namespace spec names. A missing named namespace is
// created the way `ip netns add` does, if create is set; a path is only ever
// opened. log (nil discards) hears why release leaves a namespace.
func acquireNetns(spec string, create bool, log *slog.Logger) (*netnsRef, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	path, named, err := netnsPath(spec)
	if err != nil {
		return nil, err
	}
	if !named {
		h, err := openNetns(path)
		if err != nil {
			return nil, err
		}
		return &netnsRef{spec: spec, h: h, log: log}, nil
	}
	namedNetns.Lock()
	defer namedNetns.Unlock()
	e := namedNetns.m[spec]
	if e == nil {
		e = &netnsEntry{}
		if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
			if !create {
				return nil, fmt.Errorf("network namespace %s does not exist (no %s; create it with `ip netns add %s`)", spec, path, spec)
			}
			if e.created, err = createNetns(spec, path); err != nil {
				return nil, err
			}
		}
	}
	h, err := openNetns(path)
	if err == nil && e.created && e.users == 0 {
		if e.id, e.initial, err = identify(h); err != nil {
			h.Close()
		}
	}
	if err != nil {
		if e.created && e.users == 0 {
			deleteNetns(path)
		}
		return nil, err
	}
	e.users++
	namedNetns.m[spec] = e
	return &netnsRef{spec: spec, name: spec, h: h, created: e.created, log: log}, nil
}

// identify returns the namespace's identity and the indexes of the
// interfaces it has.
func identify(h netns.NsHandle) (nsID, map[int]bool, error) {
	var st unix.Stat_t
	if err := unix.Fstat(int(h), &st); err != nil {
		return nsID{}, nil, fmt.Errorf("stat the new network namespace: %w", err)
	}
	links, err := linksIn(h)
	if err != nil {
		return nsID{}, nil, fmt.Errorf("list the new network namespace's interfaces: %w", err)
	}
	initial := map[int]bool{}
	for _, l := range links {
		initial[l.Attrs().Index] = true
	}
	return nsID{dev: uint64(st.Dev), ino: uint64(st.Ino)}, initial, nil
}

func linksIn(h netns.NsHandle) ([]netlink.Link, error) {
	nl, err := netlinkAt(h)
	if err != nil {
		return nil, err
	}
	defer nl.Close()
	return nl.LinkList()
}

// netlinkIn opens a netlink handle in ref's namespace (nil: the calling
// thread's).
func netlinkIn(ref *netnsRef) (*netlink.Handle, error) {
	if ref == nil {
		nl, err := netlink.NewHandle(unix.NETLINK_ROUTE)
		if err != nil {
			return nil, fmt.Errorf("open netlink: %w", err)
		}
		return nl, nil
	}
	return netlinkAt(ref.h)
}

// netlinkAt opens a netlink handle in namespace h. The socket is made on a
// thread inNetns switched there (a socket stays in the namespace it was
// made in), not by netlink.NewHandleAt: that one reports a refused switch
// by a descriptor number, with no hint, and unlocks its thread even when
// it failed to switch back.
func netlinkAt(h netns.NsHandle) (*netlink.Handle, error) {
	var nl *netlink.Handle
	err := inNetns(h, func() (err error) {
		if nl, err = netlink.NewHandle(unix.NETLINK_ROUTE); err != nil {
			return fmt.Errorf("open netlink: %w", err)
		}
		return nil
	})
	return nl, err
}

// release closes the ref's handle and, when it was the last user of a
// namespace this process created, deletes the namespace: it removes the
// name, as `ip netns del` does, and processes still inside keep the
// namespace alive, unnamed. The name is left, and the log says why, when it
// names another namespace by now (deleted and made again under the hub), or
// when the namespace holds an interface it did not have when created (one
// of another hub that joined it by name, one the user added): its users
// then keep their `ip netns exec NAME`. (Someone adding an interface between
// the check and the removal is not seen.)
func (r *netnsRef) release() error {
	if r == nil {
		return nil
	}
	defer r.h.Close()
	if r.name == "" {
		return nil
	}
	namedNetns.Lock()
	defer namedNetns.Unlock()
	e := namedNetns.m[r.name]
	if e == nil {
		return nil
	}
	e.users--
	if e.users > 0 {
		return nil
	}
	delete(namedNetns.m, r.name)
	if !e.created {
		return nil
	}
	path := filepath.Join(NetnsDir, r.name)
	var st unix.Stat_t
	switch err := unix.Stat(path, &st); {
	case errors.Is(err, unix.ENOENT):
		return nil // deleted already (`ip netns del`)
	case err != nil:
		return fmt.Errorf("delete network namespace %q: %w", r.name, &fs.PathError{Op: "stat", Path: path, Err: err})
	case (nsID{dev: uint64(st.Dev), ino: uint64(st.Ino)}) != e.id:
		r.log.Info(fmt.Sprintf("left network namespace %s as it is: the name refers to another namespace now, not the one l2hub created", r.name))
		return nil
	}
	links, err := linksIn(r.h)
	if err != nil {
		return fmt.Errorf("delete network namespace %q: list its interfaces: %w (left it: `ip netns del %s`)", r.name, err, r.name)
	}
	var others []string
	for _, l := range links {
		if !e.initial[l.Attrs().Index] {
			others = append(others, l.Attrs().Name)
		}
	}
	if len(others) > 0 {
		r.log.Warn(fmt.Sprintf("left network namespace %s, which l2hub created: it holds interfaces l2hub did not put there (%s), another hub's or yours; delete it with `ip netns del %s` once they are done",
			r.name, strings.Join(others, ", "), r.name))
		return nil
	}
	if err := deleteNetns(path); err != nil {
		return fmt.Errorf("delete network namespace %q: %w", r.name, err)
	}
	return nil
}

// CurrentNetns names the network namespace the calling thread is in (a
// goroutine not locked to its thread: the process's own), for
// DefaultTAPMAC. That is its name under NetnsDir, as `ip netns identify`
// finds it (the first in order, if several), or else "net:[INODE]" as
// /proc shows it, the same for as long as the namespace lives (the host's
// initial namespace has a fixed one); "" when neither can be read.
func CurrentNetns() string {
	name, _ := nameOfNetns("/proc/thread-self/ns/net")
	return name
}

// NetnsName names the network namespace a netns= value refers to, for
// DefaultTAPMAC: "" the calling thread's (CurrentNetns), a name itself,
// and a path (/proc/PID/ns/net, a file in NetnsDir) the namespace's name
// as CurrentNetns gives it, so that one namespace has one name whichever
// process's file or name refers to it; a path that cannot be read, as
// given.
func NetnsName(spec string) string {
	switch _, named, err := netnsPath(spec); {
	case spec == "":
		return CurrentNetns()
	case named || err != nil:
		return spec
	}
	if name, ok := nameOfNetns(spec); ok {
		return name
	}
	return spec
}

// nameOfNetns names the namespace of the namespace file path: its name
// under NetnsDir, or else "net:[INODE]"; false when path cannot be read.
func nameOfNetns(path string) (string, bool) {
	var self unix.Stat_t
	if err := unix.Stat(path, &self); err != nil {
		return "", false
	}
	entries, _ := os.ReadDir(NetnsDir) // sorted by name
	for _, e := range entries {
		var st unix.Stat_t
		if unix.Stat(filepath.Join(NetnsDir, e.Name()), &st) == nil && st.Dev == self.Dev && st.Ino == self.Ino {
			return e.Name(), true
		}
	}
	return fmt.Sprintf("net:[%d]", self.Ino), true
}

// openNetns opens path and checks that it is a network namespace.
func openNetns(path string) (netns.NsHandle, error) {
	h, err := netns.GetFromPath(path)
	if err != nil {
		err = &fs.PathError{Op: "open network namespace", Path: path, Err: err}
		if errors.Is(err, fs.ErrPermission) {
			return h, fmt.Errorf("%w: %s", err, openNetnsHint(path, os.Geteuid()))
		}
		return h, err
	}
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(h), &st); err != nil || st.Type != unix.NSFS_MAGIC {
		h.Close()
		return netns.None(), fmt.Errorf("%s is not a network namespace (a stale file? remove it, or `ip netns del` it)", path)
	}
	if t, err := unix.IoctlRetInt(int(h), unix.NS_GET_NSTYPE); err == nil && t != unix.CLONE_NEWNET {
		h.Close()
		return netns.None(), fmt.Errorf("%s is a namespace, but not a network namespace", path)
	}
	return h, nil
}

// createNetns creates the named namespace at path as `ip netns add` does:
// NetnsDir becomes a shared mount point (so that the name is seen from other
// mount namespaces), a new namespace is unshared on a locked thread and its
// /proc file bind-mounted onto path. It reports false, with no error, when
// another process created path first.
func createNetns(name, path string) (bool, error) {
	fail := func(err error) (bool, error) {
		err = fmt.Errorf("create network namespace %q: %w", name, err)
		if errors.Is(err, fs.ErrPermission) {
			err = fmt.Errorf("%w: %s", err, createNetnsHint(name, os.Geteuid()))
		}
		return false, err
	}
	if err := os.MkdirAll(NetnsDir, 0o755); err != nil {
		return fail(err)
	}
	if err := shareNetnsDir(); err != nil {
		return fail(err)
	}
	err := onLockedThread(func() error {
		h, err := netns.NewNamed(name) // unshares this thread
		if err == nil {
			h.Close()
		}
		return err
	})
	switch {
	case errors.Is(err, fs.ErrExist):
		return false, nil
	case err != nil:
		// NewNamed leaves its placeholder file behind when the mount fails.
		if st, serr := os.Lstat(path); serr == nil && st.Mode().IsRegular() && !isNsfs(path) {
			os.Remove(path)
		}
		return fail(err)
	}
	return true, nil
}

// shareNetnsDir makes NetnsDir a mount point with shared propagation, as
// iproute2 does before its first `ip netns add`.
func shareNetnsDir() error {
	err := unix.Mount("", NetnsDir, "none", unix.MS_SHARED|unix.MS_REC, "")
	if errors.Is(err, unix.EINVAL) { // not a mount point yet
		if err = unix.Mount(NetnsDir, NetnsDir, "none", unix.MS_BIND|unix.MS_REC, ""); err == nil {
			err = unix.Mount("", NetnsDir, "none", unix.MS_SHARED|unix.MS_REC, "")
		}
	}
	if err != nil {
		return fmt.Errorf("make %s a shared mount: %w", NetnsDir, err)
	}
	return nil
}

func isNsfs(path string) bool {
	var st unix.Statfs_t
	return unix.Statfs(path, &st) == nil && st.Type == unix.NSFS_MAGIC
}

// deleteNetns undoes createNetns for one namespace, as `ip netns del` does.
func deleteNetns(path string) error {
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
		return &fs.PathError{Op: "unmount", Path: path, Err: err}
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// InNetns runs fn on an OS thread inside the network namespace spec names
// (a name under NetnsDir, created the way `ip netns add` does when missing,
// or a path) and switches back. Whatever fn opens there, a socket for
// instance, stays in the namespace. release ends this process's hold on
// the namespace, deleting it when this process created it and was its last
// user; call it when what fn opened is closed.
func InNetns(spec string, fn func() error) (release func() error, err error) {
	return runInNetns(spec, true, fn)
}

// InExistingNetns is InNetns for a namespace that must exist already: a
// missing named namespace is an error ("network namespace NAME does not
// exist"), never created. It suits what is useless in a new, empty
// namespace, such as a socket bound to an underlay's address.
func InExistingNetns(spec string, fn func() error) (release func() error, err error) {
	return runInNetns(spec, false, fn)
}

func runInNetns(spec string, create bool, fn func() error) (release func() error, err error) {
	ref, err := acquireNetns(spec, create, nil)
	if err != nil {
		return nil, err
	}
	if err := inNetns(ref.h, fn); err != nil {
		ref.release()
		return nil, err
	}
	return ref.release, nil
}

// inNetns runs fn on an OS thread switched into ns and back. Whatever fn
// opens there (a socket, /dev/net/tun) stays in ns after the switch back.
func inNetns(ns netns.NsHandle, fn func() error) error {
	return onLockedThread(func() error {
		if err := netns.Set(ns); err != nil {
			err = fmt.Errorf("enter network namespace: %w", err)
			if errors.Is(err, fs.ErrPermission) {
				err = fmt.Errorf("%w: %s", err, capsHint)
			}
			return err
		}
		return fn()
	})
}

// onLockedThread runs fn on a fresh goroutine locked to its OS thread, and
// returns that thread to the scheduler only if it is back in the network
// namespace it started in. Otherwise the thread stays locked and ends with
// the goroutine, so no other goroutine ever runs in the wrong namespace.
func onLockedThread(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("open this thread's network namespace: %w", err)
			return
		}
		defer orig.Close()
		ferr := fn()
		if cur, err := netns.Get(); err == nil {
			same := cur.Equal(orig)
			cur.Close()
			if same {
				runtime.UnlockOSThread()
				errc <- ferr
				return
			}
		}
		if err := netns.Set(orig); err != nil {
			errc <- errors.Join(ferr, fmt.Errorf("return to the original network namespace: %w", err))
			return // the thread stays locked and exits with this goroutine
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}
