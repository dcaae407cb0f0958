package control

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"l2hub/internal/jsondoc"
	"l2hub/internal/ready"
)

// WaitFlags are l2hub wait's flags: what to wait for (a ready file, or the
// control API at an address), for how long, and for which process.
type WaitFlags struct {
	ReadyFile, Addr string
	Timeout         time.Duration
	JSON            bool
	PID             int
	Token           TokenFlags
}

// Register adds wait's flags to fs; --ready-file and --control exclude
// each other, which Run says.
func (f *WaitFlags) Register(fs *pflag.FlagSet) {
	fs.StringVar(&f.ReadyFile, "ready-file", "", "wait for the ready `file` that l2hub serve --ready-file writes")
	fs.StringVar(&f.Addr, "control", "", "wait for the control API at this address: "+AddrForms())
	fs.DurationVar(&f.Timeout, "timeout", 30*time.Second, "give up after this long")
	fs.BoolVar(&f.JSON, "json", false, "print the ready file's content (or the ports) as JSON")
	fs.IntVar(&f.PID, "pid", 0, "the hub's process (`PID`, $! after serve &, or a wrapper's that started it): only its readiness counts; fail at once if it exits before it is ready")
	f.Token.Register(fs.StringVar)
}

// Run is `l2hub wait` once its flags are parsed: it waits, at most
// --timeout, until the hub is ready (its ready file names it, or its
// control API answers with every port bound; with --pid, that process's,
// and not after it exited), then says so on stdout.
func (f *WaitFlags) Run(ctx context.Context, stdout io.Writer) error {
	if f.ReadyFile != "" && f.Addr != "" {
		return errors.New("--ready-file and --control: give one, the hub's ready file or its control address")
	}
	ctx, cancel := context.WithTimeout(ctx, f.Timeout)
	defer cancel()
	if f.PID != 0 {
		var stop func()
		if ctx, stop = ready.WatchPID(ctx, f.PID); ctx.Err() != nil {
			return context.Cause(ctx)
		}
		defer stop()
	}
	// What the hub says it is ready with: its ready file, or its
	// ports.
	var doc any
	var text string
	if f.ReadyFile != "" {
		info, err := ready.WaitFor(ctx, f.ReadyFile, f.PID, 50*time.Millisecond)
		if err != nil {
			return NotReady(ctx, f.Timeout, err)
		}
		doc, text = info, info.String()
	} else {
		cl, err := Dial(ctx, f.Addr, &f.Token)
		if err != nil {
			return err
		}
		ports, err := cl.WaitReadyPID(ctx, 50*time.Millisecond, f.PID)
		if err != nil {
			return NotReady(ctx, f.Timeout, err)
		}
		doc, text = ports, fmt.Sprintf("%d ports", len(ports))
		if len(ports) == 1 {
			text = "1 port"
		}
		// As the ready file's line says a port serve --optional could not
		// open, so does this: the hub is ready without it.
		var notOpen []string
		for _, p := range ports {
			if p.NotOpen != "" {
				notOpen = append(notOpen, fmt.Sprintf("%s NOT OPEN: %s", p.Name, p.NotOpen))
			}
		}
		if notOpen != nil {
			text += " (" + strings.Join(notOpen, "; ") + ")"
		}
	}
	if f.JSON {
		return jsondoc.WriteJSON(stdout, doc)
	}
	_, err := fmt.Fprintf(stdout, "l2hub ready: %s\n", text)
	return err
}
