package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"l2hub/internal/buildinfo"
	"l2hub/internal/logq"
)

// Version is l2hub's version, recorded in captures.
const Version = buildinfo.Version

func main() {
	// A signal ignored when l2hub started (SIGINT, for a background job of
	// a script) would stay ignored once its default action is restored.
	ignored := map[os.Signal]bool{os.Interrupt: signal.Ignored(os.Interrupt), syscall.SIGTERM: signal.Ignored(syscall.SIGTERM)}
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	// SIGHUP (the terminal or the SSH session closed) stops l2hub as
	// SIGTERM does, so that a capture ends whole and a lab run leaves its
	// summary, unless l2hub was started with it ignored (nohup): asking
	// for it would take that protection away.
	if !signal.Ignored(syscall.SIGHUP) {
		signal.Notify(sigs, syscall.SIGHUP)
	}
	code := runProcess(context.Background(), os.Args[1:], os.Stdout, os.Stderr, sigs,
		func(sig os.Signal) { forceExit(sig.(syscall.Signal), ignored) })
	signal.Stop(sigs)
	os.Exit(code)
}

// runProcess is main without the process, for tests: it runs the command
// line until it returns, the first signal from sigs asking it to stop
// (said on stderr) and a second one calling force (see watchSignals, which
// passes over a copy of the first), and returns the exit
// status, having said the command's error, if any, on stderr.
func runProcess(ctx context.Context, args []string, stdout, stderr io.Writer, sigs <-chan os.Signal, force func(os.Signal)) int {
	if serves, jsonLogs := servesIn(args); serves {
		q := logq.New(stderr, stderrQueue, dropNotice(jsonLogs))
		defer closeStderr(q)
		stderr = q
	}
	con := &console{stderr: stderr}
	ctx, cancel := context.WithCancelCause(context.WithValue(ctx, consoleKey{}, con))
	defer cancel(nil)
	done := make(chan struct{})
	defer close(done)
	go watchSignals(sigs, done, con, time.Now, func(sig os.Signal) { cancel(signalCause{sig}) }, force)
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
		if con.log.Load() == nil {
			// serve failed before it made its log: an unknown flag, a
			// bad --log-level.
			if log := earlyServeLog(args, stderr); log != nil {
				con.log.Store(log)
			}
		}
		con.fail(msg)
	}
	return code
}

// stderrQueue is how many bytes serve's stderr queue holds (tests make it
// small, to fill it).
var stderrQueue = logq.DefaultMax

// stderrCloseTimeout bounds how long serve's exit waits for stderr to take
// what is queued for it (logq): a stderr nobody reads must not hold the
// exit, once the summary and the ready file are dealt with.
const stderrCloseTimeout = 2 * time.Second

// closeStderr writes what is queued for stderr, for stderrCloseTimeout at
// most.
func closeStderr(q *logq.Writer) {
	ctx, cancel := context.WithTimeout(context.Background(), stderrCloseTimeout)
	defer cancel()
	q.Close(ctx)
}

// watchSignals is runProcess's handling of sigs until done closes. The
// first SIGINT, SIGTERM or SIGHUP asks the command to stop (stop); a
// later SIGINT or SIGTERM ends the process at once (force), whatever the
// shutdown still waits for, unless it is a copy of the first: the same
// signal within dupWindow of it (by now), however many. One Ctrl-C on a
// terminal running "timeout ... l2hub" can reach l2hub three times: the
// terminal's to its foreground job, timeout's forwarded one, and
// timeout's kill of its own process group. A Ctrl-C pressed again after
// dupWindow, or a different signal, forces. A SIGHUP never forces: a
// terminal that closes sends its foreground job two (the shell's and the
// kernel's).
func watchSignals(sigs <-chan os.Signal, done <-chan struct{}, con *console, now func() time.Time, stop func(os.Signal), force func(os.Signal)) {
	var first os.Signal
	select {
	case first = <-sigs:
	case <-done:
		return
	}
	firstAt := now()
	// The notice goes first, so that it precedes what the command says as
	// it stops, but a stderr that nobody reads must not hold the stop
	// back: after noticeWait the command stops regardless.
	noticed := make(chan struct{})
	go func() {
		con.notice(stopNotice)
		close(noticed)
	}()
	wait := time.NewTimer(noticeWait)
	defer wait.Stop()
	said, waited := (<-chan struct{})(noticed), wait.C
	for {
		select {
		case <-said:
		case <-waited:
		case sig := <-sigs:
			if sig == syscall.SIGHUP {
				continue
			}
			if at := now(); sig == first && at.Sub(firstAt) < dupWindow {
				continue
			}
			force(sig)
			continue
		case <-done:
			return
		}
		if said != nil { // the first of the two: stop once
			stop(first)
		}
		said, waited = nil, nil
	}
}

// stopNotice is what the first signal makes l2hub say on stderr. It
// states the rule of watchSignals: a Ctrl-C within dupWindow is taken for
// a copy of the first.
const stopNotice = "stopping; Ctrl-C again (SIGINT or SIGTERM, after 200ms) forces exit"

// dupWindow is how long after the first signal the same signal again is
// taken for a copy of it: the copies a terminal and coreutils timeout send
// come within microseconds, a person's second Ctrl-C rarely within 200 ms.
// stopNotice, serve's and lab's --help and the README say 200ms.
const dupWindow = 200 * time.Millisecond

// signalCause is why a command's context ends when a signal stops it: the
// logs and a lab's report say "stopped by SIGINT", not "context canceled".
type signalCause struct{ sig os.Signal }

func (c signalCause) Error() string {
	if s, ok := c.sig.(syscall.Signal); ok {
		if name := unix.SignalName(s); name != "" {
			return "stopped by " + name
		}
	}
	return "stopped by signal " + c.sig.String()
}

func (c signalCause) Is(target error) bool { return target == context.Canceled }

// noticeWait bounds how long the stop notice may hold the stop back: a
// stderr pipe whose reader has stopped reading blocks the write.
const noticeWait = time.Second

// console says on stderr what is main's, not a command's: the stop notice
// and the command's error. They are "l2hub: ..." lines, unless the
// command logs JSON records (serve --log-format json) and has given its
// log (logConsoleTo): then they are records of that log, the notice of
// kind "notice" and the error at level ERROR, so that stderr carries JSON
// alone. That log must not filter them by level (serve.OutputLog).
type console struct {
	stderr io.Writer
	log    atomic.Pointer[slog.Logger]
}

type consoleKey struct{}

// logConsoleTo makes the console of ctx (runProcess's; none in a test that
// calls run) say what it says as records of log.
func logConsoleTo(ctx context.Context, log *slog.Logger) {
	if c, ok := ctx.Value(consoleKey{}).(*console); ok {
		c.log.Store(log)
	}
}

func (c *console) notice(msg string) {
	if log := c.log.Load(); log != nil {
		log.Info(msg, "kind", "notice")
		return
	}
	fmt.Fprintln(c.stderr, "l2hub:", msg)
}

func (c *console) fail(msg string) {
	if log := c.log.Load(); log != nil {
		log.Error(msg)
		return
	}
	fmt.Fprintln(c.stderr, "l2hub:", msg)
}

// forceExit ends the process on a second signal: by that signal, as its
// default action would (a shell sees 130 for SIGINT), unless it was
// ignored when l2hub started; then, or should it not end the process, with
// the status a shell gives a process it ended (128 + its number).
func forceExit(sig syscall.Signal, ignored map[os.Signal]bool) {
	if !ignored[sig] {
		signal.Reset(sig)
		syscall.Kill(os.Getpid(), sig)
		time.Sleep(time.Second) // the signal's default action ends the process first
	}
	os.Exit(128 + int(sig))
}

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
