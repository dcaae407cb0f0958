package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"l2hub/hub"
	"l2hub/internal/shell"
	"l2hub/internal/wallclock"
)

// Repeat runs the lab n times with the seeds seed, seed+1, ... (the seed
// of opts, else the lab's, else 1), each in its own directory under
// opts.Dir (seed-S), and prints a table of the outcomes with, for each
// failing seed, the command that reruns it; a junit.xml beside the runs'
// directories holds every run's test suite. With keepFailing, the
// directories of passing runs are removed. n = 1 is one run in opts.Dir
// itself (with keepFailing, a pass leaves its junit.xml there alone). It
// stops early when ctx ends; the error is the first run that could not be
// set up, or, after n runs, the junit.xml of them all not written.
func Repeat(ctx context.Context, l *Lab, opts Options, n int, keepFailing bool) ([]*Summary, error) {
	if opts.Out == nil {
		opts.Out = io.Discard
	}
	if n <= 1 {
		s, err := Run(ctx, l, opts)
		if err == nil && keepFailing && s.Result == ResultPass {
			emptyPassed(opts.Out, s.Dir)
		}
		return []*Summary{s}, err
	}
	if err := CheckRepeat(l, opts, n); err != nil {
		return nil, err
	}
	base := repeatBase(l, opts)
	root, err := makeRunDir(opts.Dir, l.Name, clockOf(opts).Now())
	if err != nil {
		return nil, err
	}
	var runs []*Summary
	for i := range n {
		if ctx.Err() != nil {
			break
		}
		o := opts
		o.Seed, o.SeedSet = base+uint64(i), true
		o.Dir = filepath.Join(root, fmt.Sprintf("seed-%d", o.Seed))
		fmt.Fprintf(opts.Out, "\n=== run %d of %d: seed %d\n", i+1, n, o.Seed)
		s, err := Run(ctx, l, o)
		if err != nil && s == nil {
			writeRepeatJUnit(opts, root, runs, setupSuite(l, o, err, clockOf(opts).Now()))
			return runs, err
		}
		runs = append(runs, s)
		if keepFailing && s.Result == ResultPass {
			os.RemoveAll(s.Dir)
		}
	}
	WriteRepeatTable(opts.Out, runs, keepFailing)
	if err := writeRepeatJUnit(opts, root, runs, nil); err != nil {
		return runs, fmt.Errorf("the runs ended, but %v: their verdict cannot be read from it", err)
	}
	return runs, nil
}

// removeAllBut removes everything in dir but the file keep.
// emptyPassed empties the directory of a single passing run for
// --keep-failing, but its junit.xml, as --repeat's stays beside its runs:
// a CI job publishes it whatever the outcome. It says what it left.
func emptyPassed(out io.Writer, dir string) {
	if err := removeAllBut(dir, "junit.xml"); err != nil {
		fmt.Fprintf(out, "passed: run directory %s not removed (--keep-failing): %v\n", dir, err)
		return
	}
	if fi, err := os.Stat(filepath.Join(dir, "junit.xml")); err != nil || !fi.Mode().IsRegular() {
		fmt.Fprintf(out, "passed: run directory %s emptied (--keep-failing); its junit.xml was not written\n", dir)
		return
	}
	fmt.Fprintf(out, "passed: run directory %s emptied except junit.xml (--keep-failing)\n", dir)
}

func removeAllBut(dir, keep string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.Name() == keep {
			continue
		}
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// repeatBase is the first seed of --repeat: opts', else the lab's, else 1.
func repeatBase(l *Lab, opts Options) uint64 {
	switch {
	case opts.SeedSet:
		return opts.Seed
	case l.SeedSet:
		return l.Seed
	}
	return 1
}

// CheckRepeat refuses n runs (--repeat) whose seeds, from the first one
// on, would pass the largest 64-bit seed and wrap around to 0.
func CheckRepeat(l *Lab, opts Options, n int) error {
	if base := repeatBase(l, opts); n > 1 && base > math.MaxUint64-uint64(n-1) {
		return fmt.Errorf("--repeat %d from seed %d: the seeds would pass %d and wrap around to 0; give a lower --seed", n, base, uint64(math.MaxUint64))
	}
	return nil
}

// writeRepeatJUnit writes the runs' test suites to root/junit.xml, for a
// CI job that publishes one file (each run's own stays in its directory,
// unless --keep-failing removed it), with, if a run could not be set up,
// its suite (setup) last; and says why if it cannot, returning the error.
func writeRepeatJUnit(opts Options, root string, runs []*Summary, setup *junitSuite) error {
	suites := repeatSuites(runs)
	if setup != nil {
		suites = append(suites, *setup)
	}
	fs := opts.fs
	if fs == nil {
		fs = osFS{}
	}
	if err := writeJUnitFile(fs, filepath.Join(root, "junit.xml"), suites); err != nil {
		fmt.Fprintf(opts.Out, "junit.xml not written: %v\n", err)
		return fmt.Errorf("junit.xml not written: %w", err)
	}
	return nil
}

// setupSuite is the test suite of a run of --repeat (opts) that could not
// be set up (err, at now): one case in error.
func setupSuite(l *Lab, opts Options, err error, now time.Time) *junitSuite {
	s := errorSuite(l.File, l.Name+" seed "+strconv.FormatUint(opts.Seed, 10), "run", "error: the run could not be set up; nothing ran", opts.Dir, err, now)
	s.Properties = append(s.Properties, junitProperty{"seed", strconv.FormatUint(opts.Seed, 10)})
	return &s
}

func clockOf(o Options) hub.Clock {
	if o.Clock == nil {
		return wallclock.Clock{}
	}
	return o.Clock
}

// WriteRepeatTable prints one row per run and the commands that rerun the
// failing seeds. An interrupted run (Ctrl-C) did not fail: it is neither
// counted nor listed to rerun, and said apart.
func WriteRepeatTable(w io.Writer, runs []*Summary, keepFailing bool) {
	failed, finished := 0, 0
	var interrupted []*Summary
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "\nRUN\tSEED\tRESULT\tCODE\tPHASE\tVM\tMISSING MARKER\tDURATION\tRUN DIRECTORY")
	for i, s := range runs {
		code, phase, vm, marker := "-", "-", "-", "-"
		if c := s.Classification; c != nil {
			code, phase, vm, marker = c.Code, c.Phase, orDash(c.VM), orDash(cut(c.Marker, 40))
		}
		dir := s.Dir
		if s.Result == ResultPass && keepFailing {
			dir = "(removed)"
		}
		switch s.Result {
		case ResultPass:
			finished++
		case ResultInterrupted:
			interrupted = append(interrupted, s)
		default:
			finished++
			failed++
		}
		fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", i+1, s.Seed, s.Result, code, phase, vm, marker, secs(s.Duration.D()), dir)
	}
	tw.Flush()
	fmt.Fprintf(w, "\n%d of %d runs failed\n", failed, finished)
	for _, s := range interrupted {
		fmt.Fprintf(w, "seed %d: interrupted before its end (not counted)\n", s.Seed)
	}
	if failed > 0 {
		fmt.Fprintln(w, "rerun a failing seed:")
		for _, s := range runs {
			if s.Result != ResultPass && s.Result != ResultInterrupted && s.Rerun != "" {
				fmt.Fprintf(w, "  %s\n", s.Rerun)
			}
		}
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// Verdict is the outcome of Repeat's runs, n asked for, as an error: nil
// when every run passed and wrote its summary.json and junit.xml; else
// what failed ("lab failed: SESSION_TIMEOUT", "2 of 20 runs failed"), or
// that the runs were interrupted, or that a run that passed did not write
// them: a pass whose evidence is missing is no pass a CI system can check.
func Verdict(runs []*Summary, n int) error {
	err := verdict(runs, n)
	var lost []string
	for _, s := range runs {
		if len(s.unwritten) > 0 {
			lost = append(lost, filepath.Join(s.Dir, strings.Join(s.unwritten, " and ")))
		}
	}
	switch {
	case len(lost) == 0:
		return err
	case err != nil:
		return fmt.Errorf("%w; and %s not written", err, strings.Join(lost, ", "))
	}
	return fmt.Errorf("%s not written: the lab passed, but a pass whose verdict is not on disk for a CI system to read does not count as a pass", strings.Join(lost, ", "))
}

func verdict(runs []*Summary, n int) error {
	failed, interrupted := 0, 0
	for _, s := range runs {
		switch s.Result {
		case ResultPass:
		case ResultInterrupted:
			interrupted++
		default:
			failed++
		}
	}
	switch {
	case n > 1 && (len(runs) < n || interrupted > 0):
		msg := fmt.Sprintf("interrupted after %d of %d runs", len(runs)-interrupted, n)
		if failed > 0 {
			msg += fmt.Sprintf(" (%d failed)", failed)
		}
		return errors.New(msg)
	case failed+interrupted == 1 && n == 1:
		if c := runs[0].Classification; c != nil {
			return fmt.Errorf("lab failed: %s", c.Code)
		}
		return errors.New("lab " + runs[0].Result)
	case failed > 0:
		return fmt.Errorf("%d of %d runs failed", failed, len(runs))
	}
	return nil
}

// Rerun returns Options.Rerun for a lab run as `l2hub lab file` with
// these --until, --soak and --var values.
func Rerun(file, until string, soak time.Duration, vars []string) func(seed uint64, set bool) string {
	return func(seed uint64, seedSet bool) string {
		args := []string{"l2hub", "lab", file}
		if seedSet {
			args = append(args, "--seed", strconv.FormatUint(seed, 10))
		}
		if until != "" {
			args = append(args, "--until", until)
		}
		if soak > 0 {
			args = append(args, "--soak", soak.String())
		}
		for _, v := range vars {
			args = append(args, "--var", v)
		}
		return shell.Quote(args)
	}
}
