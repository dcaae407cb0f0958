package control_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"l2hub/control"
)

// WaitReady answers with the ports once the hub answers, and otherwise
// ends with the context, saying why the hub did not answer.
func TestWaitReady(t *testing.T) {
	_, path := serveFake(t, "")
	ports, err := control.NewClient(path, "").WaitReady(context.Background(), time.Millisecond)
	if err != nil || len(ports) == 0 {
		t.Fatalf("WaitReady on a serving hub: %v, %v", ports, err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	missing := filepath.Join(t.TempDir(), "none.sock")
	_, err = control.NewClient(missing, "").WaitReady(ctx, time.Millisecond)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitReady with nothing serving: %v, want it to end with the context", err)
	}
	// It says where it asked, and why the hub did not answer there.
	if msg := err.Error(); !strings.Contains(msg, missing) || !strings.Contains(msg, "no such file") {
		t.Errorf("WaitReady's error %q, want the address and the last reason (no such file)", msg)
	}
}

// TestWaitReadyStopsAtAWrongToken: a hub that refuses the token refuses it
// every time, so WaitReady says so at once, not after its whole timeout.
// The context here only stops a WaitReady that would poll on.
func TestWaitReadyStopsAtAWrongToken(t *testing.T) {
	const token = "wait-ready-token-0123456789abcdef"
	addr := control.Addr(serveTCP(t, &control.Server{Token: token}))
	for _, give := range []string{"", "wrong-token-0123456789abcdef0123"} {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		_, err := control.NewClient(addr, give).WaitReady(ctx, time.Millisecond)
		cancel()
		var he *control.Error
		if !errors.As(err, &he) || he.Status != 401 || errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("WaitReady with token %q: %v, want the hub's 401 at once", give, err)
		}
		if msg := err.Error(); !strings.Contains(msg, "missing or wrong bearer token") || !strings.Contains(msg, addr) {
			t.Errorf("WaitReady's error %q, want the address and the hub's reason", msg)
		}
	}
	ports, err := control.NewClient(addr, token).WaitReady(context.Background(), time.Millisecond)
	if err != nil || len(ports) == 0 {
		t.Fatalf("WaitReady with the token: %v, %v", ports, err)
	}
}

// TestWaitReadyRefusesAnOpenDirectory: a default socket directory that
// others may enter stays so however often it is asked: WaitReady says so
// at once.
func TestWaitReadyRefusesAnOpenDirectory(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	t.Setenv("XDG_RUNTIME_DIR", "")
	dir := filepath.Dir(control.DefaultAddr())
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil { // whatever the umask
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := control.NewClient("", "").WaitReady(ctx, time.Millisecond)
	if err == nil || errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "want 0700") {
		t.Errorf("WaitReady with the default directory open to others = %v, want the refusal at once", err)
	}
}

// TestTimeoutSaysWhere: a hub that takes the connection and never answers
// (stopped, or flooded) makes a call fail, once the client's own
// RequestTimeout fires, naming the address and what may be wrong, not Go's
// words alone; a change adds that it may have been made. A deadline of the
// caller's own that ends the call is the caller's: no hint blames the hub.
func TestTimeoutSaysWhere(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close() // held, unanswered, until the listener closes
		}
	}()
	addr := "tcp:" + l.Addr().String()
	c := control.NewClient(addr, "t0ken")
	control.SetRequestTimeout(c, 50*time.Millisecond) // what times out; not a bound on the test
	_, err = c.Ports(context.Background())
	if err == nil || !strings.Contains(err.Error(), addr) || !strings.Contains(err.Error(), "did not answer within") ||
		!strings.Contains(err.Error(), "long requests (injections)") || strings.Contains(err.Error(), "whether it made the change") {
		t.Errorf("Ports from a hub that never answers = %v, want a timeout naming %s, saying the hub did not answer and why it may not", err, addr)
	}
	err = c.SetLink(context.Background(), "a", false)
	if err == nil || !strings.Contains(err.Error(), "did not answer within") || !strings.Contains(err.Error(), "whether it made the change is not known") {
		t.Errorf("SetLink from a hub that never answers = %v, want a timeout saying the change may have been made", err)
	}

	expired, cancel := context.WithTimeout(context.Background(), -time.Second)
	defer cancel()
	short, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond) // what times out; not a bound on the test
	defer cancel()
	for name, ctx := range map[string]context.Context{"expired": expired, "short": short} {
		_, err = control.NewClient(addr, "t0ken").Ports(ctx)
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), addr) || strings.Contains(err.Error(), "did not answer") {
			t.Errorf("Ports with the caller's %s deadline = %v, want DeadlineExceeded naming %s, without blaming the hub", name, err, addr)
		}
	}
}

// TestWaitReadyDefaultInterval: an interval of 0 asks at the default
// pace, rather than panicking in time.NewTicker.
func TestWaitReadyDefaultInterval(t *testing.T) {
	_, path := serveFake(t, "")
	for _, interval := range []time.Duration{0, -time.Second} {
		ports, err := control.NewClient(path, "").WaitReady(context.Background(), interval)
		if err != nil || len(ports) == 0 {
			t.Errorf("WaitReady(ctx, %v) = %v, %v; want the ports", interval, ports, err)
		}
	}
}

// TestClientRefusesAddressesThatAreNone: an address that only looks like
// one (tcp: forgotten, off) is never dialled as a socket file of that
// name: every call says what is wrong, and WaitReady says it at once.
func TestClientRefusesAddressesThatAreNone(t *testing.T) {
	t.Chdir(t.TempDir())
	for addr, want := range map[string]string{
		"127.0.0.1:7291": `control address "127.0.0.1:7291": want tcp:127.0.0.1:7291 for a TCP address`,
		"off":            `control address "off": off is serve's`,
	} {
		c := control.NewClient(addr, "")
		if _, err := c.Ports(context.Background()); err == nil || !strings.Contains(err.Error(), want) || errors.Is(err, control.ErrNoHub) {
			t.Errorf("NewClient(%q).Ports() = %v, want %q", addr, err, want)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second) // only stops a WaitReady that would poll on
		_, err := c.WaitReady(ctx, time.Millisecond)
		cancel()
		if err == nil || errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), want) {
			t.Errorf("NewClient(%q).WaitReady() = %v, want %q at once", addr, err, want)
		}
		res, err := c.InjectStream(context.Background(), "a", func(send func([]byte) error) {
			t.Errorf("NewClient(%q).InjectStream ran produce", addr)
		})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("NewClient(%q).InjectStream() = %+v, %v, want %q", addr, res, err, want)
		}
	}
}

// TestWaitReadyPID: the API says which process serves it, and
// WaitReadyPID takes the answer of the hub waited for, or of a process it
// started (the pid is a wrapper's: timeout, sudo, go run; here go test,
// which started this process). Another running process's answer is waited
// past, and a wait that ends meanwhile names both pids.
func TestWaitReadyPID(t *testing.T) {
	_, path := serveFake(t, "")
	c := control.NewClient(path, "")
	for _, pid := range []int{os.Getpid(), os.Getppid()} {
		if ports, err := c.WaitReadyPID(context.Background(), time.Millisecond, pid); err != nil || len(ports) == 0 {
			t.Errorf("WaitReadyPID(%d; the hub %d is it or its child) = %v, %v", pid, os.Getpid(), ports, err)
		}
	}
	if runtime.GOOS != "linux" {
		return // elsewhere, any process may be the wrapper's (ready.Within)
	}
	other := startSleep(t)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond) // what ends the wait; not a bound on the test
	defer cancel()
	_, err := c.WaitReadyPID(ctx, time.Millisecond, other)
	if !errors.Is(err, control.ErrOtherHub) || !errors.Is(err, context.DeadlineExceeded) ||
		!strings.Contains(err.Error(), fmt.Sprintf("served by pid %d", os.Getpid())) || !strings.Contains(err.Error(), fmt.Sprintf("(pid %d)", other)) {
		t.Errorf("WaitReadyPID(pid %d) from a hub of pid %d = %v, want it waited past until the deadline, then ErrOtherHub naming both", other, os.Getpid(), err)
	}
}

// startSleep starts a process that runs until the test ends, and is not
// this one's parent.
func startSleep(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("sleep", "3600")
	if err := cmd.Start(); err != nil {
		t.Skipf("skipping: cannot start a process: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return cmd.Process.Pid
}

// TestWaitReadyPIDOlderHub: a hub that does not say its pid (an l2hub
// older than PIDHeader) is taken, as before it did: the socket's owner has
// been checked.
func TestWaitReadyPIDOlderHub(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ctl.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `[{"name":"a"}]`)
	})}
	go srv.Serve(l)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // only stops a wait that would go on
	defer cancel()
	ports, err := control.NewClient(path, "").WaitReadyPID(ctx, time.Millisecond, startSleep(t))
	if err != nil || len(ports) != 1 {
		t.Errorf("WaitReadyPID from a hub without %s = %v, %v; want its ports", control.PIDHeader, ports, err)
	}
}

// TestClientTakesABareNameOnceItIsASocket: a bare name (hub: no '/', no
// .sock) is refused with a hint while nothing is there, but the client
// checks again on each call: once a hub binds a socket of that name, the
// same client reaches it, and WaitReady waits for it meanwhile rather than
// give up at once.
func TestClientTakesABareNameOnceItIsASocket(t *testing.T) {
	t.Chdir(t.TempDir())
	c := control.NewClient("hub", "")
	want := `control address "hub": want a socket path`
	if _, err := c.Ports(context.Background()); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Ports on hub, no socket there = %v, want %q", err, want)
	}
	short, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond) // what ends the wait; not a bound on the test
	defer cancel()
	if _, err := c.WaitReady(short, time.Millisecond); !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), want) {
		t.Errorf("WaitReady on hub, no socket there = %v, want it waited for until the deadline, then %q", err, want)
	}
	l, err := control.Listen("unix:hub", "")
	if err != nil {
		t.Fatal(err)
	}
	startServer(t, l, &control.Server{})
	if ports, err := c.Ports(context.Background()); err != nil || len(ports) == 0 {
		t.Errorf("Ports on hub, a hub's socket now = %v, %v; want the ports", ports, err)
	}
}

// TestWaitReadyPIDOtherNamespace: a hub in another pid namespace (a
// container, unshare -p) names a pid that means nothing here, often 1,
// which runs here too: its answer is taken. The same pid from this
// namespace is waited past.
func TestWaitReadyPIDOtherNamespace(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("skipping: pid namespaces are Linux's")
	}
	own, err := os.Readlink("/proc/self/ns/pid")
	if err != nil {
		t.Skipf("skipping: this process's pid namespace cannot be read: %v", err)
	}
	waited := startSleep(t) // the hub's pid below runs here, and not under it
	for _, tc := range []struct {
		ns    string
		taken bool
	}{
		{"pid:[1]", true},
		{own, false},
	} {
		t.Run(tc.ns, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "ctl.sock")
			l, err := net.Listen("unix", path)
			if err != nil {
				t.Fatal(err)
			}
			srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set(control.PIDHeader, strconv.Itoa(os.Getpid()))
				w.Header().Set(control.PIDNamespaceHeader, tc.ns)
				w.Header().Set("Content-Type", "application/json")
				io.WriteString(w, `[{"name":"a"}]`)
			})}
			go srv.Serve(l)
			defer srv.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond) // what ends a wait past; not a bound on the test
			defer cancel()
			ports, err := control.NewClient(path, "").WaitReadyPID(ctx, time.Millisecond, waited)
			if tc.taken && (err != nil || len(ports) != 1) {
				t.Errorf("WaitReadyPID(%d) from a hub of pid %d in pid namespace %s (ours is %s) = %v, %v; want its ports", waited, os.Getpid(), tc.ns, own, ports, err)
			}
			if !tc.taken && !errors.Is(err, control.ErrOtherHub) {
				t.Errorf("WaitReadyPID(%d) from a hub of pid %d in our pid namespace = %v, %v; want ErrOtherHub", waited, os.Getpid(), ports, err)
			}
		})
	}
}
