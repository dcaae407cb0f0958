package lab

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"time"

	"l2hub/internal/wallclock"
)

// Command is `l2hub lab FILE` after its flags. The typed flags (Repeat,
// Seed, Soak, Grace) are the text given, parsed by Run: a bad value is
// then an argument error like the others, written to Dir's junit.xml.
type Command struct {
	File        string
	Dir         string   // --out: the run directory
	Until       string   // --until: the last phase
	Seed        string   // --seed: an unsigned 64-bit integer; "" for the lab's
	Repeat      string   // --repeat: a whole number, 1 or more; "" is 1
	Soak, Grace string   // --soak, --grace: durations; "" is 0 (Grace: DefaultGrace)
	Vars        []string // --var NAME=VALUE
	KeepFailing bool     // --keep-failing
	Version     string   // l2hub's, recorded in the capture
	Out         io.Writer
	// NoJUnit, when set, is told why the junit.xml of a run refused before
	// it started could not be written.
	NoJUnit func(error)
}

// Run runs the lab c names, Repeat times, and returns the runs' Verdict as
// verdict (nil when all passed). err is for a lab that did not run: its
// arguments or its file could not be used (with Dir given, its junit.xml
// says why, so a CI job that publishes it gets a red test), or a run could
// not be set up.
func (c *Command) Run(ctx context.Context) (verdict, err error) {
	refuse := func(write func(dir, file string, err error, now time.Time) error, err error) (error, error) {
		if c.Dir != "" {
			if jerr := write(c.Dir, c.File, err, wallclock.Clock{}.Now()); jerr != nil && c.NoJUnit != nil {
				c.NoJUnit(jerr)
			}
		}
		return nil, err
	}
	vs, err := ParseVars(c.Vars)
	if err != nil {
		return refuse(WriteArgsErrorJUnit, err)
	}
	n, err := 1, error(nil)
	if c.Repeat != "" {
		n, err = strconv.Atoi(c.Repeat)
	}
	if err != nil || n < 1 {
		return refuse(WriteArgsErrorJUnit, fmt.Errorf("--repeat %s: want a whole number, 1 or more", c.Repeat))
	}
	soak, err := parseDuration("--soak", c.Soak)
	if err != nil {
		return refuse(WriteArgsErrorJUnit, err)
	}
	grace, err := parseDuration("--grace", c.Grace)
	if err != nil {
		return refuse(WriteArgsErrorJUnit, err)
	}
	opts := Options{Out: c.Out, Dir: c.Dir, Until: c.Until, Soak: soak, Grace: grace, Version: c.Version,
		Rerun: Rerun(c.File, c.Until, soak, c.Vars)}
	if c.Seed != "" {
		if opts.Seed, err = strconv.ParseUint(c.Seed, 0, 64); err != nil {
			return refuse(WriteArgsErrorJUnit, fmt.Errorf("--seed %s: want an unsigned 64-bit integer", c.Seed))
		}
		opts.SeedSet = true
	}
	l, err := Load(c.File, LoadOptions{Vars: vs})
	if err != nil {
		return refuse(WriteLoadErrorJUnit, err)
	}
	if err := CheckOptions(l, opts); err != nil {
		return refuse(WriteArgsErrorJUnit, err)
	}
	if err := CheckRepeat(l, opts, n); err != nil {
		return refuse(WriteArgsErrorJUnit, err)
	}
	runs, err := Repeat(ctx, l, opts, n, c.KeepFailing)
	if err != nil {
		return nil, err
	}
	return Verdict(runs, n), nil
}

// parseDuration parses the text of the duration flag name; "" is 0.
func parseDuration(name, text string) (time.Duration, error) {
	if text == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(text)
	if err != nil {
		return 0, fmt.Errorf("%s %s: want a duration such as 30s or 1h30m", name, text)
	}
	return d, nil
}
