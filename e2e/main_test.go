//go:build e2e

package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"l2hub/e2e/qemu"
)

// Environment knobs (documented in e2e/README.md).
const (
	envOut     = "L2HUB_E2E_OUT"     // cache and artifact root; default e2e/out
	envKeep    = "L2HUB_E2E_KEEP"    // 1: keep artifacts of passing tests too
	envNetns   = "L2HUB_E2E_NETNS"   // 0: do not enter a private network namespace
	envRequire = "L2HUB_E2E_REQUIRE" // 1: what the machine lacks fails, rather than skips or goes unchecked
	envQEMU    = "L2HUB_E2E_QEMU"    // QEMU binary; default qemu-system-x86_64
	envAccel   = "L2HUB_E2E_ACCEL"   // QEMU accelerator; default tcg
	envState   = "L2HUB_E2E_STATE"   // internal: the prepared suite, for the netns child
	qemuBinary = "qemu-system-x86_64"
)

// suite is what TestMain prepares once for every test.
var suite struct {
	Root      string          // the module root
	Out       string          // cache root: guest build, artifacts
	Guest     string          // directory with vmlinuz, initramfs.cpio.gz, l2guest
	GuestSkip string          // why guests cannot run here ("" when they can)
	GuestErr  string          // the guest build failed: tests fail with this
	Checks    map[string]bool // what the guest agent supports (l2guest -checks)
	QEMU      string          // QEMU binary path
	Hub       string          // built cmd/l2hub binary
	HubErr    string          // cmd/l2hub does not build or serve: hub scenarios fail
	HubHelp   string          // l2hub serve --help, to see that a scenario's flags exist
	Tshark    string          // tshark path, "" when missing
	RunDir    string          // artifacts of this run
	Tmp       string          // scratch of this run (the built hub, socket dirs)
	Netns     string          // how networking is isolated, for the log
}

// started is when this process started, near enough: go test's own kill
// timer (-timeout plus a minute, then SIGQUIT) counts from here.
var started = time.Now()

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(mainE2E(m))
}

// The tests run in a child process (this binary again), in a private
// network namespace when it can have one. The parent outlives a child that
// dies of a panic (a -timeout, say), which runs no cleanups: the parent
// then kills what is left in the child's namespace, removes the run's
// scratch and says where the artifacts are. Every QEMU and hub is also
// started with qemu.StartTied, so it dies with the child in any mode.
func mainE2E(m *testing.M) int {
	if state := os.Getenv(envState); state != "" {
		// The child: everything is prepared; a private namespace's
		// loopback must come up.
		if err := json.Unmarshal([]byte(state), &suite); err != nil {
			fmt.Fprintln(os.Stderr, "e2e: bad", envState, err)
			return 2
		}
		if suite.Netns == "private namespace" {
			if err := loopbackUp(); err != nil {
				fmt.Fprintln(os.Stderr, "e2e: netns:", err)
				return 2
			}
		}
		return m.Run()
	}
	tmp, err := os.MkdirTemp("", "l2hub-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 2
	}
	defer os.RemoveAll(tmp)
	suite.Tmp = tmp
	if err := prepare(tmp); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 2
	}
	defer func() {
		// Only when empty: kept artifacts stay, and are named here too
		// (a child that panicked could not name them).
		if err := os.Remove(suite.RunDir); err != nil && !errors.Is(err, fs.ErrNotExist) {
			fmt.Fprintln(os.Stderr, "e2e: artifacts of this run kept in", suite.RunDir)
		}
	}()
	fmt.Fprintf(os.Stderr, "e2e: guest %s; hub %s; network %s\n",
		orText(suite.GuestSkip+suite.GuestErr, suite.Guest), orText(suite.HubErr, suite.Hub), suite.Netns)
	if suite.Netns == "private namespace" {
		code, err := runChild(true)
		if err == nil {
			return code
		}
		suite.Netns = "host loopback (" + err.Error() + ")"
		fmt.Fprintln(os.Stderr, "e2e: no private network namespace, using the host's loopback:", err)
	}
	code, err := runChild(false)
	if err == nil {
		return code
	}
	fmt.Fprintln(os.Stderr, "e2e: the tests run in this process, as no child process starts:", err)
	return m.Run()
}

func orText(s, def string) string {
	if s != "" {
		return s
	}
	return def
}

// prepare finds the tools, builds (or reuses) the guest and builds l2hub.
// A missing tool is a skip reason; a failed guest build is a test failure.
func prepare(tmp string) error {
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	suite.Root = filepath.Dir(wd) // go test runs in e2e/
	suite.Out = os.Getenv(envOut)
	if suite.Out == "" {
		suite.Out = filepath.Join(suite.Root, "e2e", "out")
	}
	if suite.Out, err = filepath.Abs(suite.Out); err != nil {
		return err
	}
	suite.RunDir = filepath.Join(suite.Out, "artifacts", time.Now().Format("20060102-150405.000"))
	if err := os.MkdirAll(suite.RunDir, 0o755); err != nil {
		return err
	}
	suite.Tshark, _ = exec.LookPath("tshark")
	suite.Netns = "host loopback"
	if os.Geteuid() == 0 && os.Getenv(envNetns) != "0" {
		suite.Netns = "private namespace"
	}
	prepareGuest()
	prepareHub(tmp)
	return nil
}

func prepareGuest() {
	qemu := os.Getenv(envQEMU)
	if qemu == "" {
		qemu = qemuBinary
	}
	path, err := exec.LookPath(qemu)
	if err != nil {
		suite.GuestSkip = qemu + " not found (apt-get install qemu-system-x86)"
		return
	}
	suite.QEMU = path
	busybox := os.Getenv("BUSYBOX") // as build.sh reads it
	if busybox == "" {
		busybox = "/bin/busybox"
	}
	if _, err := os.Stat(busybox); err != nil {
		suite.GuestSkip = busybox + " not found (apt-get install busybox-static)"
		return
	}
	if _, err := exec.LookPath("cpio"); err != nil {
		suite.GuestSkip = "cpio not found (apt-get install cpio)"
		return
	}
	suite.Guest = filepath.Join(suite.Out, "guest")
	start := time.Now()
	cmd := exec.Command(filepath.Join(suite.Root, "e2e", "guest", "build.sh"), suite.Guest)
	cmd.Dir = suite.Root
	out, err := cmd.CombinedOutput()
	if err != nil {
		suite.GuestErr = fmt.Sprintf("e2e/guest/build.sh %s: %v\n%s", suite.Guest, err, out)
		if bytes.Contains(out, []byte("is dynamically linked")) {
			suite.GuestSkip, suite.GuestErr = busybox+" is not static (apt-get install busybox-static)", ""
		}
		return
	}
	fmt.Fprintf(os.Stderr, "e2e: guest ready in %.1fs: %s\n", time.Since(start).Seconds(),
		strings.ReplaceAll(strings.TrimSpace(string(out)), "\n", " "))
	list, err := exec.Command(filepath.Join(suite.Guest, "l2guest"), "-checks").Output()
	if err != nil {
		suite.GuestErr = fmt.Sprintf("l2guest -checks: %v", err)
		return
	}
	suite.Checks = map[string]bool{}
	for _, c := range strings.Fields(string(list)) {
		suite.Checks[c] = true
	}
}

// prepareHub builds cmd/l2hub into tmp; a build that fails fails every hub
// scenario.
func prepareHub(tmp string) {
	bin := filepath.Join(tmp, "l2hub")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/l2hub")
	cmd.Dir = suite.Root
	if out, err := cmd.CombinedOutput(); err != nil {
		suite.HubErr = fmt.Sprintf("go build ./cmd/l2hub: %v\n%s", err, out)
		return
	}
	out, err := exec.Command(bin, "serve", "--help").CombinedOutput()
	if err != nil {
		suite.HubErr = fmt.Sprintf("l2hub serve --help: %v\n%s", err, out)
		return
	}
	suite.Hub, suite.HubHelp = bin, string(out)
}

// runChild re-runs this test binary, with the prepared suite in its
// environment, and returns its exit code; with netns, in a new network
// namespace (the guest build above needed the network for apt-get
// download; the tests do not). The child dies with this process, and the
// signals that end a test run are passed on to it: SIGQUIT too, which go
// test sends when its own timer fires, so the child dumps the hung tests'
// goroutines and this process still cleans up. The child's -test.timeout
// is what remains of this process's, so its alarm (a panic naming the
// running tests) comes before go test's SIGQUIT however long prepare took.
func runChild(netns bool) (int, error) {
	state, err := json.Marshal(&suite)
	if err != nil {
		return 0, err
	}
	exe, err := os.Executable()
	if err != nil {
		return 0, err
	}
	var timeout time.Duration
	if f := flag.Lookup("test.timeout"); f != nil {
		timeout, _ = f.Value.(flag.Getter).Get().(time.Duration)
	}
	if timeout > 0 {
		timeout = max(timeout-time.Since(started), time.Second)
	}
	cmd := exec.Command(exe, childArgs(os.Args[1:], timeout)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), envState+"="+string(state))
	cmd.SysProcAttr = &syscall.SysProcAttr{}
	if netns {
		cmd.SysProcAttr.Cloneflags = syscall.CLONE_NEWNET
	}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT)
	defer signal.Stop(sigs)
	if err := qemu.StartTied(cmd); err != nil {
		return 0, err
	}
	ns := ""
	if netns {
		ns, _ = os.Readlink(fmt.Sprintf("/proc/%d/ns/net", cmd.Process.Pid))
	}
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-sigs:
				cmd.Process.Signal(s)
			case <-done:
				return
			}
		}
	}()
	err = cmd.Wait()
	close(done)
	if killed := killNetns(ns); len(killed) > 0 {
		fmt.Fprintln(os.Stderr, "e2e: killed what the tests left running:", strings.Join(killed, ", "))
	}
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode(), nil
	}
	if err != nil {
		return 0, err
	}
	return 0, nil
}

// childArgs returns the test binary's arguments args with -test.timeout
// set to timeout (unchanged when timeout is 0, no timeout). Only the flags
// are rewritten: what follows the first argument that is not a flag, or
// "--", is passed on as it is.
func childArgs(args []string, timeout time.Duration) []string {
	if timeout <= 0 {
		return args
	}
	out := []string{"-test.timeout=" + timeout.String()}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" || !strings.HasPrefix(a, "-") {
			return append(out, args[i:]...)
		}
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		n := 1
		if !hasValue && !isBoolFlag(name) && i+1 < len(args) {
			n = 2 // -test.run X: the value is the next argument
		}
		if name != "test.timeout" {
			out = append(out, args[i:i+n]...)
		}
		i += n - 1
	}
	return out
}

// isBoolFlag tells whether the registered flag name takes no value
// argument (-test.v); an unknown name is taken as one.
func isBoolFlag(name string) bool {
	f := flag.Lookup(name)
	if f == nil {
		return true
	}
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// killNetns kills every process in the network namespace ns ("net:[N]",
// the child's, private to this run) and returns what they were: what
// a child that panicked left running, whatever started it.
func killNetns(ns string) (killed []string) {
	if self, _ := os.Readlink("/proc/self/ns/net"); ns == "" || ns == self {
		return nil
	}
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		if l, _ := os.Readlink("/proc/" + p.Name() + "/ns/net"); l == ns && !exiting(pid) {
			comm, _ := os.ReadFile("/proc/" + p.Name() + "/comm")
			if syscall.Kill(pid, syscall.SIGKILL) == nil {
				killed = append(killed, fmt.Sprintf("%s (pid %d)", strings.TrimSpace(string(comm)), pid))
			}
		}
	}
	return killed
}

// exiting tells whether process pid is already on its way out (the
// kernel's PF_EXITING in /proc/PID/stat's flags), as a QEMU is for a moment
// after its parent-death signal.
func exiting(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	_, rest, _ := strings.Cut(string(stat), ") ")
	f := strings.Fields(rest) // state ppid pgrp session tty_nr tpgid flags ...
	if len(f) < 7 {
		return false
	}
	flags, err := strconv.ParseUint(f[6], 10, 64)
	const pfExiting = 0x4
	return err == nil && flags&pfExiting != 0
}

// loopbackUp brings up lo in a fresh network namespace.
func loopbackUp() error {
	lo, err := netlink.LinkByName("lo")
	if err != nil {
		return err
	}
	return netlink.LinkSetUp(lo)
}
