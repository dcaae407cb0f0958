package loadgen

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"l2hub/control"
	"l2hub/hub"
	"l2hub/internal/ready"
	"l2hub/internal/tied"
	"l2hub/serve"
	"l2hub/transport"
)

// The hub in a process of its own. In this process the simulated VMs and
// the hub share one Go scheduler: a VM's goroutine in a write(2) holds a
// processor the hub's reader is waiting for, which costs the hub tail
// latency and CPU that QEMU's VMs, processes of their own, never cost it.
// With Hub.Process the target runs `l2hub serve` with the same
// configuration as a child, as users run it beside QEMU.

// processStart bounds the wait for the child's ports and VMs.
const processStart = 30 * time.Second

// openProcess runs cfg as `l2hub serve` (the binary t.Process) in dir and
// connects the VMs to its ports; vmAddrs are where udp VMs are bound.
func (t *Hub) openProcess(ctx context.Context, sc Scenario, cfg serve.Config, dir string, vmAddrs []string) (_ *Net, err error) {
	readyFile := filepath.Join(dir, "ready.json")
	summary := filepath.Join(dir, "summary.json")
	ctl := filepath.Join(dir, "ctl.sock")
	args := []string{"serve", "--control", ctl, "--ready-file", readyFile, "--summary", summary, "--mode", cfg.Mode.String()}
	if cfg.Overflow != hub.OverflowDefault {
		args = append(args, "--overflow", cfg.Overflow.String())
	}
	if cfg.Queue > 0 {
		args = append(args, "--queue", fmt.Sprint(cfg.Queue))
	}
	if cfg.Stall > 0 {
		args = append(args, "--stall", cfg.Stall.String())
	}
	if cfg.Policy != "" {
		args = append(args, "--policy", cfg.Policy)
	}
	if cfg.Capture.File != "" {
		args = append(args, "--capture", cfg.Capture.File, "--capture-points", cfg.Capture.Points)
	}
	for _, p := range cfg.Ports {
		args = append(args, "--port", p.String())
	}
	var stderr strings.Builder
	cmd := hubCommand(t.Process, args...)
	cmd.Dir, cmd.Stdout, cmd.Stderr = dir, nil, &stderr
	if err := tied.Start(cmd); err != nil {
		return nil, fmt.Errorf("hub process: %w", err)
	}
	exited := make(chan struct{})
	var exitErr error
	go func() { exitErr = cmd.Wait(); close(exited) }()
	stop := func() error {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
			return exitErr
		case <-time.After(processStart):
			cmd.Process.Kill()
			<-exited
			return fmt.Errorf("hub process: no exit %v after SIGINT; killed", processStart)
		}
	}
	defer func() {
		if err != nil {
			stop()
			if s := stderrTail(stderr.String()); s != "" {
				err = fmt.Errorf("%w: %s", err, s)
			}
		}
	}()

	wctx, cancel := context.WithTimeout(ctx, processStart)
	defer cancel()
	go func() { // a child that fails to start ends the wait at once
		select {
		case <-exited:
			cancel()
		case <-wctx.Done():
		}
	}()
	info, err := ready.Wait(wctx, readyFile, 10*time.Millisecond)
	if err != nil {
		return nil, fmt.Errorf("hub process: %w", err)
	}
	if len(info.Ports) != len(cfg.Ports) {
		return nil, fmt.Errorf("hub process: %d ports ready, want %d", len(info.Ports), len(cfg.Ports))
	}
	n := &Net{PID: cmd.Process.Pid}
	for i, p := range info.Ports {
		var vm VM
		switch sc.Transport {
		case "tcp", "unix":
			vm, err = transport.DialStream(wctx, sc.Transport, p.Addr, 0)
		case "udp":
			vm, err = transport.ListenUDP(vmAddrs[i], p.Addr, 0, 0)
		}
		if err != nil {
			for _, v := range n.Ports {
				v.Close()
			}
			return nil, fmt.Errorf("VM %d to port %s: %w", i, p.Name, err)
		}
		n.Ports = append(n.Ports, vm)
	}
	client := control.NewClient(ctl, "")
	ports := func(ctx context.Context) ([]hub.PortStatus, error) {
		ps, err := client.Ports(ctx)
		out := make([]hub.PortStatus, len(ps))
		for i, p := range ps {
			out[i] = p.PortStatus
		}
		return out, err
	}
	if err := waitAttached(wctx, processStart, ports); err != nil {
		for _, v := range n.Ports {
			v.Close()
		}
		return nil, err
	}
	var counters map[string]uint64
	n.Close = func() error {
		errs := []error{closeAll(n.Ports)}
		if err := stop(); err != nil && !isInterrupted(err) {
			if s := stderrTail(stderr.String()); s != "" {
				err = fmt.Errorf("%w: %s", err, s)
			}
			errs = append(errs, fmt.Errorf("hub process: %w", err))
		}
		var cerr error
		counters, cerr = summaryCounters(summary, dir)
		errs = append(errs, cerr)
		return errors.Join(errs...)
	}
	n.Counters = func() map[string]uint64 { return counters }
	return n, nil
}

// stderrTailLines is how many of the child's lines of stderr an error
// quotes at most: its own last words, not every line it logged while it
// ran.
const stderrTailLines = 3

// stderrTail is the child's last words on one line (a table cell): its
// last stderrTailLines warnings, errors, panics and the error it exits
// with; when it said none, only its last line (a child killed by a signal
// says nothing, and the INFO records it logged before tell no more).
func stderrTail(s string) string {
	var last string
	var words []string
	for l := range strings.Lines(s) {
		if l = strings.TrimSpace(l); l == "" {
			continue
		}
		last = l
		if lastWord(l) {
			words = append(words, l)
		}
	}
	if len(words) == 0 {
		return last
	}
	if len(words) > stderrTailLines {
		words = words[len(words)-stderrTailLines:]
	}
	return strings.Join(words, " | ")
}

// lastWord says whether a line of the child's stderr is a warning, an
// error or the start of a crash: slog's text or JSON records at WARN or
// ERROR, the error l2hub exits with, a panic, a fatal runtime error.
func lastWord(l string) bool {
	for _, p := range []string{"level=WARN", "level=ERROR", `"level":"WARN"`, `"level":"ERROR"`} {
		if strings.Contains(l, p) {
			return true
		}
	}
	for _, p := range []string{"l2hub: ", "panic: ", "fatal error: "} {
		if strings.HasPrefix(l, p) {
			return true
		}
	}
	return false
}

// hubCommand is the command that runs the hub's process. Where the OS
// allows (Linux), the child is killed when the bench dies, however it
// dies: SIGINT and SIGTERM stop it cleanly, SIGKILL would orphan it.
func hubCommand(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	setDeathSignal(cmd)
	return cmd
}

// isInterrupted reports whether err is the exit of a process SIGINT
// stopped; serve exits 0 on SIGINT, so only a signal death counts.
func isInterrupted(err error) bool {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGINT
}

// summaryCounters reads serve's exit summary into the counters
// sessionCounters gives for an in-process hub; the summary has no bytes
// written by the capture, so capture_bytes sums the sizes of its files
// (relative names are in dir, the child's working directory).
func summaryCounters(path, dir string) (map[string]uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("hub process: summary: %w", err)
	}
	var sum serve.Summary
	if err := json.Unmarshal(b, &sum); err != nil {
		return nil, fmt.Errorf("hub process: summary %s: %w", path, err)
	}
	c := map[string]uint64{}
	for _, p := range sum.Ports {
		for reason, n := range p.Stats.Drops {
			c["hub_drop_"+reason] += n
		}
		c["hub_pauses"] += p.Stats.Pauses
		c["hub_stalls"] += p.Stats.Stalls
	}
	for _, k := range []string{"hub_pauses", "hub_stalls"} {
		if c[k] == 0 {
			delete(c, k)
		}
	}
	if sum.Capture != nil {
		c["capture_written"] = sum.Capture.Written
		c["capture_queue_full"] = sum.Capture.QueueFull
		c["capture_write_error"] = sum.Capture.WriteError
		c["capture_bytes"] = 0
		for _, f := range sum.Capture.Files {
			if !filepath.IsAbs(f) {
				f = filepath.Join(dir, f)
			}
			fi, err := os.Stat(f)
			if err != nil {
				return c, fmt.Errorf("hub process: capture: %w", err)
			}
			c["capture_bytes"] += uint64(fi.Size())
		}
	}
	return c, nil
}
