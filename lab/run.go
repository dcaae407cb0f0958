package lab

import (
	"bytes"
	"cmp"
	"context"
	"errors"
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

	"l2hub/conformance/checker"
	"l2hub/control"
	"l2hub/filter"
	"l2hub/hub"
	"l2hub/internal/shell"
	"l2hub/internal/unixpath"
	"l2hub/internal/wallclock"
	"l2hub/report"
	"l2hub/serve"
	"l2hub/transport"
)

// Run results.
const (
	ResultPass        = "pass"
	ResultFail        = "fail"
	ResultInterrupted = "interrupted" // the runner was told to stop (SIGINT, SIGTERM)
	ResultError       = "error"       // the hub could not run, or a port failed
)

// Options say how to run a lab.
type Options struct {
	// Out receives one line per marker, phase and trigger as they happen,
	// and the summary table at the end; nil discards.
	Out io.Writer
	// Dir is the run directory; it must not exist or be empty. Default
	// lab-runs/<name>-<time> in the working directory.
	Dir string
	// Until stops the run after this phase, as os2vm.sh's RUN_PHASE.
	Until string
	// Seed, if SeedSet, overrides the lab's seed.
	Seed    uint64
	SeedSet bool
	// Soak repeats the last phase's markers' checks for this long once
	// the phases are done, counting the rounds that fail.
	Soak time.Duration
	// Clock stamps console lines and times every bound; default the wall
	// clock.
	Clock hub.Clock
	// Grace is how long a QEMU has to end after SIGTERM before it is
	// killed; default DefaultGrace.
	Grace time.Duration
	// Version is l2hub's, recorded in the capture.
	Version string
	// Rerun is the command that repeats a run with seed (set: false when
	// neither the lab nor Seed gives one), for the summary ("l2hub lab
	// lab.yaml --seed 8"); nil leaves it out.
	Rerun func(seed uint64, set bool) string

	fs runFS // how the run directory's files are written; default osFS
}

// DefaultGrace is how long a QEMU has between SIGTERM and SIGKILL.
const DefaultGrace = 5 * time.Second

// actionTimeout bounds one trigger's call to the control API.
const actionTimeout = 10 * time.Second

// Run runs the lab once: the hub in-process (serve), then each VM, until
// every marker and phase is in, one fails, the run's timeout passes, or
// ctx ends; then it stops every QEMU it started, stops the hub and writes
// the run directory. The error is for a run that could not be set up
// (a run directory that cannot be made, a hub that cannot bind); the
// Summary says how a run that started went, and is written even then.
func Run(ctx context.Context, l *Lab, opts Options) (*Summary, error) {
	if opts.Clock == nil {
		opts.Clock = wallclock.Clock{}
	}
	if opts.Out == nil {
		opts.Out = io.Discard
	}
	if err := CheckOptions(l, opts); err != nil {
		return nil, err
	}
	if opts.Grace == 0 {
		opts.Grace = DefaultGrace
	}
	until := len(l.Phases) - 1
	if opts.Until != "" {
		until = l.PhaseIndex(opts.Until)
	}
	seed, seedSet := l.Seed, l.SeedSet
	if opts.SeedSet {
		seed, seedSet = opts.Seed, true
	}
	dir, err := makeRunDir(opts.Dir, l.Name, opts.Clock.Now())
	if err != nil {
		return nil, err
	}
	if opts.fs == nil {
		opts.fs = osFS{}
	}
	r := &runner{lab: l, opts: opts, dir: dir, until: until, seed: seed, seedSet: seedSet}
	// What the run prints also goes to lab.log in the run directory. If
	// lab.log stops (a full disk), the output says so, once, and goes on:
	// the note is written under printf's lock, to the output alone.
	f, err := createLog(opts.fs, filepath.Join(dir, "lab.log"), "lab.log", func(e FileError) {
		fmt.Fprintf(opts.Out, "note: %s\n", e)
	})
	if err != nil {
		r.fileErrs = append(r.fileErrs, FileError{File: "lab.log", Error: err.Error()})
		fmt.Fprintf(opts.Out, "note: lab.log not written: %v\n", err)
	} else {
		defer f.Close()
		r.logs = append(r.logs, f)
		r.opts.Out = io.MultiWriter(opts.Out, f)
	}
	return r.run(ctx)
}

// CheckOptions returns what Run would refuse in opts for lab l before
// starting anything: a --until phase the lab lacks, a negative --soak or
// --grace, --soak without phases, a run directory whose path holds a
// comma that QEMU could misread (see checkRunDirCommas).
func CheckOptions(l *Lab, opts Options) error {
	if abs, err := filepath.Abs(cmp.Or(opts.Dir, "lab-runs")); err == nil {
		if err := checkRunDirCommas(l, abs); err != nil {
			return err
		}
	}
	switch {
	case opts.Soak < 0:
		return fmt.Errorf("--soak %s: must not be negative", opts.Soak)
	case opts.Grace < 0:
		return fmt.Errorf("--grace %s: must not be negative (0 means the default %s)", opts.Grace, DefaultGrace)
	case opts.Until != "" && l.PhaseIndex(opts.Until) < 0:
		return fmt.Errorf("--until %s: no such phase (%s)", opts.Until, phaseList(l))
	case opts.Soak > 0 && len(l.Phases) == 0:
		return errors.New("--soak repeats the last phase's markers, and the lab has no phases")
	}
	return nil
}

func phaseList(l *Lab) string {
	names := make([]string, len(l.Phases))
	for i, p := range l.Phases {
		names[i] = p.Name
	}
	if len(names) == 0 {
		return "the lab has none"
	}
	return "phases: " + strings.Join(names, ", ")
}

// makeRunDir creates the run directory: dir if given (it may exist, empty),
// else lab-runs/<name>-<time>, numbered if taken.
func makeRunDir(dir, name string, now time.Time) (string, error) {
	if dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", fmt.Errorf("run directory: %w", err)
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			return "", fmt.Errorf("run directory: %w", err)
		}
		if len(entries) > 0 {
			return "", fmt.Errorf("run directory %s is not empty: give --out a new or empty one", dir)
		}
		return dir, nil
	}
	base := filepath.Join("lab-runs", name+"-"+now.Format("20060102-150405"))
	if err := os.MkdirAll(filepath.Dir(base), 0o755); err != nil {
		return "", fmt.Errorf("run directory: %w", err)
	}
	for i := 1; ; i++ {
		d := base
		if i > 1 {
			d = fmt.Sprintf("%s-%d", base, i)
		}
		err := os.Mkdir(d, 0o755)
		if err == nil {
			return d, nil
		}
		if !errors.Is(err, os.ErrExist) || i > 1000 {
			return "", fmt.Errorf("run directory: %w", err)
		}
	}
}

// runner is one run in progress.
type runner struct {
	lab     *Lab
	opts    Options
	dir     string
	until   int
	seed    uint64
	seedSet bool

	start   time.Time
	sockDir string // where the sockets go: dir, or a temporary one
	tmpDir  string // the temporary one, removed at the end
	hubLog  *logFile
	sess    *serve.Session
	client  *control.Client
	bound   map[string]transport.Spec
	judge   *judge
	procs   []*process
	vmInfo  []VMInfo
	outMu   sync.Mutex
	errText string

	notes     []string    // what the summary must say besides (a QEMU that would not die)
	logs      []*logFile  // the logs the run writes as it goes: lab.log, hub.log, the consoles'
	fileErrs  []FileError // the whole files it could not write (check.txt, check.json)
	reportErr string      // report.html could not be written
	warnedDog bool        // the run said that a VM has no watchdog

	stopHub context.CancelCauseFunc
	ctlDone <-chan struct{}
	fatal   chan error
	inbox   *inbox // the VMs' console lines and exits, for the loop
}

func (r *runner) printf(format string, args ...any) {
	r.outMu.Lock()
	defer r.outMu.Unlock()
	fmt.Fprintf(r.opts.Out, format, args...)
}

func (r *runner) run(ctx context.Context) (*Summary, error) {
	r.start = r.opts.Clock.Now()
	r.fatal = make(chan error, 1)
	r.inbox = newInbox(r.opts.Clock, r.start)
	defer r.cleanupSockets()
	if err := r.startHub(ctx); err != nil {
		r.errText = err.Error()
		sum := r.summarize(ResultError, nil)
		r.write(sum)
		return sum, err
	}
	r.judge = newJudge(r.lab, r.until, r.opts.Soak, func(at time.Duration, format string, args ...any) {
		r.printf("%8.3f %s\n", at.Seconds(), fmt.Sprintf(format, args...))
	})
	result := r.loop(ctx)
	r.stopAll()
	r.stopHub(nil)
	if err := r.sess.Stop(); err != nil && result != ResultError {
		r.errText = "hub: " + err.Error()
	}
	if r.ctlDone != nil {
		<-r.ctlDone
	}
	r.hubLog.Close()
	report := r.check()
	r.writeReport()
	sum := r.summarize(result, report)
	r.write(sum)
	return sum, nil
}

// writeReport draws the run (package report): the capture as a ladder of
// frames between the VMs' ports, each VM's console markers on its port's
// lifeline, the checker's findings pinned to their frames, and the
// partitions the triggers started as bands across the lifelines they cut.
// The page is written whole or not at all; why not is printed, and kept
// for summary.json. What the page leaves out (its warnings) is printed too.
func (r *runner) writeReport() {
	capturePath := filepath.Join(r.dir, "capture.pcapng")
	if _, err := os.Stat(capturePath); err != nil {
		return
	}
	opts := report.Options{Capture: capturePath, Check: r.lab.Hub.Check, Title: "l2hub lab " + r.lab.Name}
	for _, info := range r.vmInfo {
		if info.PID != 0 {
			opts.Consoles = append(opts.Consoles, report.Console{Port: info.Port, Path: filepath.Join(r.dir, info.Log)})
		}
	}
	m, err := report.Build(opts)
	if err == nil {
		// The page was built; a disk that does not take it makes it a
		// file not written, as the others are.
		var page bytes.Buffer
		if err := m.WriteHTML(&page); err != nil {
			r.reportErr = err.Error()
			r.printf("%8.3f report.html not written: %v\n", r.now().Seconds(), err)
			return
		}
		if !r.writeFile("report.html", page.Bytes(), nil) {
			r.reportErr = r.fileErrs[len(r.fileErrs)-1].Error
			return
		}
	}
	if err != nil {
		r.reportErr = err.Error()
		r.printf("%8.3f report.html not written: %v\n", r.now().Seconds(), err)
		return
	}
	for _, w := range m.Warnings {
		r.printf("%8.3f report.html: warning: %s\n", r.now().Seconds(), w)
	}
}

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

// fs is how the run writes its directory's files.
func (r *runner) fs() runFS {
	if r.opts.fs == nil {
		return osFS{}
	}
	return r.opts.fs
}

// logStopped says once, on the run's output, that a log of the run
// directory stopped (a full disk); the summary says it too.
func (r *runner) logStopped(e FileError) {
	r.printf("%8.3f note: %s\n", r.now().Seconds(), e)
}

// hubFailed is the session's fatal callback: a port's transport failed.
func (r *runner) hubFailed(err error) {
	select {
	case r.fatal <- err:
	default:
	}
}

// loop launches the VMs and feeds the judge until the run is over; it
// returns the run's result.
func (r *runner) loop(ctx context.Context) string {
	j := r.judge
	tick := make(chan struct{}, 1)
	var timer hub.Timer
	timerAt := time.Duration(-1)
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	arm := func() {
		d, ok := j.deadline()
		if !ok || d == timerAt {
			return
		}
		if timer != nil {
			timer.Stop()
		}
		timerAt = d
		timer = r.opts.Clock.AfterFunc(d-r.now(), func() {
			select {
			case tick <- struct{}{}:
			default:
			}
		})
	}
	fd := &feeder{j: j, act: r.act}
	take := func(ticked bool) {
		evs, now, horizon := r.inbox.take()
		fd.take(evs, now, horizon, ticked)
	}
	// Triggers at 0s: in force before a VM can send its first frame.
	r.act(j.tick(r.now()))
	for vi := range r.lab.VMs {
		if err := r.launch(vi); err != nil {
			r.printf("%8.3f %v\n", r.now().Seconds(), err)
			r.act(j.exit(vi, r.now(), couldNotStart+err.Error()))
		}
	}
	for !j.done {
		arm()
		select {
		case <-r.inbox.ready:
			take(false)
		case <-tick:
			take(true)
		case err := <-r.fatal:
			r.errText = "hub: " + err.Error()
			r.printf("%8.3f hub failed: %v\n", r.now().Seconds(), err)
			j.interrupt(r.now())
			return ResultError
		case <-ctx.Done():
			r.printf("%8.3f interrupted (%v): stopping\n", r.now().Seconds(), context.Cause(ctx))
			j.interrupt(r.now())
			return ResultInterrupted
		}
	}
	if j.ok() {
		return ResultPass
	}
	return ResultFail
}

func (r *runner) now() time.Duration { return r.opts.Clock.Now().Sub(r.start) }

// feeder hands the judge what the inbox gives (take), and performs the
// actions the judge returns (act).
type feeder struct {
	j       *judge
	act     func([]fire)
	held    []event // taken, stamped after the horizon
	tickDue bool    // a bound woke the loop, and the judge was not told the time yet
}

// take hands the judge what the VMs said, in the order it was stamped,
// then, when a bound woke the loop (ticked, now or before), the time now:
// every line stamped before it was taken with it, so it counts before the
// bound (see inbox). A VM whose QEMU has ended while its console is still
// read puts its exit later, stamped earlier, and so does a console quiet
// after the start of a line (its prompt): what comes after the horizon, a
// bound too, waits for it (at most exitDrain, or promptQuiet after the
// line's last bytes). A bound before the horizon does not: a console that
// keeps printing without a newline moves its horizon on, and must not
// hold the bounds behind it for ever.
func (f *feeder) take(evs []event, now, horizon time.Duration, ticked bool) {
	j := f.j
	f.held = append(f.held, evs...)
	slices.SortStableFunc(f.held, func(a, b event) int { return cmp.Compare(a.at, b.at) })
	n := 0
	for ; n < len(f.held) && f.held[n].at <= horizon; n++ {
		switch ev := f.held[n]; {
		case ev.exit:
			f.act(j.exit(ev.vm, ev.at, ev.text))
		case ev.prompt:
			f.act(j.prompt(ev.vm, ev.at, ev.text))
		default:
			f.act(j.line(ev.vm, ev.at, ev.text))
		}
	}
	f.held = slices.Delete(f.held, 0, n)
	f.tickDue = f.tickDue || ticked
	switch {
	case f.tickDue && now <= horizon:
		f.tickDue = false
		f.act(j.tick(now))
	case f.tickDue && horizon > 0:
		f.act(j.tick(horizon - 1))
	}
}

// act performs the triggers' actions through the control API, as l2hub
// ctl would, and tells the judge how each went. Once one has failed (the
// run has failed with it), the rest are not performed.
func (r *runner) act(fires []fire) {
	var failed error
	for _, f := range fires {
		began := r.now()
		if failed != nil {
			r.judge.acted(f, fmt.Errorf("not performed: %w", failed), began, began)
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), actionTimeout)
		var err error
		switch {
		case r.client == nil:
			err = errors.New("the hub has no control API")
		case f.act.Kind == ActPartition:
			err = r.client.StartPartition(ctx, r.lab.Triggers[f.trigger].Name, f.act.Groups)
		case f.act.Kind == ActHeal:
			err = r.client.HealPartition(ctx, f.act.Target)
		case f.act.Kind == ActLink:
			err = r.client.SetLink(ctx, f.act.Target, f.act.Up)
		}
		cancel()
		if err != nil {
			r.printf("%8.3f %s: %s failed: %v\n", r.now().Seconds(), r.lab.Triggers[f.trigger].Name, f.act, err)
			failed = fmt.Errorf("%s could not %s first", r.lab.Triggers[f.trigger].Name, f.act)
		}
		r.judge.acted(f, err, began, r.now())
	}
}

// launch creates a VM's disks and starts its QEMU.
func (r *runner) launch(vi int) error {
	vm := r.lab.VMs[vi]
	absDir, err := filepath.Abs(r.dir)
	if err != nil {
		return err
	}
	info := VMInfo{Name: vm.Name, Port: vm.Port, Log: vm.Name + ".log"}
	defer func() { r.vmInfo = append(r.vmInfo, info) }()
	for _, d := range vm.Disks {
		f, err := os.OpenFile(filepath.Join(absDir, d.File), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return fmt.Errorf("VM %s: disk: %w", vm.Name, err)
		}
		err = f.Truncate(d.Size)
		f.Close()
		if err != nil {
			return fmt.Errorf("VM %s: disk %s: %w", vm.Name, d.File, err)
		}
	}
	args, err := r.args(vi, absDir)
	if err != nil {
		return err
	}
	info.Command = shell.Quote(append([]string{vm.QEMU}, args...))
	log, err := createLog(r.fs(), filepath.Join(r.dir, info.Log), info.Log, r.logStopped)
	if err != nil {
		return fmt.Errorf("VM %s: console log: %w", vm.Name, err)
	}
	r.logs = append(r.logs, log)
	p, err := startProcess(vi, vm.Name, vm.QEMU, args, r.lab.Dir, log, r.opts.Clock, r.start, r.inbox)
	if err != nil {
		return err
	}
	if p.noDog != nil && !r.warnedDog {
		r.warnedDog = true
		r.printf("%8.3f warning: VM %s: %v; the VMs start without a watchdog, so a QEMU started through a wrapper that does not exec it may outlive a runner killed with SIGKILL\n",
			r.now().Seconds(), vm.Name, p.noDog)
	}
	info.PID = p.cmd.Process.Pid
	r.procs = append(r.procs, p)
	r.printf("%8.3f %s: QEMU started (pid %d, port %s); command and console in %s\n", r.now().Seconds(), vm.Name, info.PID, vm.Port, filepath.Join(r.dir, info.Log))
	return nil
}

// args are VM vi's QEMU arguments with the run's variables filled in and,
// unless they place it themselves, the hub's netdev and a NIC appended.
// In an option string ${RUN} has its commas doubled, as QEMU reads them
// there (file=/runs/a,,b/blk.img); ${NETDEV} has them so already.
func (r *runner) args(vi int, runDir string) ([]string, error) {
	vm := r.lab.VMs[vi]
	netdevs := r.bound[vm.Port].QEMUArgs("n0")
	if len(netdevs) == 0 {
		return nil, fmt.Errorf("VM %s: port %s has no QEMU netdev", vm.Name, vm.Port)
	}
	vars := map[string]string{"NETDEV": netdevs[0], "MAC": vm.MAC, "SEED": strconv.FormatUint(r.seed, 10), "VM": vm.Name}
	var out []string
	var budget argBudget
	placed := false
	for i, a := range vm.Args {
		run := runDir
		if runDirUse(vm.Args, i) == inOptionString {
			run = strings.ReplaceAll(runDir, ",", ",,")
		}
		fill := func(s string, limit int) (string, error) {
			return expandVars(s, limit, func(name string) (string, bool) {
				if name == "RUN" {
					return run, true
				}
				v, ok := vars[name]
				return v, ok
			})
		}
		placed = placed || strings.Contains(a, "${NETDEV}")
		s, err := budget.fill(a, fill)
		if err != nil {
			return nil, fmt.Errorf("VM %s: args[%d]: %w", vm.Name, i, err)
		}
		out = append(out, s)
	}
	if !placed {
		out = append(out, "-netdev", netdevs[0], "-device", vm.NIC+",netdev=n0,mac="+vm.MAC)
	}
	return out, nil
}

// How QEMU reads an argument that holds ${RUN}.
const (
	asUnknown      = iota // l2hub cannot tell
	inOptionString        // key=value,key=value: a comma in a value is written doubled
	asWhole               // the whole value is a path or text: a comma is itself
)

// optionFlags take a QEMU option string (QemuOpts or keyval): a comma
// ends a value there, and one in a value is written doubled. Their JSON
// form ({"driver": ...}) is not one.
var optionFlags = []string{"-drive", "-blockdev", "-device", "-netdev", "-chardev", "-object", "-fsdev", "-virtfs", "-audiodev", "-machine", "-M"}

// wholeFlags take a value QEMU reads whole, a comma in it included (not
// -initrd: a multiboot kernel's modules are split at commas).
var wholeFlags = []string{"-kernel", "-dtb", "-bios", "-append", "-pidfile", "-D", "-L"}

// runDirUse says how QEMU reads args[i], by the flag before it.
func runDirUse(args []string, i int) int {
	if i == 0 {
		return asUnknown
	}
	return commaUse(args[i-1], args[i])
}

// commaUse says how QEMU reads arg, given after before.
func commaUse(before, arg string) int {
	switch f := flag(before); {
	case slices.Contains(optionFlags, f) && !strings.HasPrefix(strings.TrimSpace(arg), "{"):
		return inOptionString
	case slices.Contains(optionFlags, f), slices.Contains(wholeFlags, f):
		return asWhole
	}
	return asUnknown
}

// checkRunDirCommas refuses a run directory (absolute) whose path holds a
// comma when a VM's argument uses ${RUN} where l2hub cannot tell how QEMU
// reads it: in an option string (-drive file=${RUN}/blk.img) the run
// doubles the comma, and after -kernel and the like a comma is itself,
// but elsewhere (-serial unix:${RUN}/s,server=on, -initrd) QEMU may end
// the value at it, and open another file than the run's.
func checkRunDirCommas(l *Lab, runDir string) error {
	if !strings.Contains(runDir, ",") {
		return nil
	}
	for _, vm := range l.VMs {
		for i, a := range vm.Args {
			if !strings.Contains(a, "${RUN}") || runDirUse(vm.Args, i) != asUnknown {
				continue
			}
			after := ""
			if i > 0 {
				after = fmt.Sprintf(" after %s", vm.Args[i-1])
			}
			return fmt.Errorf("run directory %s: its path holds a comma, and VM %s's args[%d] %q%s uses ${RUN} where QEMU may read a comma as the end of the value "+
				"(the run doubles the commas of ${RUN} in the option strings of %s, and leaves them after %s): give --out a directory without a comma",
				runDir, vm.Name, i, a, after, strings.Join(optionFlags, ", "), strings.Join(wholeFlags, ", "))
		}
	}
	return nil
}

// stopAll ends every QEMU the run started: SIGTERM to all at once, SIGKILL
// after the grace period to those still running; it returns once each
// has ended and its console is read, or, for one that does not end after
// SIGKILL, killWait later: it says so in the VM's console log and the
// summary, and the run's files are written without its exit.
func (r *runner) stopAll() {
	r.inbox.close()
	ended := make([]bool, len(r.procs))
	var wg sync.WaitGroup
	for i, p := range r.procs {
		wg.Go(func() { ended[i] = p.terminate(r.opts.Grace) })
	}
	wg.Wait()
	for i, p := range r.procs {
		if !ended[i] {
			note := fmt.Sprintf("VM %s: QEMU (pid %d) still ran %s after SIGKILL; the run stopped waiting for it, and records neither its exit nor the rest of its console",
				p.name, p.cmd.Process.Pid, killWait)
			p.logf(r.now(), "# %s", note)
			p.closeLog()
			r.printf("%8.3f warning: %s\n", r.now().Seconds(), note)
			r.notes = append(r.notes, note)
		}
	}
	for i := range r.vmInfo {
		for pi, p := range r.procs {
			if p.name == r.vmInfo[i].Name {
				p.mu.Lock()
				r.vmInfo[i].Exit = p.status
				p.mu.Unlock()
				if !ended[pi] {
					r.vmInfo[i].Exit = "still running after SIGKILL (not waited for)"
				}
			}
		}
	}
}

// check runs the conformance checker over the capture, when the hub has
// a profile, and writes its report: offline, so that its frame numbers are
// the capture's.
func (r *runner) check() *checker.Report {
	if r.lab.Hub.Check == "" {
		return nil
	}
	profile, err := checker.ParseProfile(r.lab.Hub.Check)
	if err != nil {
		return nil
	}
	rep, err := checker.CheckFiles(checker.Options{Profile: profile}, filepath.Join(r.dir, "capture.pcapng"))
	var b strings.Builder
	rep.WriteText(&b)
	if err != nil {
		fmt.Fprintf(&b, "check stopped: %v\n", err)
	}
	r.writeFile("check.txt", []byte(b.String()), nil)
	data, jerr := jsonIndent(rep)
	r.writeFile("check.json", data, jerr)
	var se *checker.StopError
	if err != nil && !errors.As(err, &se) {
		return nil
	}
	return &rep
}

// writeFile writes the file name of the run directory whole (data, or
// err that made it); one it could not write is said on the run's output
// and kept for the summary. It reports whether it wrote it.
func (r *runner) writeFile(name string, data []byte, err error) bool {
	if err == nil {
		err = r.fs().WriteFile(filepath.Join(r.dir, name), data)
	}
	if err != nil {
		e := FileError{File: name, Error: err.Error()}
		r.fileErrs = append(r.fileErrs, e)
		r.printf("%8.3f note: %s\n", r.now().Seconds(), e)
		return false
	}
	return true
}

func (r *runner) cleanupSockets() {
	if r.tmpDir != "" {
		os.RemoveAll(r.tmpDir)
	}
}
