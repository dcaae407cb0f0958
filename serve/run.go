package serve

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"l2hub/control"
	"l2hub/filter"
	"l2hub/internal/atomicfile"
	"l2hub/internal/ready"
	"l2hub/internal/shell"
	"l2hub/transport"
)

// ErrCheckFailed is Run's error when the live conformance checker found a
// failure (l2hub serve exits 2 for it, as l2hub check does).
var ErrCheckFailed = errors.New("conformance checks failed")

// ErrProbeFailed is Run's error when a virtual peer's probe (--probe)
// gave a failing verdict (l2hub serve exits 2 for it too).
var ErrProbeFailed = errors.New("probe failed")

// ErrProbeNoVerdict is Run's error when a virtual peer's probe gave no
// verdict: its target never appeared, or the run ended before it could
// judge (l2hub serve exits 3 for it: nothing was tested, which is no pass).
var ErrProbeNoVerdict = errors.New("probe gave no verdict (its target never appeared, or the run ended first)")

// Run is `l2hub serve`: it binds every port and the control API (refusing
// to start if any cannot be bound), then opens the capture, prints the
// banner with each port's QEMU flags to opts.Out, runs the session until
// ctx ends or a transport fails, and shuts down in order: transports, hub,
// control API, captures. It then prints the counters and, with a live
// checker, its report. A capture that takes nothing while it closes (a
// stream whose reader stopped reading: capture.ErrWriteStuck, after
// CaptureConfig.CloseTimeout) does not hold the exit: the counters are
// printed all the same and Run returns its error. So it does for a capture
// file that failed (a full disk), even one the capture went on from in a
// new file: the capture misses frames. A refused start leaves
// no file touched. The files
// it writes later (the ready file once bound, the summary at exit) are
// checked first, before anything is bound: a path that cannot be written
// refuses the start rather than cost the run.
func Run(ctx context.Context, cfg Config, opts Options) error {
	if err := checkOutputs(&cfg, opts); err != nil {
		return err
	}
	if err := cfg.ReadTokens(ctx); err != nil {
		return err
	}
	if opts.Out == nil {
		opts.Out = io.Discard
	}
	if opts.SummaryOut == nil {
		opts.SummaryOut = opts.Out
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	log := opts.Logger
	ctl, err := listenControl(cfg, log)
	if err != nil {
		return err
	}
	met, err := listenMetrics(cfg)
	if err != nil {
		ctl.close()
		return err
	}
	opts.stop = ctx.Done() // a signal ends a wait for a capture pipe's reader
	sess, err := New(cfg, opts)
	if err != nil {
		ctl.close()
		met.close()
		return err
	}

	// fatal records the first error that stops the hub (a port's transport
	// failing); a signal or the caller's cancel is a clean stop.
	var fatalOnce sync.Once
	var fatalErr error
	ctx, cancelCause := context.WithCancelCause(ctx)
	defer cancelCause(nil)
	fatal := func(err error) {
		fatalOnce.Do(func() { fatalErr = err })
		cancelCause(err)
	}
	if err := sess.Start(ctx, fatal); err != nil {
		ctl.close()
		met.close()
		sess.Stop()
		return err
	}
	ctlDone := ctl.serve(ctx, sess, log)
	metDone := met.serve(ctx, sess, log)

	// The banner goes out in one write, so that a reader who sees its
	// first line (a script, a test) finds the ports' lines there too.
	var banner bytes.Buffer
	sess.printBanner(&banner, ctl.addr)
	if met.addr != "" {
		fmt.Fprintf(&banner, "metrics for Prometheus on %s/metrics\n", strings.Replace(met.addr, "tcp:", "http://", 1))
	}
	opts.Out.Write(banner.Bytes())
	readyFile, err := sess.announceReady(opts.ReadyFile, ctl.addr)
	if err != nil {
		fatal(err)
	}

	<-ctx.Done()
	log.Info("shutting down", "reason", context.Cause(ctx))
	sess.announceStopping(readyFile)
	herr := sess.Stop()
	if ctlDone != nil {
		<-ctlDone
	}
	if metDone != nil {
		<-metDone
	}
	stopped := fatalErr
	if stopped == nil {
		stopped = herr
	}
	sum := sess.summary(stopped)
	report, checked := sess.CheckReport()
	if checked {
		sum.Check = &report
	}
	var serr error
	if opts.SummaryFile != "" {
		serr = writeSummaryFile(opts.SummaryFile, &sum)
	}
	// The summary is made whole, then written within summaryTimeout: a
	// stdout nobody reads (serve 2>&1 | less, paused) must not hold the
	// exit, now that the summary file and the ready file are dealt with.
	var out bytes.Buffer
	if opts.JSON {
		// stdout carries the summary alone (serve --json > counters.json):
		// one that could not be written fails the run, as --summary's does.
		if err := sum.writeJSON(&out); err != nil && serr == nil {
			serr = fmt.Errorf("summary: %w", err)
		}
	} else {
		sum.writeText(&out)
		if checked {
			fmt.Fprintln(&out)
			report.WriteText(&out)
		}
	}
	if err := writeWithin(opts.SummaryOut, out.Bytes(), summaryTimeout); err != nil {
		if opts.JSON && serr == nil {
			serr = fmt.Errorf("summary: %w", err)
		}
		log.Warn("the summary was not written out", "err", err)
	}
	switch {
	case stopped != nil:
		return stopped
	case serr != nil:
		return serr
	case checked && !report.OK():
		return ErrCheckFailed
	}
	return sum.probeErr()
}

// checkOutputs checks that no output of the run is one of its inputs or
// another output (checkSameFiles), and that the ready file and the
// summary file, when asked for, can be written now (ready.Check,
// atomicfile.Check), leaving nothing behind; its error reads as the write
// would fail later. A ready
// file must be a regular file or a new path; a FIFO as the summary passes,
// since its reader may come before the run ends.
func checkOutputs(cfg *Config, opts Options) error {
	if err := checkSameFiles(cfg, opts); err != nil {
		return err
	}
	if opts.ReadyFile != "" {
		if err := ready.Check(opts.ReadyFile); err != nil {
			return err
		}
	}
	if opts.SummaryFile != "" {
		if err := atomicfile.Check(opts.SummaryFile); err != nil {
			return fmt.Errorf("summary: %w", err)
		}
	}
	return nil
}

// controlListener is the control API's bound address, not yet serving; its
// zero value is "no control API".
type controlListener struct {
	l     net.Listener
	addr  string
	token string
}

// listenControl binds the control API unless it is "off". When another
// hub of the same user already answers on the default socket, this one runs
// without control (with a warning); any other failure, such as a default
// path that someone else holds, stops the start.
func listenControl(cfg Config, log *slog.Logger) (controlListener, error) {
	if cfg.Control == "off" {
		return controlListener{}, nil
	}
	token, err := cfg.Token()
	if err != nil {
		return controlListener{}, err
	}
	if network, _ := control.ParseAddr(cfg.Control); network == "tcp" {
		// As Listen would, but naming where the token came from, or
		// where a config file may give one.
		if token == "" && cfg.source != "" {
			return controlListener{}, cfg.blame(fmt.Errorf("control address %q: %w: any local user could reach it "+
				"(give one with --control-token-file, $%s, or the config's control_token_file:)", cfg.Control, control.ErrNeedToken, control.TokenEnv), "control")
		}
		if err := control.CheckTokenLen("control token from "+cfg.TokenFrom(), token); err != nil {
			return controlListener{}, fmt.Errorf("control: %w", err)
		}
	}
	l, err := control.Listen(cfg.Control, token)
	if err != nil {
		if cfg.Control == "" && errors.Is(err, control.ErrInUse) {
			log.Warn("control API disabled: another hub of yours answers on the default socket; give this one --control PATH", "err", err)
			return controlListener{}, nil
		}
		return controlListener{}, cfg.blame(err, "control")
	}
	return controlListener{l: l, addr: shownControlAddr(control.Addr(l)), token: token}, nil
}

// ServeControl binds the control API at the session's Config.Control (a
// unix socket path, "tcp:HOST:PORT", or the default socket when empty) and
// answers it for s until ctx ends, as Run does; l2hub ctl, and a control.Client
// given addr (as ctl --control takes it: a relative socket path made
// absolute) and the config's Token, then act on this session. done
// is closed once the API stopped serving (its socket file removed). With
// Control "off" it returns an empty addr and a nil done.
func (s *Session) ServeControl(ctx context.Context) (addr string, done <-chan struct{}, err error) {
	ctl, err := listenControl(s.cfg, s.log)
	if err != nil {
		return "", nil, err
	}
	return ctl.addr, ctl.serve(ctx, s, s.log), nil
}

// close releases a listener that will not serve (a unix socket's file goes
// with it).
func (c controlListener) close() {
	if c.l != nil {
		c.l.Close()
	}
}

// serve answers the control API for s until ctx ends; done is closed once
// it stopped (nil without a control API).
func (c controlListener) serve(ctx context.Context, s *Session, log *slog.Logger) (done <-chan struct{}) {
	if c.l == nil {
		return nil
	}
	srv := &control.Server{Target: s, Registry: s.Registry(), Token: c.token, Logger: log}
	ch := make(chan struct{})
	go func() {
		defer close(ch)
		if err := srv.Serve(ctx, c.l); err != nil && !errors.Is(err, net.ErrClosed) {
			log.Warn("control API stopped", "err", err)
		}
		if network, path := control.ParseAddr(c.addr); network == "unix" {
			os.Remove(path)
		}
	}()
	return ch
}

// policyLine is the banner's line for the policy in force. A policy that
// does nothing (--seed alone, a file without rules, partitions or
// schedules) says so, rather than read as faults configured: its seed is
// for the rules ctl rule add adds, if the control API is on. Every port
// has a link state, so a schedule is what makes one a fault.
func policyLine(p *filter.Policy, controlOff bool) string {
	st := p.Stats()
	scheduled := slices.ContainsFunc(st.Ports, func(l filter.PortStats) bool { return l.Schedule != "" })
	if len(st.Rules)+len(st.Partitions) > 0 || scheduled {
		return fmt.Sprintf("policy %s, seed %d", p.Name(), p.Seed())
	}
	if controlOff {
		return fmt.Sprintf("policy %s: no faults (seed %d, unused: the control API is off)", p.Name(), p.Seed())
	}
	return fmt.Sprintf("policy %s: no faults yet (seed %d, for rules added with ctl rule add)", p.Name(), p.Seed())
}

// printBanner says what runs: mode, ports, control API, policy, capture,
// virtual peers, and each port's QEMU flags.
func (s *Session) printBanner(w io.Writer, ctlAddr string) {
	fmt.Fprintf(w, "l2hub %s: %s with %s", s.opts.Version, s.cfg.Mode, ports(len(s.runners)+len(s.peers)))
	if ctlAddr != "" {
		fmt.Fprintf(w, "; control API on %s", ctlAddr)
	}
	fmt.Fprintln(w, "; Ctrl-C stops")
	if p := s.currentPolicy(); p != nil { // the control API may already be replacing it
		fmt.Fprintln(w, policyLine(p, s.cfg.Control == "off"))
	}
	if s.capture != nil {
		fmt.Fprintf(w, "capturing to %s\n", s.captureNames())
	}
	for _, p := range s.Peers() {
		fmt.Fprintf(w, "virtual %s on port %s at %s (%s)\n", p.Role, p.Role, p.Addr, p.MAC)
	}
	var specs []transport.Spec
	for _, p := range s.Bound() {
		if p.Down != nil {
			fmt.Fprintf(w, "\nport %s: down: %v\n", p.Spec.Name, p.Down)
			continue
		}
		specs = append(specs, p.Spec)
	}
	WriteQEMUArgs(w, specs, "n0")
}

// captureNames says where the capture goes, for the banner: its files, or
// with one file per port, which open as each port is added, their names'
// pattern (run-<port>.pcapng).
func (s *Session) captureNames() string {
	c := s.cfg.Capture
	if c.PerPort {
		ext := filepath.Ext(c.File)
		return strings.TrimSuffix(c.File, ext) + "-<port>" + ext + " (one file per port)"
	}
	if files := s.capture.Files(); len(files) > 0 {
		return strings.Join(files, ", ")
	}
	return c.File
}

// PrintQEMUArgs is l2hub qemu-args: the -netdev flags of every port of a
// config that is not yet served (WriteQEMUArgs), or with env the shell
// assignments (WriteQEMUEnv). Socket paths are given as serve's banner
// gives them, a relative one absolute against the working directory
// (transport.Spec.WithAbsPaths), for a QEMU started elsewhere. A port
// whose address lets the hub choose the port number has no flags before
// the hub starts: an error.
func PrintQEMUArgs(w io.Writer, cfg Config, id string, env bool) error {
	specs := make([]transport.Spec, len(cfg.Ports))
	for i, s := range cfg.Ports {
		if s.AnyPort() {
			return fmt.Errorf("port %s: address %s lets the hub choose the port when it starts, so no flags can be printed before: give a fixed port, or take the flags from l2hub serve's banner", s.Name, s.Address)
		}
		specs[i] = s.WithAbsPaths()
	}
	if env {
		return WriteQEMUEnv(w, specs, id)
	}
	WriteQEMUArgs(w, specs, id)
	return nil
}

// WriteQEMUArgs prints, per port, the -netdev flags a VM needs (QEMU's
// current spelling first, then its older one), or what a host port is.
func WriteQEMUArgs(w io.Writer, specs []transport.Spec, id string) {
	for _, s := range specs {
		fmt.Fprintf(w, "\nport %s (%s):\n", s.Name, DescribeSpec(s))
		args := s.QEMUArgs(id)
		if len(args) == 0 {
			if note := s.HostNote(); note != "" {
				fmt.Fprintf(w, "  %s\n", note)
			}
			continue
		}
		fmt.Fprintf(w, "  -netdev %s\n", args[0])
		for _, alt := range args[1:] {
			fmt.Fprintf(w, "  or, in QEMU's older spelling: -netdev %s\n", alt)
		}
	}
	fmt.Fprintln(w)
}

// WriteQEMUEnv prints, per port with a QEMU back end, a shell assignment
// NETDEV_<PORT>='-netdev ...' for harnesses that take a VM's netdev from a
// variable, such as open-nexus-OS's os2vm.sh (NETDEV_A, NETDEV_B). Two
// ports whose names give one variable (a and A, a-b and a_b) are refused
// before anything is printed: after eval the second would silently win.
func WriteQEMUEnv(w io.Writer, specs []transport.Spec, id string) error {
	var b strings.Builder
	first := map[string]string{} // variable -> the port that gave it
	for _, s := range specs {
		args := s.QEMUArgs(id)
		if len(args) == 0 {
			continue
		}
		v := "NETDEV_" + shell.Ident(s.Name)
		if p, dup := first[v]; dup {
			return fmt.Errorf("ports %q and %q both give the variable %s: rename one to print --env assignments", p, s.Name, v)
		}
		first[v] = s.Name
		fmt.Fprintf(&b, "%s='-netdev %s'\n", v, args[0])
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// ports is "1 port" or "n ports".
func ports(n int) string {
	if n == 1 {
		return "1 port"
	}
	return strconv.Itoa(n) + " ports"
}

// summaryTimeout bounds how long serve's exit waits for its summary's
// reader (stdout, or stderr with --capture -).
const summaryTimeout = 2 * time.Second

// writeWithin writes p to w, or gives up after d with an error: a write
// given up on goes on in its goroutine until w takes it or the process
// exits.
func writeWithin(w io.Writer, p []byte, d time.Duration) error {
	if len(p) == 0 {
		return nil
	}
	done := make(chan error, 1)
	go func() {
		_, err := w.Write(p)
		done <- err
	}()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case err := <-done:
		return err
	case <-t.C:
		return fmt.Errorf("not taken within %v: nothing reads it", d)
	}
}
