package lab

// This file holds the runner's side of the hub: startHub runs the lab's
// hub in-process (package serve) with the VMs' own ports in the run
// directory (or a temporary one when their socket paths would not fit),
// its capture and control API, hub.log stamped with the run's time
// (stampWriter), and a client of the control API for the triggers.

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"l2hub/control"
	"l2hub/filter"
	"l2hub/hub"
	"l2hub/internal/unixpath"
	"l2hub/serve"
	"l2hub/transport"
)

// socketsFit reports whether the run's unix sockets, <name>.sock for VM
// names of up to longest bytes and ctl.sock, fit a socket's address in
// dir; a run directory too deep for them gets its sockets in a temporary
// one.
func socketsFit(dir string, longest int) bool {
	return len(dir)+len("/.sock")+max(longest, len("ctl")) <= unixpath.MaxLen
}

// startHub starts the serve session with the lab's VM ports in the run
// directory, its capture and control API, and a client of that API.
func (r *runner) startHub(ctx context.Context) error {
	longest := 0
	for _, vm := range r.lab.VMs {
		longest = max(longest, len(vm.Name))
	}
	r.sockDir = r.dir
	if abs, err := filepath.Abs(r.dir); err == nil {
		r.sockDir = abs
	}
	if !socketsFit(r.sockDir, longest) {
		tmp, err := os.MkdirTemp("", "l2lab-")
		if err != nil {
			return err
		}
		r.sockDir, r.tmpDir = tmp, tmp
	}
	cfg := r.lab.Hub
	cfg.Ports = slices.Clone(cfg.Ports)
	for i, p := range cfg.Ports {
		if vm := r.vmOfPort(p.Name); vm >= 0 && r.lab.VMs[vm].Own {
			cfg.Ports[i].Address = filepath.Join(r.sockDir, p.Name+".sock")
		}
	}
	cfg.Capture = serve.CaptureConfig{File: filepath.Join(r.dir, "capture.pcapng")}
	if cfg.Control == "" {
		cfg.Control = filepath.Join(r.sockDir, "ctl.sock")
	}
	if r.seedSet {
		var f filter.Flags
		f.SetSeed(r.seed)
		cfg.Faults = &f
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	if err := cfg.ReadTokens(ctx); err != nil {
		return err
	}
	token, err := cfg.Token()
	if err != nil {
		return err
	}
	if r.hubLog, err = createLog(r.fs(), filepath.Join(r.dir, "hub.log"), "hub.log", r.logStopped); err != nil {
		return err
	}
	r.logs = append(r.logs, r.hubLog)
	w := &stampWriter{w: r.hubLog, clock: r.opts.Clock, start: r.start}
	fmt.Fprintf(r.hubLog, "# l2hub lab %s: the hub of this run (in-process)\n# t0=%s\n", r.lab.File, r.start.UTC().Format(time.RFC3339Nano))
	logger := slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey && len(groups) == 0 {
				return slog.Attr{} // each line is stamped with the run's time
			}
			return a
		}}))
	r.sess, err = serve.New(cfg, serve.Options{Out: w, Logger: logger, Version: r.opts.Version})
	if err != nil {
		r.hubLog.Close()
		return fmt.Errorf("hub: %w", err)
	}
	hubCtx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	r.stopHub = cancel
	if err := r.sess.Start(hubCtx, func(err error) { r.hubFailed(err) }); err != nil {
		r.sess.Stop()
		r.hubLog.Close()
		return fmt.Errorf("hub: %w", err)
	}
	addr, done, err := r.sess.ServeControl(hubCtx)
	if err != nil {
		cancel(nil)
		r.sess.Stop()
		r.hubLog.Close()
		return fmt.Errorf("hub: %w", err)
	}
	r.ctlDone = done
	if addr != "" {
		r.client = control.NewClient(addr, token)
	}
	r.bound = map[string]transport.Spec{}
	var ports []string
	for _, p := range r.sess.Bound() {
		r.bound[p.Spec.Name] = p.Spec
		ports = append(ports, fmt.Sprintf("%s (%s)", p.Spec.Name, serve.DescribeSpec(p.Spec)))
	}
	seed := "the policy's seed"
	if r.seedSet {
		seed = "seed " + strconv.FormatUint(r.seed, 10)
	}
	r.printf("lab %s: %d VMs, %d phases, %s; run directory %s\n", r.lab.Name, len(r.lab.VMs), len(r.lab.Phases), seed, r.dir)
	for _, w := range r.lab.Warnings {
		r.printf("warning: %s\n", w)
	}
	if addr == "" {
		addr = "off"
	}
	r.printf("%8.3f hub: %s, ports %s; control API %s\n", 0.0, cfg.Mode, strings.Join(ports, ", "), addr)
	return nil
}

func (r *runner) vmOfPort(port string) int {
	return slices.IndexFunc(r.lab.VMs, func(vm VM) bool { return vm.Port == port })
}

// stampWriter writes each line it is given with the time since the run's
// start in front, as the console logs have it.
type stampWriter struct {
	mu    sync.Mutex
	w     io.Writer
	clock hub.Clock
	start time.Time
	part  []byte
}

func (s *stampWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.part = append(s.part, p...)
	for {
		i := slices.Index(s.part, '\n')
		if i < 0 {
			break
		}
		fmt.Fprintf(s.w, "%8.3f %s\n", s.clock.Now().Sub(s.start).Seconds(), s.part[:i])
		s.part = s.part[i+1:]
	}
	if len(s.part) > maxLine {
		s.part = s.part[:0]
	}
	return len(p), nil
}

// hubFailed is the session's fatal callback: a port's transport failed.
func (r *runner) hubFailed(err error) {
	select {
	case r.fatal <- err:
	default:
	}
}

func (r *runner) cleanupSockets() {
	if r.tmpDir != "" {
		os.RemoveAll(r.tmpDir)
	}
}
