package qemu

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"l2hub/internal/shell"
)

// Config says how to launch one guest. The zero value of every optional
// field picks the tiny-guest defaults measured in e2e/README.md.
type Config struct {
	Name   string // short name for messages ("a")
	Binary string // QEMU binary; default qemu-system-x86_64
	Kernel string // -kernel
	Initrd string // -initrd
	// Cmdline is appended to BaseCmdline to form the kernel command line.
	Cmdline []string
	Netdev  string // -netdev value without id=; the NIC's netdev is n0
	MAC     string // the NIC's MAC; "" lets QEMU pick
	NIC     string // NIC model; default virtio-net-pci
	Memory  string // default 128M (64M does not boot the Debian kernel)
	Accel   string // default tcg
	Reboot  bool   // let a guest reboot; by default -no-reboot ends QEMU instead
	Extra   []string
	Env     []string // added to the environment of the QEMU process
	Log     string   // console log file; "" keeps the lines in memory only
}

// BaseCmdline starts every guest's kernel command line: console on the
// serial port, a panic ends QEMU (with -no-reboot), little printk noise, no
// crypto self-tests (a quarter second of boot under TCG), and no IO-APIC
// timer check: on a loaded host TCG's 8254 ticks too slowly for it and the
// kernel panics with "IO-APIC + timer doesn't work!".
var BaseCmdline = []string{"console=ttyS0", "panic=-1", "quiet", "cryptomgr.notests", "no_timer_check"}

// Args returns the QEMU command line for c, without the binary.
func (c Config) Args() []string {
	args := []string{
		"-machine", "q35", "-accel", or(c.Accel, "tcg"),
		"-m", or(c.Memory, "128M"), "-smp", "1",
		"-nodefaults", "-display", "none", "-serial", "stdio",
		"-kernel", c.Kernel, "-initrd", c.Initrd,
		"-append", strings.Join(append(append([]string(nil), BaseCmdline...), c.Cmdline...), " "),
	}
	if !c.Reboot {
		args = append(args, "-no-reboot")
	}
	if c.Netdev != "" {
		dev := or(c.NIC, "virtio-net-pci") + ",netdev=n0"
		if c.MAC != "" {
			dev += ",mac=" + c.MAC
		}
		args = append(args, "-netdev", c.Netdev+",id=n0", "-device", dev)
	}
	return append(args, c.Extra...)
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// A Line is one console line, when it arrived, counted from launch, and
// where: N is its index among the guest's console lines (0 for the first),
// so that a caller can wait for what comes after it (Guest.WaitAfter).
type Line struct {
	Text string
	At   time.Duration
	N    int
}

func (l Line) String() string { return fmt.Sprintf("%7.3f %s", l.At.Seconds(), l.Text) }

// Guest is a running (or finished) QEMU process.
type Guest struct {
	cfg   Config
	cmd   *exec.Cmd
	start time.Time
	log   *os.File // nil without Config.Log
	done  chan struct{}

	mu      sync.Mutex
	lines   []Line
	changed chan struct{} // closed and replaced on every new line and at exit
	exited  bool
	exitErr error
}

// maxLine bounds one console line in memory; longer lines are cut.
const maxLine = 64 << 10

// Start launches QEMU. The console (QEMU's stdout and stderr, merged) is read
// until the process ends; Kill or the guest's own power-off ends it, and on
// Linux so does the death of this process (see StartTied).
func Start(cfg Config) (*Guest, error) {
	bin := or(cfg.Binary, "qemu-system-x86_64")
	g := &Guest{cfg: cfg, done: make(chan struct{}), changed: make(chan struct{})}
	if cfg.Log != "" {
		f, err := os.Create(cfg.Log)
		if err != nil {
			return nil, fmt.Errorf("guest %s: %w", cfg.Name, err)
		}
		g.log = f
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		g.closeLog()
		return nil, fmt.Errorf("guest %s: %w", cfg.Name, err)
	}
	g.cmd = exec.Command(bin, cfg.Args()...)
	g.cmd.Stdout, g.cmd.Stderr = pw, pw
	g.cmd.Env = append(os.Environ(), cfg.Env...)
	g.start = time.Now()
	if g.log != nil {
		fmt.Fprintf(g.log, "# %s %s\n", bin, shell.Quote(cfg.Args()))
		// The stamps count from launch; this line says when that was, so a
		// reader (l2hub report --console) can place them on a capture's clock.
		fmt.Fprintf(g.log, "# t0=%s\n", g.start.UTC().Format(time.RFC3339Nano))
	}
	if err := StartTied(g.cmd); err != nil {
		pr.Close()
		pw.Close()
		g.closeLog()
		return nil, fmt.Errorf("guest %s: start %s: %w", cfg.Name, bin, err)
	}
	pw.Close() // the child holds the write end now
	consoleDone := make(chan struct{})
	go func() {
		defer close(consoleDone)
		g.readConsole(pr)
	}()
	go func() {
		err := g.cmd.Wait()
		<-consoleDone
		pr.Close()
		g.mu.Lock()
		g.exited, g.exitErr = true, err
		g.notifyLocked()
		g.mu.Unlock()
		if g.log != nil {
			fmt.Fprintf(g.log, "%7.3f # exit: %v\n", time.Since(g.start).Seconds(), exitText(err))
		}
		g.closeLog()
		close(g.done)
	}()
	return g, nil
}

func (g *Guest) readConsole(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), maxLine)
	for sc.Scan() {
		l := Line{Text: strings.TrimRight(sc.Text(), "\r"), At: time.Since(g.start)}
		g.mu.Lock()
		l.N = len(g.lines)
		g.lines = append(g.lines, l)
		g.notifyLocked()
		g.mu.Unlock()
		if g.log != nil {
			fmt.Fprintln(g.log, l)
		}
	}
	// A line over maxLine stops the scanner: drain so QEMU never blocks.
	io.Copy(io.Discard, r)
}

func (g *Guest) notifyLocked() {
	close(g.changed)
	g.changed = make(chan struct{})
}

func (g *Guest) closeLog() {
	if g.log != nil {
		g.log.Close()
	}
}

// Name returns Config.Name.
func (g *Guest) Name() string { return g.cfg.Name }

// Config returns the configuration the guest was started with.
func (g *Guest) Config() Config { return g.cfg }

// Wait returns the first console line (since launch) that contains marker,
// waiting for it until ctx is done. It gives up early, with ErrFailed, when a
// "GUEST: <check> FAIL" line appears for marker's check word or the guest
// reports "GUEST: done" without the marker; with ErrExited when QEMU ends.
func (g *Guest) Wait(ctx context.Context, marker string) (Line, error) {
	return g.WaitAfter(ctx, Line{N: -1}, marker)
}

// WaitAfter is Wait for the lines that follow after (a line Wait or
// WaitAfter returned): a guest that reboots in place prints its markers
// again on the same console, and only the ones after the first boot's
// "GUEST: done" tell of the second boot. The failure lines it gives up on
// are also only those after after.
func (g *Guest) WaitAfter(ctx context.Context, after Line, marker string) (Line, error) {
	failing := failPrefix(marker)
	waitsForDone := strings.HasPrefix(marker, "GUEST: done")
	what := fmt.Sprintf("%q", marker)
	if after.N >= 0 {
		what += fmt.Sprintf(" after console line %d (%q)", after.N, after.Text)
	}
	for i := max(after.N+1, 0); ; {
		g.mu.Lock()
		for ; i < len(g.lines); i++ {
			l := g.lines[i]
			switch {
			case strings.Contains(l.Text, marker):
				g.mu.Unlock()
				return l, nil
			case failing != "" && strings.Contains(l.Text, failing),
				!waitsForDone && strings.Contains(l.Text, "GUEST: done "):
				g.mu.Unlock()
				return l, fmt.Errorf("guest %s: %w waiting for %s: %s", g.cfg.Name, ErrFailed, what, l.Text)
			}
		}
		exited, exitErr, changed := g.exited, g.exitErr, g.changed
		panicked := g.panicLocked()
		g.mu.Unlock()
		if exited {
			return Line{}, fmt.Errorf("guest %s: %w (%s%s) before %s", g.cfg.Name, ErrExited, exitText(exitErr), panicked, what)
		}
		select {
		case <-ctx.Done():
			return Line{}, fmt.Errorf("guest %s: no %s after %.1fs: %w", g.cfg.Name, what, time.Since(g.start).Seconds(), ctx.Err())
		case <-changed:
		}
	}
}

// panicLocked returns ", after: <the kernel's panic line>" when the console
// shows one (the stack trace that follows would crowd it out of a tail).
func (g *Guest) panicLocked() string {
	for _, l := range g.lines {
		if strings.Contains(l.Text, "Kernel panic") {
			return ", after: " + strings.TrimSpace(l.Text)
		}
	}
	return ""
}

// failPrefix maps "GUEST: ping ok" to "GUEST: ping FAIL".
func failPrefix(marker string) string {
	f := strings.Fields(marker)
	if len(f) < 2 || f[0] != "GUEST:" {
		return ""
	}
	return "GUEST: " + f[1] + " FAIL"
}

func exitText(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

// Done is closed once QEMU has ended and its console is drained.
func (g *Guest) Done() <-chan struct{} { return g.done }

// WaitExit waits for QEMU to end and returns its exit error.
func (g *Guest) WaitExit(ctx context.Context) error {
	select {
	case <-g.done:
		g.mu.Lock()
		defer g.mu.Unlock()
		return g.exitErr
	case <-ctx.Done():
		return fmt.Errorf("guest %s: still running: %w", g.cfg.Name, ctx.Err())
	}
}

// Kill ends QEMU at once (if it still runs) and waits until it has.
func (g *Guest) Kill() {
	select {
	case <-g.done:
		return
	default:
	}
	g.cmd.Process.Kill() // fails only if it has just exited: either way it ends
	<-g.done
}

// Lines returns a copy of the console so far.
func (g *Guest) Lines() []Line {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]Line(nil), g.lines...)
}

// Tail returns the last n console lines, one per line, for failure reports.
func (g *Guest) Tail(n int) string {
	lines := g.Lines()
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	var b strings.Builder
	for _, l := range lines {
		fmt.Fprintf(&b, "  %s| %s\n", g.cfg.Name, l)
	}
	return b.String()
}
