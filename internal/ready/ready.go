package ready

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"strconv"
	"strings"
	"time"
)

// Schema is the ready file's version, its "schema": fields are only added
// within one, and Read takes a file with fields it does not know.
const Schema = 1

// Info is the content of a ready file.
type Info struct {
	Schema int `json:"schema"` // WriteFile writes Schema
	PID    int `json:"pid"`
	// Start is the process's start time where the system says (Linux: in
	// clock ticks since boot), so that a pid another process reused is not
	// taken for the hub; 0 if unknown. WriteFile fills it for its own pid.
	Start   uint64 `json:"start,omitempty"`
	Control string `json:"control,omitempty"` // the control API's address, as ctl --control takes it
	Metrics string `json:"metrics,omitempty"` // the metrics endpoint, when serving one
	Ports   []Port `json:"ports"`
}

// String says what l2hub wait prints of a ready hub: "pid 4242, ports a
// (tcp 127.0.0.1:7001), b (unix /tmp/b.sock)". A port that could not be
// opened (serve --optional) says so and why: "a (tcp 127.0.0.1:7001,
// DOWN: listen tcp 127.0.0.1:7001: bind: address already in use)".
func (i Info) String() string {
	ports := make([]string, len(i.Ports))
	for k, p := range i.Ports {
		if p.Down != "" {
			// serve's reason starts with the port's name, said already.
			why := strings.TrimPrefix(p.Down, fmt.Sprintf("port %q: ", p.Name))
			ports[k] = fmt.Sprintf("%s (%s %s, DOWN: %s)", p.Name, p.Transport, p.Addr, why)
			continue
		}
		ports[k] = fmt.Sprintf("%s (%s %s)", p.Name, p.Transport, p.Addr)
	}
	return fmt.Sprintf("pid %d, ports %s", i.PID, strings.Join(ports, ", "))
}

// Port is one hub port as a QEMU or a script needs it.
type Port struct {
	Name      string `json:"name"`
	Transport string `json:"transport"`        // tcp, tcp-dial, unix, udp, mcast, tap, vxlan, ...
	Addr      string `json:"addr,omitempty"`   // the bound address: host:port, a unix path, an interface
	Spec      string `json:"spec,omitempty"`   // the port spec, with a port 0 filled in
	Netdev    string `json:"netdev,omitempty"` // what follows -netdev on a VM's QEMU command line (id=n0)
	Down      string `json:"down,omitempty"`   // why an optional port could not be opened
}

// maxFile bounds what Read accepts: a ready file is small, and the path
// may be anything a user typed.
const maxFile = 1 << 20

// Write writes info to path atomically (a reader sees no file, or the
// whole file) and returns the file written, which this process holds
// until Remove takes it back (see claim): a ready file another hub holds,
// or that names another process that still runs, is refused
// (ErrLiveHub), and of two hubs that write one path at once only one
// does. path must be none yet or a regular file (see Check). The file is
// mode 0644 less the umask: it holds addresses, never the control token.
func Write(path string, info Info) (*File, error) {
	if err := checkTarget(path); err != nil {
		return nil, fmt.Errorf("ready file: %w", err)
	}
	if info.PID == os.Getpid() && info.Start == 0 {
		info.Start = startTime(info.PID)
	}
	info.Schema = Schema
	b, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("ready file: %w", err)
	}
	b = append(b, '\n')
	f, err := claim(path, b)
	if errors.Is(err, ErrLiveHub) {
		return nil, err // it says "ready file" and the path
	}
	if err != nil {
		return nil, fmt.Errorf("ready file: %w", err)
	}
	return f, nil
}

// ErrNotYours reports a ready file that belongs to a user other than the
// caller and root: anyone may write a file in a shared directory such as
// /tmp, naming a process and addresses of theirs, so Read takes nothing
// it says (as a control client refuses another user's socket).
var ErrNotYours = errors.New("belongs to another user")

// ErrOtherHub reports a ready file that names a running process other than
// the hub waited for (WaitFor) and the processes it started: another hub
// holds the path, or the pid waited for is not the hub's.
var ErrOtherHub = errors.New("names another process that is still running")

// Read parses a ready file. It is forward-compatible: a field it does not
// know, or one of another type than it knows (a newer hub's), is ignored;
// only a file that is not a JSON object, or has no pid (a positive
// integer), is refused. So is a file that belongs to a user other than the
// caller and root (ErrNotYours), and anything but a regular file (a FIFO
// is not waited on).
func Read(path string) (Info, error) {
	f, err := os.OpenFile(path, openFlags, 0)
	if err != nil {
		return Info{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return Info{}, err
	}
	if !fi.Mode().IsRegular() {
		return Info{}, fmt.Errorf("ready file %s is not a regular file (%v)", path, fi.Mode().Type())
	}
	if uid, ok := fileOwner(fi); ok && uid != os.Getuid() && uid != 0 {
		// No "run it as that user": a file anyone may write says anything
		// to that user too (a pid, the ports a VM is sent to).
		return Info{}, fmt.Errorf("ready file %s %w (%s; you are uid %d): what it says is not taken, as anyone may write a file where others can (/tmp); "+
			"see who made it (ls -l %s), and have the hub write its ready file in a directory of yours ($XDG_RUNTIME_DIR, or one made with mktemp -d)",
			path, ErrNotYours, Who(uid), os.Getuid(), path)
	}
	return decode(f, path)
}

// Who names uid for a refusal: "uid 1001 (alice)", or "uid 1001" when
// the system has no name for it.
func Who(uid int) string {
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil && u.Username != "" {
		return fmt.Sprintf("uid %d (%s)", uid, u.Username)
	}
	return fmt.Sprintf("uid %d", uid)
}

// readAny is Read of a file whoever owns it, for whether it may be
// replaced (checkOwner).
func readAny(path string) (Info, error) {
	f, err := os.Open(path)
	if err != nil {
		return Info{}, err
	}
	defer f.Close()
	return decode(f, path)
}

// decode is Read of a ready file open as f.
func decode(f *os.File, path string) (Info, error) {
	var info Info
	err := json.NewDecoder(&limitReader{f, maxFile}).Decode(&info)
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &typeErr) && typeErr.Field == "pid":
		return Info{}, fmt.Errorf("ready file %s: pid: %w", path, err)
	case errors.As(err, &typeErr):
		// Decode went on past it: the other fields are read.
	case err != nil:
		return Info{}, fmt.Errorf("ready file %s: %w", path, err)
	}
	if info.PID <= 0 {
		return Info{}, fmt.Errorf("ready file %s: no pid (want a positive integer)", path)
	}
	return info, nil
}

type limitReader struct {
	f *os.File
	n int64
}

func (r *limitReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, errors.New("larger than 1 MiB")
	}
	if int64(len(p)) > r.n {
		p = p[:r.n]
	}
	n, err := r.f.Read(p)
	r.n -= int64(n)
	return n, err
}

// Notify sends state (for example "READY=1\nSTATUS=…") to systemd's
// notification socket when NOTIFY_SOCKET is set. It reports whether a
// message was sent; without NOTIFY_SOCKET it does nothing.
func Notify(state string) (bool, error) {
	addr := os.Getenv("NOTIFY_SOCKET")
	if addr == "" {
		return false, nil
	}
	if !strings.HasPrefix(addr, "/") && !strings.HasPrefix(addr, "@") {
		return false, fmt.Errorf("sd_notify: NOTIFY_SOCKET %q is not a unix socket path", addr)
	}
	if strings.HasPrefix(addr, "@") {
		addr = "\x00" + addr[1:] // the abstract namespace
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		return false, fmt.Errorf("sd_notify: %w", err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(state)); err != nil {
		return false, fmt.Errorf("sd_notify: %w", err)
	}
	return true, nil
}

// Alive reports whether the process that wrote a ready file still runs:
// pid exists and has not exited (on Linux, a zombie its parent has not
// reaped counts as exited) and, with start not 0, it is the process that
// started then, not another that reused the pid.
func Alive(pid int, start uint64) bool { return pid > 0 && alive(pid, start) }

// Within reports whether process pid is root or was started by it, or by
// a process root started, and so on (on Linux, by /proc/PID/stat's
// parents, a few levels up): the hub that a wrapper such as timeout, sudo,
// runuser or go run started, whose pid is the wrapper's ($!). Where the
// system does not say (not Linux), it reports true: any process may be.
func Within(pid, root int) bool { return pid > 0 && root > 0 && within(pid, root) }

// Wait returns the ready file's content once path exists, parses, and
// names a running process, polling every interval until ctx ends. A file
// left behind by a process that has exited does not count. A file that
// belongs to another user (ErrNotYours) ends the wait at once.
func Wait(ctx context.Context, path string, interval time.Duration) (Info, error) {
	return WaitFor(ctx, path, 0, interval)
}

// WaitFor is Wait for the hub whose process is pid or runs under it (see
// Within: l2hub wait --pid $!, where $! may be a wrapper's; 0 for any). A
// file that names another running process does not count, and is waited
// past: it may be another hub's, whose ready file this one will refuse to
// replace (it then exits, which the caller watches for), or a pipeline's
// ($! of serve | tee is tee's). If ctx ends meanwhile, the error says so
// (ErrOtherHub), naming both pids.
func WaitFor(ctx context.Context, path string, pid int, interval time.Duration) (Info, error) {
	if interval <= 0 {
		interval = 50 * time.Millisecond
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	var last error
	for {
		info, err := Read(path)
		switch {
		case errors.Is(err, ErrNotYours):
			return Info{}, err
		case err == nil && Alive(info.PID, info.Start) && (pid <= 0 || Within(info.PID, pid)):
			return info, nil
		case err == nil && Alive(info.PID, info.Start):
			last = fmt.Errorf("ready file %s %w (pid %d), neither the hub waited for (pid %d) nor a process it started: "+
				"another hub holds the file (give each hub a ready file of its own), or pid %d is not the hub's "+
				"(of serve ... | tee log &, $! is tee's: write serve ... > >(tee log) & instead)",
				path, ErrOtherHub, info.PID, pid, pid)
		case err == nil:
			last = fmt.Errorf("ready file %s names pid %d, which is not running (it exited, or the pid is another process's now)", path, info.PID)
		case errors.Is(err, os.ErrNotExist):
			last = fmt.Errorf("no ready file %s yet", path)
		default:
			last = err
		}
		select {
		case <-ctx.Done():
			return Info{}, fmt.Errorf("%w: %w", ctx.Err(), last)
		case <-t.C:
		}
	}
}
