package main

import (
	"fmt"
	"io"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"l2hub/internal/cli"
	"l2hub/lab"
)

func newLabCmd(stdout io.Writer) *cobra.Command {
	var (
		out         string
		until       string
		seed        string
		keepFailing bool
		vars        []string
		// Typed flags, read in RunE: see textFlag.
		repeat = textFlag{text: "1", typ: "int"}
		soak   = textFlag{typ: "duration"}
		grace  = textFlag{text: lab.DefaultGrace.String(), typ: "duration"}
	)
	cmd := &cobra.Command{
		Use:   "lab FILE",
		Short: "Run a multi-VM experiment declared in one file: hub, VMs, markers, phases, faults",
		Args:  cli.WantArgs(1, 1, "the lab FILE", "l2hub lab pair.yaml", ""),
		RunE: func(cmd *cobra.Command, args []string) error {
			// As serve: a reader of the output that goes away must not end
			// the run before its QEMUs are stopped and its summary written.
			signal.Ignore(syscall.SIGPIPE)
			c := &lab.Command{File: args[0], Dir: out, Until: until, Seed: seed, Repeat: repeat.text, Soak: soak.text, Grace: grace.text,
				Vars: vars, KeepFailing: keepFailing, Version: Version, Out: stdout,
				NoJUnit: func(err error) { fmt.Fprintf(cmd.ErrOrStderr(), "l2hub: junit.xml: %v\n", err) }}
			verdict, err := c.Run(cmd.Context())
			if err != nil {
				return err
			}
			if verdict != nil {
				return &exitError{code: 1, msg: verdict.Error()} // the lab ran and failed
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&out, "out", "", "run `directory` (new or empty; default lab-runs/<name>-<time>)")
	fl.StringVar(&until, "until", "", "stop after this `phase`, as os2vm.sh's RUN_PHASE")
	fl.StringVar(&seed, "seed", "", "the policy's seed (default: the lab's seed:, else the policy file's)")
	fl.Var(&repeat, "repeat", "run `N` times with seeds seed, seed+1, ...; print a table and the rerun command of each failing seed")
	fl.BoolVar(&keepFailing, "keep-failing", false, "remove the run directories of passing runs (a single run keeps its junit.xml; --repeat's junit.xml of all runs stays)")
	fl.Var(&soak, "soak", "after the last phase, repeat its markers' checks for this `duration`, counting the rounds that fail")
	fl.Var(&grace, "grace", "how long a QEMU has to end after SIGTERM before it is killed")
	fl.StringArrayVar(&vars, "var", nil, "set a variable the lab file defines in vars: or uses as ${NAME} in qemu: or args: (`NAME=VALUE`, repeatable)")
	return cmd
}

// textFlag is a typed flag (an int, a duration) kept as the text given and
// parsed in RunE: a bad value is then an argument error like the others,
// written to --out's junit.xml, where cobra would refuse it while parsing,
// before --out is known.
type textFlag struct{ text, typ string }

func (f *textFlag) String() string     { return f.text }
func (f *textFlag) Set(s string) error { f.text = s; return nil }
func (f *textFlag) Type() string       { return f.typ }
