package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"l2hub/internal/buildinfo"
	"l2hub/internal/logq"
	"l2hub/internal/procctl"
	"l2hub/serve"
)

// Version is l2hub's version, recorded in captures.
const Version = buildinfo.Version

func main() {
	sigs, force, stop := procctl.Notify()
	code := runProcess(context.Background(), os.Args[1:], os.Stdout, os.Stderr, sigs, force)
	stop()
	os.Exit(code)
}

// runProcess is main without the process, for tests: it runs the command
// line until it returns, the first signal from sigs asking it to stop
// (said on stderr) and a second one calling force (see procctl.Watch,
// which passes over a copy of the first), and returns the exit status,
// having said the command's error, if any, on stderr.
func runProcess(ctx context.Context, args []string, stdout, stderr io.Writer, sigs <-chan os.Signal, force func(os.Signal)) int {
	serveArgs, serves := serveArgsIn(args)
	if serves {
		// serve's stderr, logs and all, is a queue (logq) that never
		// holds the hub: a stderr that stops being read costs the lines
		// it does not take, counted in a record, never the frames or the
		// exit.
		q := logq.New(stderr, stderrQueue, serve.DropNotice(serve.JSONLogsIn(serveArgs)))
		defer procctl.CloseStderr(q)
		stderr = q
	}
	con := procctl.NewConsole(stderr)
	ctx, cancel := context.WithCancelCause(procctl.WithConsole(ctx, con))
	defer cancel(nil)
	done := make(chan struct{})
	defer close(done)
	go procctl.Watch(sigs, done, con, time.Now, func(sig os.Signal) { cancel(procctl.StopCause{Sig: sig}) }, force)
	err := run(ctx, args, stdout, stderr)
	if err == nil {
		return 0
	}
	code, msg := 1, err.Error()
	var ee *exitError
	if errors.As(err, &ee) {
		code, msg = ee.code, ee.msg
	}
	if msg != "" {
		if !con.Logs() && serves {
			// serve failed before it made its log: an unknown flag, a
			// bad --log-level.
			if log := serve.EarlyLog(serveArgs, stderr); log != nil {
				con.LogTo(log)
			}
		}
		con.Fail(msg)
	}
	return code
}

// stderrQueue is how many bytes serve's stderr queue holds (tests make it
// small, to fill it).
var stderrQueue = logq.DefaultMax

// exitError carries an exit status other than 1 (a failed check is 2).
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

// run is the whole command, minus the process: tests call it directly.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	root := newRootCmd(stdout, stderr)
	// With --help, cobra prints the help of the group a mistyped command
	// was meant to be in, and exits 0 ("l2hub repaly --help"): refuse it,
	// as without --help.
	var mistyped error
	help := root.HelpFunc()
	root.SetHelpFunc(func(c *cobra.Command, a []string) {
		if c.HasSubCommands() && c.Flags().NArg() > 0 {
			mistyped = unknownCommandError(c, c.Flags().Arg(0))
			return
		}
		help(c, a)
	})
	root.SetArgs(args)
	if err := root.ExecuteContext(ctx); err != nil {
		return err
	}
	return mistyped
}

func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	serve := newServeCmd(stdout, stderr)
	root := &cobra.Command{
		Use:   "l2hub",
		Short: "A userspace L2 hub for QEMU VMs: reproducible faults, pcapng capture, replay, protocol checks",
		Long: `l2hub is the network between QEMU virtual machines. VMs attach with their
ordinary -netdev back ends (stream, dgram, socket mcast); l2hub forwards their
frames as a hub or learning switch, applies a seeded fault policy, records one
pcapng of the whole segment, replays captures and checks DSoftBus on the wire.

With no arguments it serves two ports, a and b, on 127.0.0.1:7001 and :7002,
and prints the QEMU flags for each.`,
		Version:       buildinfo.Read().Short(),
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          unknownCommand,
		RunE: func(cmd *cobra.Command, args []string) error {
			serve.SetContext(cmd.Context())
			return serve.RunE(serve, nil)
		},
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetVersionTemplate("l2hub {{.Version}}\n")
	root.SetFlagErrorFunc(suggestFlag)
	root.AddCommand(serve, newQEMUArgsCmd(stdout), newCtlCmd(stdout, stderr), newBenchCmd(stdout, stderr))
	root.AddCommand(newReplayCmd(stdout, stderr), newInjectCmd(stdout, stderr))
	root.AddCommand(newCheckCmd(stdout), newCaptureCmd(stdout))
	root.AddCommand(newReportCmd(stdout), newLabCmd(stdout), newVersionCmd(stdout), newWaitCmd(stdout), newWiresharkPluginCmd(stdout))
	// cobra adds help and completion when it executes; add them now, so
	// that refuseUnknownCommands sees completion's shells.
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	refuseUnknownCommands(root)
	strictHelp(root)
	return root
}

// strictHelp makes "l2hub help TOPIC" fail on a topic that names no
// command, as the command itself would, where cobra's help command prints
// "Unknown help topic" and exits 0.
func strictHelp(root *cobra.Command) {
	for _, c := range root.Commands() {
		if c.Name() != "help" {
			continue
		}
		c.Run = nil
		c.RunE = func(c *cobra.Command, args []string) error {
			cmd, rest, err := c.Root().Find(args)
			switch {
			case err != nil:
				return err
			case len(rest) > 0:
				return unknownCommandError(cmd, rest[0])
			}
			cmd.InitDefaultHelpFlag()
			cmd.InitDefaultVersionFlag()
			return cmd.Help()
		}
	}
}

// refuseUnknownCommands makes every command under cmd that only groups
// others (it has subcommands and no Run) refuse an argument that names
// none of them, as the root does: cobra would print the group's help and
// exit 0 on "l2hub ctl partiton". With no arguments it still prints help.
func refuseUnknownCommands(cmd *cobra.Command) {
	for _, sub := range cmd.Commands() {
		refuseUnknownCommands(sub)
	}
	if !cmd.HasSubCommands() || cmd.Runnable() {
		return
	}
	cmd.Args = unknownCommand
	cmd.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
}

// unknownCommand refuses any argument as an unknown subcommand of cmd, with
// cobra's "Did you mean this?" suggestions: the Args of the root and of
// every command that only groups others.
func unknownCommand(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	return unknownCommandError(cmd, args[0])
}

func unknownCommandError(cmd *cobra.Command, name string) error {
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2
	}
	msg := fmt.Sprintf("unknown command %q for %q", name, cmd.CommandPath())
	if s := cmd.SuggestionsFor(name); len(s) > 0 {
		msg += "\n\nDid you mean this?\n\t" + strings.Join(s, "\n\t")
	}
	return errors.New(msg)
}
