//go:build e2e

package e2e

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"l2hub/e2e/qemu"
)

// Bounds on how long the host waits. The guest bounds each check itself
// (l2.timeout); the host allows that plus boot time.
const (
	bootTimeout  = 60 * time.Second // launch -> "GUEST: up" on a loaded 2-core TCG host
	checkTimeout = 60 * time.Second // "up" -> a check's marker (the guest gives up at 30 s)
	hubTimeout   = 10 * time.Second // hub start -> listening, SIGTERM -> exit
	// guestCheckTimeout is l2.timeout unless a guest sets its own: a check
	// takes a few seconds even on a loaded host, and a failing one should
	// not hold the suite for the agent's default minute.
	guestCheckTimeout = 30 * time.Second
)

// --- artifacts ------------------------------------------------------------------

var (
	artifactsMu sync.Mutex
	artifactDir = map[*testing.T]string{}
)

// artifacts returns t's artifact directory (console logs, hub log, capture),
// created on first use. It is removed when t passes, unless L2HUB_E2E_KEEP=1;
// when t fails its path is printed.
func artifacts(t *testing.T) string {
	t.Helper()
	artifactsMu.Lock()
	defer artifactsMu.Unlock()
	if dir, ok := artifactDir[t]; ok {
		return dir
	}
	name := strings.NewReplacer("/", "__", " ", "_").Replace(t.Name())
	dir := filepath.Join(suite.RunDir, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	artifactDir[t] = dir
	// Registered before any guest or hub: cleanups run last-in first-out, so
	// every process has ended and flushed its log when this runs.
	t.Cleanup(func() {
		artifactsMu.Lock()
		delete(artifactDir, t)
		artifactsMu.Unlock()
		if t.Failed() || os.Getenv(envKeep) == "1" {
			t.Logf("artifacts kept in %s", dir)
			return
		}
		os.RemoveAll(dir)
	})
	return dir
}

// --- guests -------------------------------------------------------------------

// requireGuests skips t when guests cannot run here (fails it under
// L2HUB_E2E_REQUIRE=1) and fails it when the guest build failed.
func requireGuests(t *testing.T) {
	t.Helper()
	if suite.GuestSkip != "" {
		if required() {
			t.Fatal(suite.GuestSkip, "("+envRequire+"=1)")
		}
		t.Skip(suite.GuestSkip)
	}
	if suite.GuestErr != "" {
		t.Fatal(suite.GuestErr)
	}
}

// required tells whether what the machine lacks must fail the tests that
// need it (L2HUB_E2E_REQUIRE=1, as .ci/run sets): a run that skipped them,
// or left a capture unread, would pass without checking.
func required() bool { return os.Getenv(envRequire) == "1" }

// haveTshark tells whether tshark can read what; without it t logs that
// what is not read, or fails under L2HUB_E2E_REQUIRE=1.
func haveTshark(t *testing.T, what string) bool {
	t.Helper()
	if suite.Tshark != "" {
		return true
	}
	if required() {
		t.Fatalf("%s not read: tshark not installed (apt-get install tshark; %s=1)", what, envRequire)
	}
	t.Logf("%s not read: tshark not installed", what)
	return false
}

// requireCheck fails t when the guest agent lacks a check (l2guest
// -checks): the guest image is older than the scenario.
func requireCheck(t *testing.T, name string) {
	t.Helper()
	requireGuests(t)
	if !suite.Checks[name] {
		t.Fatalf("l2guest in %s has no %q check", suite.Guest, name)
	}
}

// GuestConfig is one guest of a scenario. Zero fields get the agent's
// defaults (see cmd/l2guest).
type GuestConfig struct {
	Name    string        // short name: console log <name>.log, messages
	IP      string        // l2.ip, with prefix length
	MAC     string        // the NIC's MAC (QEMU -device mac=)
	Peers   []string      // l2.peer
	Role    string        // l2.role
	Run     []string      // l2.run
	Netdev  string        // QEMU -netdev value without id=
	Timeout time.Duration // l2.timeout: the guest's bound per check; default guestCheckTimeout
	Args    []string      // more kernel command line words (l2.count=5, l2.sync=0)
	QEMU    []string      // more QEMU arguments
	Log     string        // console log name; default <Name>.log
	// Reboot makes a guest that reboots in place: QEMU runs without
	// -no-reboot and the guest ends each boot with l2.exit=reboot, so it
	// runs its checks again and again, on the same QEMU and netdev, until
	// it is killed.
	Reboot bool
}

// bootGuest launches a guest and registers its end with t: killed at cleanup
// if it still runs, console log kept with t's artifacts.
func bootGuest(t *testing.T, c GuestConfig) *qemu.Guest {
	t.Helper()
	requireGuests(t)
	dir := artifacts(t)
	cmdline := []string{}
	add := func(k, v string) {
		if v != "" {
			cmdline = append(cmdline, "l2."+k+"="+v)
		}
	}
	add("ip", c.IP)
	add("peer", strings.Join(c.Peers, ","))
	add("role", c.Role)
	add("run", strings.Join(c.Run, ","))
	if c.Timeout == 0 {
		c.Timeout = guestCheckTimeout
	}
	add("timeout", strconv.Itoa(int(c.Timeout/time.Second)))
	if c.Reboot {
		add("exit", "reboot")
	}
	cmdline = append(cmdline, c.Args...)
	log := c.Log
	if log == "" {
		log = c.Name + ".log"
	}
	g, err := qemu.Start(qemu.Config{
		Name:    c.Name,
		Binary:  suite.QEMU,
		Kernel:  filepath.Join(suite.Guest, "vmlinuz"),
		Initrd:  filepath.Join(suite.Guest, "initramfs.cpio.gz"),
		Cmdline: cmdline,
		Netdev:  c.Netdev,
		MAC:     c.MAC,
		Accel:   os.Getenv(envAccel),
		Reboot:  c.Reboot,
		Extra:   c.QEMU,
		Log:     filepath.Join(dir, log),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Kill)
	return g
}

// waitMarker waits for marker on g's console and returns the line; on
// timeout or a failure marker it fails t with the console's tail.
func waitMarker(t *testing.T, g *qemu.Guest, marker string, timeout time.Duration) qemu.Line {
	t.Helper()
	return waitAll(t, marker, timeout, g)[0]
}

// waitMarkerAfter is waitMarker for the lines after line (one waitMarker
// returned): the next boot's markers of a guest that reboots in place.
func waitMarkerAfter(t *testing.T, g *qemu.Guest, after qemu.Line, marker string, timeout time.Duration) qemu.Line {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	l, err := g.WaitAfter(ctx, after, marker)
	if err != nil {
		t.Fatalf("%v\n%s", err, g.Tail(15))
	}
	t.Logf("%s: %s", g.Name(), l)
	return l
}

// waitAll waits for marker on every guest at once (each within timeout) and
// fails t, after all have answered, if any did not print it.
func waitAll(t *testing.T, marker string, timeout time.Duration, guests ...*qemu.Guest) []qemu.Line {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	lines := make([]qemu.Line, len(guests))
	errs := make([]error, len(guests))
	var wg sync.WaitGroup
	for i, g := range guests {
		wg.Go(func() { lines[i], errs[i] = g.Wait(ctx, marker) })
	}
	wg.Wait()
	failed := false
	for i, g := range guests {
		if errs[i] != nil {
			failed = true
			t.Errorf("%v\n%s", errs[i], g.Tail(15))
			continue
		}
		t.Logf("%s: %s", g.Name(), lines[i])
	}
	if failed {
		t.FailNow()
	}
	return lines
}

// waitExit waits for every guest's QEMU to end (after "GUEST: done").
func waitExit(t *testing.T, timeout time.Duration, guests ...*qemu.Guest) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for _, g := range guests {
		if err := g.WaitExit(ctx); err != nil {
			t.Errorf("guest %s: %v", g.Name(), err)
		}
	}
}

// field returns the value of key=value in a marker line ("" when absent).
func field(line, key string) string {
	for _, f := range strings.Fields(line) {
		if v, ok := strings.CutPrefix(f, key+"="); ok {
			return v
		}
	}
	return ""
}

// --- ports and netdevs ----------------------------------------------------------

// An Attach is one VM's connection to the segment: the hub's --port value
// and the guest's -netdev value that meet each other. Hub is empty for
// direct wires.
type Attach struct {
	Hub    string
	Netdev string
}

// Ports are handed out upwards from portBase, below Linux's ephemeral range
// (32768-60999): a port taken from the ephemeral range can be grabbed by any
// connection's local end between the check and QEMU's or the hub's bind.
const portBase = 21000

var nextPort atomic.Int32

// freePort returns a loopback port on which both a TCP and a UDP socket could
// be bound a moment ago, never the same one twice in a run. Inside the
// suite's private namespace nothing else takes ports; on the host's
// loopback, the range below the ephemeral ports rarely has contenders.
func freePort(t *testing.T) int {
	t.Helper()
	for range 1000 {
		p := portBase + int(nextPort.Add(1))
		l, err := net.Listen("tcp4", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			continue
		}
		c, err := net.ListenPacket("udp4", fmt.Sprintf("127.0.0.1:%d", p))
		l.Close()
		if err != nil {
			continue
		}
		c.Close()
		return p
	}
	t.Fatal("no free loopback port")
	return 0
}

// sockPath returns a unix socket path short enough for sun_path (108 bytes).
func sockPath(t *testing.T, name string) string {
	t.Helper()
	dir, err := os.MkdirTemp(suite.Tmp, "l2e2e") // under suite.Tmp: removed even after a panic
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return filepath.Join(dir, name+".sock")
}

// Hub-side attachments, one per QEMU back end the hub speaks.

// tcpAttach: the hub listens, QEMU connects with the legacy socket syntax.
func tcpAttach(t *testing.T, name string) Attach {
	p := freePort(t)
	return Attach{
		Hub:    fmt.Sprintf("%s=tcp:127.0.0.1:%d", name, p),
		Netdev: fmt.Sprintf("socket,connect=127.0.0.1:%d", p),
	}
}

// streamAttach: the hub listens, QEMU connects with the stream syntax.
func streamAttach(t *testing.T, name string) Attach {
	p := freePort(t)
	return Attach{
		Hub:    fmt.Sprintf("%s=tcp:127.0.0.1:%d", name, p),
		Netdev: fmt.Sprintf("stream,server=off,addr.type=inet,addr.host=127.0.0.1,addr.port=%d", p),
	}
}

// unixAttach: the hub listens on a unix socket.
func unixAttach(t *testing.T, name string) Attach {
	s := sockPath(t, name)
	return Attach{
		Hub:    fmt.Sprintf("%s=unix:%s", name, s),
		Netdev: "stream,server=off,addr.type=unix,addr.path=" + s,
	}
}

// dialAttach: QEMU listens (stream,server=on) and the hub dials and redials:
// the direction that survives a hub restart under QEMU 7.2.
func dialAttach(t *testing.T, name string) Attach {
	p := freePort(t)
	return Attach{
		Hub:    fmt.Sprintf("%s=tcp-dial:127.0.0.1:%d", name, p),
		Netdev: fmt.Sprintf("stream,server=on,addr.type=inet,addr.host=127.0.0.1,addr.port=%d", p),
	}
}

// dgramAttach: one frame per UDP datagram between the hub's port and QEMU's.
func dgramAttach(t *testing.T, name string) Attach {
	hub, vm := freePort(t), freePort(t)
	return Attach{
		Hub: fmt.Sprintf("%s=udp:127.0.0.1:%d,peer=127.0.0.1:%d", name, hub, vm),
		Netdev: fmt.Sprintf("dgram,local.type=inet,local.host=127.0.0.1,local.port=%d,"+
			"remote.type=inet,remote.host=127.0.0.1,remote.port=%d", vm, hub),
	}
}

// mcastAttach: QEMU's socket multicast back end; the hub joins the group.
func mcastAttach(t *testing.T, name, group string) Attach {
	p := freePort(t)
	return Attach{
		Hub:    fmt.Sprintf("%s=mcast:%s:%d,local=127.0.0.1", name, group, p),
		Netdev: fmt.Sprintf("socket,mcast=%s:%d,localaddr=127.0.0.1", group, p),
	}
}

// waitTCPListen waits until a QEMU listens on 127.0.0.1:port, by reading
// /proc/net/tcp: a probe connection to a QEMU listen= port would be taken as
// its peer. (The hub says itself when it is ready: Hub.start.)
func waitTCPListen(t *testing.T, port int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !tcpListening(port) {
		if time.Now().After(deadline) {
			t.Fatalf("nothing listens on 127.0.0.1:%d after %s", port, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitUnixListen waits until a unix stream socket listens at path.
func waitUnixListen(t *testing.T, path string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !unixListening(path) {
		if time.Now().After(deadline) {
			t.Fatalf("nothing listens on %s after %s", path, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// tcpListening reports whether /proc/net/tcp has a socket in LISTEN (0A)
// on port.
func tcpListening(port int) bool {
	return procNetHas("/proc/net/tcp", port, "0A")
}

func procNetHas(file string, port int, state string) bool {
	f, err := os.Open(file)
	if err != nil {
		return false
	}
	defer f.Close()
	want := fmt.Sprintf(":%04X", port)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) < 4 || !strings.HasSuffix(fs[1], want) {
			continue
		}
		if state == "" || fs[3] == state {
			return true
		}
	}
	return false
}

// unixListening reports whether a unix stream socket listens at path.
func unixListening(path string) bool {
	f, err := os.Open("/proc/net/unix")
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		// Num RefCount Protocol Flags(00010000 = listening) Type St Inode Path
		if len(fs) >= 8 && fs[7] == path && fs[3] == "00010000" {
			return true
		}
	}
	return false
}

// --- the hub ------------------------------------------------------------------

// requireHub fails t when cmd/l2hub does not build or serve.
func requireHub(t *testing.T) {
	t.Helper()
	if suite.HubErr != "" {
		t.Fatal(suite.HubErr)
	}
}

// requireHubFlags fails t unless l2hub serve has every one of flags: they
// are part of the product, and a scenario that exercises one must not
// pass by skipping.
func requireHubFlags(t *testing.T, flags ...string) {
	t.Helper()
	requireHub(t)
	for _, f := range flags {
		if !hubHasFlag(f) {
			t.Fatalf("l2hub serve has no %s flag (l2hub serve --help does not list it)", f)
		}
	}
}

// hubHasFlag reports whether l2hub serve --help lists flag.
func hubHasFlag(flag string) bool {
	return regexp.MustCompile(`(?m)^\s+(-\w, )?` + regexp.QuoteMeta(flag) + `\b`).MatchString(suite.HubHelp)
}

// Hub is an l2hub serve subprocess.
type Hub struct {
	t       *testing.T
	args    []string
	dir     string
	prefix  string // HubConfig.Name and "-", or ""
	Capture string // capture.pcapng in the artifacts, once l2hub has --capture
	Control string // the control API's unix socket (for l2hub ctl)

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	err    error
	starts int
}

// HubConfig is one hub of a scenario.
type HubConfig struct {
	// Name tells apart the files of a test's second hub: NAME-hub-1.log,
	// NAME-capture.pcapng, NAME-policy.yaml; "" for a test's only hub.
	Name   string
	Ports  []Attach // their Hub values become --port flags
	Policy string   // policy YAML text, written to policy.yaml
	Args   []string // more serve flags (--check nexus-v1, --peer node-b)
	// NoCapture leaves the capture out (a bulk transfer's would be large).
	NoCapture bool
}

// startHub runs `l2hub serve` with c and waits until every listening port
// listens. The hub is stopped with SIGTERM at cleanup and must exit 0.
func startHub(t *testing.T, c HubConfig) *Hub {
	t.Helper()
	requireHub(t)
	dir := artifacts(t)
	h := &Hub{t: t, dir: dir, Control: sockPath(t, "ctl")}
	if c.Name != "" {
		h.prefix = c.Name + "-"
	}
	// Each hub gets its own control socket: the default path is shared.
	h.args = []string{"serve", "--control", h.Control}
	for _, p := range c.Ports {
		h.args = append(h.args, "--port", p.Hub)
	}
	if !c.NoCapture {
		h.Capture = filepath.Join(dir, h.prefix+"capture.pcapng")
		h.args = append(h.args, "--capture", h.Capture)
	}
	if c.Policy != "" {
		requireHubFlags(t, "--policy")
		path := filepath.Join(dir, h.prefix+"policy.yaml")
		if err := os.WriteFile(path, []byte(c.Policy), 0o644); err != nil {
			t.Fatal(err)
		}
		h.args = append(h.args, "--policy", path)
	}
	h.args = append(h.args, c.Args...)
	h.start()
	t.Cleanup(func() {
		if h.running() {
			h.Stop()
		}
	})
	return h
}

func (h *Hub) start() {
	t := h.t
	t.Helper()
	h.mu.Lock()
	h.starts++
	log, err := os.Create(filepath.Join(h.dir, fmt.Sprintf("%shub-%d.log", h.prefix, h.starts)))
	if err != nil {
		h.mu.Unlock()
		t.Fatal(err)
	}
	// The hub says when it is ready in a ready file, and the harness waits
	// for it with l2hub wait, as the README's recipes do.
	readyPath := filepath.Join(h.dir, fmt.Sprintf("%shub-%d.ready", h.prefix, h.starts))
	args := append(slices.Clone(h.args), "--ready-file", readyPath)
	fmt.Fprintf(log, "# %s %s\n", suite.Hub, strings.Join(args, " "))
	cmd := exec.Command(suite.Hub, args...)
	cmd.Stdout, cmd.Stderr = log, log
	if err := qemu.StartTied(cmd); err != nil { // dies with the test binary, cleanups or not
		log.Close()
		h.mu.Unlock()
		t.Fatalf("start l2hub: %v", err)
	}
	exited := make(chan struct{})
	h.cmd, h.exited = cmd, exited
	h.mu.Unlock()
	go func() {
		err := cmd.Wait()
		log.Close()
		h.mu.Lock()
		h.err = err
		h.mu.Unlock()
		close(exited)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), hubTimeout)
	defer cancel()
	go func() {
		select {
		case <-exited: // no point waiting for a hub that is gone
			cancel()
		case <-ctx.Done():
		}
	}()
	out, err := exec.CommandContext(ctx, suite.Hub, "wait", "--ready-file", readyPath, "--timeout", hubTimeout.String()).CombinedOutput()
	if err != nil {
		select {
		case <-exited:
			t.Fatalf("l2hub exited while starting (%v); log:\n%s", h.exitErr(), h.logTail())
		default:
		}
		t.Fatalf("l2hub wait: %v: %s; log:\n%s", err, out, h.logTail())
	}
}

func (h *Hub) running() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	select {
	case <-h.exited:
		return false
	default:
		return true
	}
}

func (h *Hub) exitErr() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.err
}

// Stop sends SIGTERM and wants a clean exit within hubTimeout.
func (h *Hub) Stop() {
	h.t.Helper()
	h.mu.Lock()
	cmd, exited := h.cmd, h.exited
	h.mu.Unlock()
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
		if err := h.exitErr(); err != nil {
			h.t.Errorf("l2hub after SIGTERM: %v; log:\n%s", err, h.logTail())
		}
	case <-time.After(hubTimeout):
		cmd.Process.Kill()
		<-exited
		h.t.Errorf("l2hub still running %s after SIGTERM; killed", hubTimeout)
	}
}

// Kill ends the hub at once, as a crash would.
func (h *Hub) Kill() {
	h.mu.Lock()
	cmd, exited := h.cmd, h.exited
	h.mu.Unlock()
	cmd.Process.Kill()
	<-exited
}

// Restart starts the hub again with the same arguments (after Kill or Stop).
func (h *Hub) Restart() {
	h.t.Helper()
	if h.running() {
		h.t.Fatal("Restart: l2hub is still running")
	}
	h.start()
}

// Ctl runs `l2hub ctl ARGS...` against this hub and returns its output.
func (h *Hub) Ctl(args ...string) string {
	h.t.Helper()
	all := append([]string{"ctl", "--control", h.Control}, args...)
	out, err := exec.Command(suite.Hub, all...).CombinedOutput()
	if err != nil {
		h.t.Fatalf("l2hub %s: %v\n%s", strings.Join(all, " "), err, out)
	}
	return string(out)
}

// logTail returns the end of the current hub log.
func (h *Hub) logTail() string {
	b, _ := os.ReadFile(filepath.Join(h.dir, fmt.Sprintf("%shub-%d.log", h.prefix, h.starts)))
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > 20 {
		lines = lines[len(lines)-20:]
	}
	return "  hub| " + strings.Join(lines, "\n  hub| ")
}

// --- pairs --------------------------------------------------------------------

// pair returns the two standard guests a (10.0.0.1, echo side) and b
// (10.0.0.2, sending side) on the given netdevs, running checks.
func pair(na, nb string, run ...string) (GuestConfig, GuestConfig) {
	a := GuestConfig{Name: "a", IP: "10.0.0.1/24", MAC: "52:54:00:00:00:01",
		Peers: []string{"10.0.0.2"}, Role: "a", Run: run, Netdev: na}
	b := GuestConfig{Name: "b", IP: "10.0.0.2/24", MAC: "52:54:00:00:00:02",
		Peers: []string{"10.0.0.1"}, Role: "b", Run: run, Netdev: nb}
	return a, b
}

// checkTCPHashes wants both tcp markers to carry the same sha256.
func checkTCPHashes(t *testing.T, lines []qemu.Line) {
	t.Helper()
	ha, hb := field(lines[0].Text, "sha256"), field(lines[1].Text, "sha256")
	if ha == "" || ha != hb {
		t.Errorf("got sha256 %q (echo side) and %q (sender), want equal and non-empty", ha, hb)
	}
}

// expectChecks waits for every guest's "up", then each check's "ok" marker
// in order, then "done ok" and QEMU's exit. For tcp it compares the hashes
// of the echo side and the sender (guests[0] and guests[1]).
func expectChecks(t *testing.T, run []string, guests ...*qemu.Guest) {
	t.Helper()
	waitAll(t, "GUEST: up", bootTimeout, guests...)
	for _, c := range run {
		lines := waitAll(t, "GUEST: "+c+" ok", checkTimeout, guests...)
		if c == "tcp" && len(lines) >= 2 {
			checkTCPHashes(t, lines)
		}
	}
	waitAll(t, "GUEST: done ok", checkTimeout, guests...)
	waitExit(t, hubTimeout, guests...)
}
