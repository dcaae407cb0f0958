package lab

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/spf13/pflag"

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

// Register adds `l2hub lab`'s flags to fs, each into its field of c:
// Repeat, Soak and Grace as the text given (textFlag), Repeat and Grace
// with their defaults.
func (c *Command) Register(fs *pflag.FlagSet) {
	c.Repeat, c.Grace = "1", DefaultGrace.String()
	fs.StringVar(&c.Dir, "out", "", "run `directory` (new or empty; default lab-runs/<name>-<time>)")
	fs.StringVar(&c.Until, "until", "", "stop after this `phase`, as os2vm.sh's RUN_PHASE")
	fs.StringVar(&c.Seed, "seed", "", "the policy's seed (default: the lab's seed:, else the policy file's)")
	fs.Var(&textFlag{&c.Repeat, "int"}, "repeat", "run `N` times with seeds seed, seed+1, ...; print a table and the rerun command of each failing seed")
	fs.BoolVar(&c.KeepFailing, "keep-failing", false, "remove the run directories of passing runs (a single run keeps its junit.xml; --repeat's junit.xml of all runs stays)")
	fs.Var(&textFlag{&c.Soak, "duration"}, "soak", "after the last phase, repeat its markers' checks for this `duration`, counting the rounds that fail")
	fs.Var(&textFlag{&c.Grace, "duration"}, "grace", "how long a QEMU has to end after SIGTERM before it is killed")
	fs.StringArrayVar(&c.Vars, "var", nil, "set a variable the lab file defines in vars: or uses as ${NAME} in qemu: or args: (`NAME=VALUE`, repeatable)")
}

// textFlag is a typed flag (an int, a duration) kept as the text given and
// parsed in Run: a bad value is then an argument error like the others,
// written to --out's junit.xml, where cobra would refuse it while parsing,
// before --out is known.
type textFlag struct {
	text *string
	typ  string
}

func (f *textFlag) String() string     { return *f.text }
func (f *textFlag) Set(s string) error { *f.text = s; return nil }
func (f *textFlag) Type() string       { return f.typ }

// Run runs the lab c names, Repeat times, and returns the runs' Verdict as
// verdict (nil when all passed). err is for a lab that did not run: its
// arguments or its file could not be used (with Dir given, its junit.xml
// says why, so a CI job that publishes it gets a red test), or a run could
// not be set up before its summary (a run directory that cannot be made);
// a run whose hub would not start has a summary that says why, printed to
// Out, and its verdict is "lab error".
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
	if err != nil && !(n == 1 && len(runs) == 1 && runs[0] != nil) {
		return nil, err
	}
	// A single run that wrote its summary (a hub that would not start)
	// said its error there ("error: hub: ..."): its verdict ("lab
	// error") is what is left to say, not the error again.
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
