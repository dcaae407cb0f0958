package lab

import (
	"fmt"
	"l2hub/internal/tied"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"syscall"
	"time"
	"unsafe"
)

// Pdeathsig reaches only the runner's direct child: a QEMU started through
// a wrapper script that does not exec it would outlive a runner killed with
// SIGKILL. So each VM gets a watchdog first: this program again (the
// runner's own executable, /proc/self/exe, so the same code), in a hidden
// mode, leading a new process group with a parent-death signal. QEMU is
// then started into that group, and the watchdog kills the whole group
// (QEMU, whatever it started, and itself) once the runner is gone.
//
// The watchdog is not QEMU's parent: the runner still starts QEMU, reads
// its console and reaps it, so its pid, exit status and start errors are
// QEMU's own. The watchdog, as a member of the group, also keeps the
// group's id from being reused while the runner may still signal it.
//
// A watchdog that cannot start (no /proc, say) costs only that protection:
// the VM starts without one, as before it existed, and the run warns once.

// watchdogArg, as os.Args[1], with the runner's pid in watchdogEnv, makes
// any binary that contains this package a watchdog (see init).
const (
	watchdogArg = "l2hub-lab-watchdog"
	watchdogEnv = "L2HUB_LAB_WATCHDOG"
)

// watchdogPoll is how often a watchdog also checks that the runner is
// still its parent, in case the parent-death signal did not come.
const watchdogPoll = time.Second

// watchdogExe is the watchdog's executable: the runner's own (a variable
// for the test of a watchdog that cannot start).
var watchdogExe = "/proc/self/exe"

func init() {
	if len(os.Args) == 2 && os.Args[1] == watchdogArg && os.Getenv(watchdogEnv) != "" {
		watchdogMain()
	}
}

// watchdogMain is the watchdog: it tells the runner it is ready on fd 3,
// then waits for the runner to die, and kills its own process group. The
// runner's SIGTERM to the group (stopping QEMU) does not end it; the
// runner kills it by pid once QEMU has ended.
//
// It acts only as the runner starts it: leading a process group of its
// own, the runner's child. Run otherwise (by hand, with watchdogEnv set),
// the group it would kill is its caller's, so it exits and kills nothing;
// so does a watchdog whose runner died before it started (the runner
// starts QEMU only once the watchdog is ready).
func watchdogMain() {
	runner, err := strconv.Atoi(os.Getenv(watchdogEnv))
	if err != nil || syscall.Getpgrp() != os.Getpid() || os.Getppid() != runner {
		os.Exit(2)
	}
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
	orphaned := func() bool { return os.Getppid() != runner }
	ready := os.NewFile(3, "ready")
	ready.Write([]byte{1})
	ready.Close()
	tick := time.NewTicker(watchdogPoll)
	for !orphaned() {
		select {
		case <-sigs:
		case <-tick.C:
		}
	}
	syscall.Kill(0, syscall.SIGKILL) // the group: QEMU, what it started, and this process
	os.Exit(1)
}

// watchdog is a running watchdog, the leader of a VM's process group.
type watchdog struct{ cmd *exec.Cmd }

// startWatchdog starts a watchdog and waits until it watches.
func startWatchdog() (*watchdog, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	cmd := exec.Command(watchdogExe, watchdogArg)
	cmd.Env = append(os.Environ(), watchdogEnv+"="+strconv.Itoa(os.Getpid()))
	cmd.ExtraFiles = []*os.File{w}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGHUP}
	err = tied.Start(cmd) // its parent-death signal means the runner's death, not a thread's
	w.Close()
	if err != nil {
		return nil, fmt.Errorf("watchdog: %w", err)
	}
	var b [1]byte
	if n, _ := r.Read(b[:]); n != 1 {
		cmd.Process.Kill()
		cmd.Wait()
		return nil, fmt.Errorf("watchdog (%s %s) ended before it was ready", cmd.Path, watchdogArg)
	}
	return &watchdog{cmd: cmd}, nil
}

// pgid is the process group QEMU joins.
func (w *watchdog) pgid() int { return w.cmd.Process.Pid }

// stop ends the watchdog once QEMU has ended.
func (w *watchdog) stop() {
	if w == nil {
		return
	}
	w.cmd.Process.Kill()
	w.cmd.Wait()
}

// vmProcAttr starts a QEMU in the watchdog's process group (so that a
// signal reaches whatever it started, and the watchdog can kill it all), or
// without one in a group of its own, and kills QEMU itself at once should
// the lab die without stopping it.
func vmProcAttr(w *watchdog) *syscall.SysProcAttr {
	a := &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if w != nil {
		a.Pgid = w.pgid()
	}
	return a
}

// waitQEMU waits for QEMU to end and reaps it, calling ended in between:
// while QEMU is a zombie, its pid, its process group's id, is not reused,
// so ended can still signal the group.
func waitQEMU(cmd *exec.Cmd, ended func()) error {
	const pPID = 1     // P_PID
	var info [128]byte // siginfo_t
	for {
		_, _, e := syscall.Syscall6(syscall.SYS_WAITID, pPID, uintptr(cmd.Process.Pid), uintptr(unsafe.Pointer(&info)),
			syscall.WEXITED|syscall.WNOWAIT, 0, 0)
		if e != syscall.EINTR {
			break
		}
	}
	ended()
	return cmd.Wait()
}
