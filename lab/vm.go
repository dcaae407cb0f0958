package lab

import (
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"l2hub/hub"
	"l2hub/internal/shell"
	"l2hub/internal/tied"
)

// exitDrain bounds how long the console is still read once QEMU has
// ended: what QEMU wrote is in the pipe and is read at once, but a process
// that left QEMU's process group (a helper started with setsid) may hold
// the pipe open for ever.
const exitDrain = time.Second

// killWait bounds the wait for a QEMU after SIGKILL: a process stuck in
// the kernel (uninterruptible sleep on a hung device or file system) does
// not die, and the run must still write its files.
const killWait = 5 * time.Second

// process is one running QEMU: its console is read line by line, each
// line stamped with the time since the run's start, handed to the run's
// loop and written to the log; its exit is watched meanwhile.
type process struct {
	vm    int
	name  string
	cmd   *exec.Cmd
	dog   *watchdog // kills QEMU's process group if the runner dies (Linux)
	noDog error     // why there is no watchdog where there should be one
	pgid  int       // QEMU's process group
	clock hub.Clock
	start time.Time // the run's start

	logMu sync.Mutex
	log   *logFile // nil once closed

	mu     sync.Mutex
	exited bool // QEMU has ended and what was left of its group is killed: no more signals to it
	status string
	done   chan struct{} // closed when QEMU has ended and its console is read
}

// startProcess launches bin with args in dir, the console to log (which
// it closes).
// Lines go to in, each stamped there, and so does the exit, stamped when
// QEMU ended. QEMU runs in its own process group (an interrupt on the
// terminal reaches the runner only, which stops it in order); that group,
// with whatever QEMU started, is killed once QEMU has ended, and if the
// runner dies (on Linux, where a watchdog starts: see watchdog).
func startProcess(vm int, name, bin string, args []string, dir string, log *logFile, clock hub.Clock, start time.Time,
	in *inbox) (*process, error) {
	fmt.Fprintf(log, "# %s\n# cwd=%s\n# t0=%s\n", shell.Quote(append([]string{bin}, args...)), dir, start.UTC().Format(time.RFC3339Nano))
	p := &process{vm: vm, name: name, log: log, clock: clock, start: start, done: make(chan struct{})}
	if p.dog, p.noDog = startWatchdog(); p.noDog != nil {
		p.logf(p.since(), "# %v: QEMU starts without one", p.noDog)
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		p.dog.stop()
		p.closeLog()
		return nil, fmt.Errorf("VM %s: %w", name, err)
	}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Dir = dir
	p.cmd.Stdout, p.cmd.Stderr = pw, pw
	p.cmd.SysProcAttr = vmProcAttr(p.dog)
	if err := tied.Start(p.cmd); err != nil { // its parent-death signal means the runner's death
		p.dog.stop()
		pr.Close()
		pw.Close()
		p.logf(p.since(), "# could not start: %v", err)
		p.closeLog()
		return nil, fmt.Errorf("VM %s: start %s: %w", name, bin, err)
	}
	pw.Close() // QEMU holds the write end now
	p.pgid = p.cmd.Process.Pid
	if p.dog != nil {
		p.pgid = p.dog.pgid()
	}
	read := make(chan struct{})
	go func() {
		defer close(read)
		p.read(pr, in)
	}()
	go func() {
		defer close(p.done)
		// QEMU's exit is watched while its console is read: a process that
		// holds the console's pipe after QEMU has ended (one that left its
		// group) must not hide the exit.
		err := waitQEMU(p.cmd, func() {
			// What QEMU left in its group (the VM of a wrapper that started
			// it in the background and exited, say) ends with it. From now
			// on nothing signals the group: once QEMU is reaped and the
			// watchdog stopped, its id may be another's.
			p.mu.Lock()
			p.kill(syscall.SIGKILL, false)
			p.exited = true
			p.mu.Unlock()
			in.end(vm)
		})
		drain := p.clock.AfterFunc(exitDrain, func() { pr.Close() }) // ends the read
		<-read
		drain.Stop()
		pr.Close()
		p.dog.stop() // only now: while it lives, the group id cannot be reused
		status := exitText(err)
		p.mu.Lock()
		p.status = status
		p.mu.Unlock()
		at := in.put(event{vm: vm, exit: true, text: status})
		p.logf(at, "# exit: %s", status)
		p.closeLog()
	}()
	return p, nil
}

func (p *process) since() time.Duration { return p.clock.Now().Sub(p.start) }

// logf writes a line stamped at to the console log, unless it is closed.
func (p *process) logf(at time.Duration, format string, args ...any) {
	p.logMu.Lock()
	defer p.logMu.Unlock()
	if p.log != nil {
		fmt.Fprintf(p.log, "%8.3f %s\n", at.Seconds(), fmt.Sprintf(format, args...))
	}
}

func (p *process) closeLog() {
	p.logMu.Lock()
	defer p.logMu.Unlock()
	if p.log != nil {
		p.log.Close()
		p.log = nil
	}
}

// terminate asks QEMU to end (SIGTERM: QEMU shuts the guest off and
// exits), then kills it after grace; it returns once QEMU has ended and
// its console is read, reporting true, or false when QEMU still runs
// killWait after SIGKILL. Once QEMU has ended, what was left of its group
// is killed already.
func (p *process) terminate(grace time.Duration) bool {
	if p.signal(syscall.SIGTERM) {
		select {
		case <-p.done:
			return true
		case <-hub.After(p.clock, grace):
		}
		p.signal(syscall.SIGKILL)
	}
	select {
	case <-p.done:
		return true
	case <-hub.After(p.clock, killWait):
		return false
	}
}

// signal sends sig to QEMU, unless it has ended (then its ids may be
// free): see kill. It reports whether it did.
func (p *process) signal(sig syscall.Signal) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.exited {
		return false
	}
	p.kill(sig, true)
	return true
}

// kill sends sig to QEMU's process group (the watchdog's, or QEMU's own
// without one) and, if QEMU has left it, to the group it leads now (coreutils
// timeout makes one: setpgid(0, 0)) or, with self, to QEMU alone in
// another's. It must be called with p.mu held while QEMU is not reaped:
// its pid, and a group it leads, are not reused before.
func (p *process) kill(sig syscall.Signal, self bool) {
	syscall.Kill(-p.pgid, sig)
	pid := p.cmd.Process.Pid
	switch g, err := syscall.Getpgid(pid); {
	case err != nil || g == p.pgid:
		// Still in the group just signalled: once is enough.
	case g == pid:
		syscall.Kill(-pid, sig)
	case self:
		syscall.Kill(pid, sig)
	}
}

func exitText(err error) string {
	if err == nil {
		return exitOK
	}
	return err.Error()
}
