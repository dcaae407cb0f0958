package main

import (
	"context"
	"errors"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"l2hub/internal/buildinfo"
	"l2hub/internal/cli"
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
	return cli.Execute(ctx, newRootCmd(stdout, stderr), args)
}

// newRootCmd is l2hub's commands, their help loaded from help/, held to
// cli.Strict.
func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	root := newCommands(stdout, stderr)
	if err := loadHelp(root); err != nil {
		panic(err) // help/ is built in: TestHelpFiles says what is wrong
	}
	cli.Strict(root)
	return root
}

// newCommands is l2hub's commands without their Long and Example.
func newCommands(stdout, stderr io.Writer) *cobra.Command {
	serve := newServeCmd(stdout, stderr)
	root := &cobra.Command{
		Use:           "l2hub",
		Short:         "A userspace L2 hub for QEMU VMs: reproducible faults, pcapng capture, replay, protocol checks",
		Version:       buildinfo.Read().Short(),
		SilenceUsage:  true,
		SilenceErrors: true,
		Annotations:   map[string]string{cli.Runs: "serve"}, // l2hub alone serves: its flags are serve's
		Args:          cli.UnknownCommand,
		RunE: func(cmd *cobra.Command, args []string) error {
			serve.SetContext(cmd.Context())
			return serve.RunE(serve, nil)
		},
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetVersionTemplate("l2hub {{.Version}}\n")
	root.AddCommand(serve, newQEMUArgsCmd(stdout), withNoHubHint(newCtlCmd(stdout, stderr)), newBenchCmd(stdout, stderr))
	root.AddCommand(newReplayCmd(stdout, stderr), withNoHubHint(newInjectCmd(stdout, stderr)))
	root.AddCommand(newCheckCmd(stdout), newCaptureCmd(stdout))
	root.AddCommand(newReportCmd(stdout), newLabCmd(stdout), newVersionCmd(stdout), withNoHubHint(newWaitCmd(stdout)), newWiresharkPluginCmd(stdout))
	return root
}
