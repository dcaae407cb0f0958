package lab

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"l2hub/control"
	"l2hub/hub"
	"l2hub/internal/wallclock"
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
