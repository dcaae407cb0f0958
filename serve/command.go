package serve

import (
	"context"
	"io"
	"os/signal"
	"syscall"

	"l2hub/control"
	"l2hub/internal/procctl"
	"l2hub/transport/netstack"
)

// Run is `l2hub serve` once its flags are parsed: its log (a JSON log
// takes in the process's console, procctl), its config read, the flags
// applied (Options), and the hub run (serve.Run), whose error it returns.
// It sets what is the process's: gVisor's one logger, and SIGPIPE
// ignored.
func (f *Flags) Run(ctx context.Context, stdout, stderr io.Writer, version string) error {
	log, err := f.Logger(stderr)
	if err != nil {
		return err
	}
	if f.JSONLogs() {
		// main's stop notice and final error become records of
		// this log, a config error included: stderr stays JSON.
		// They are output, as in text: no --log-level hides them.
		procctl.LogConsoleTo(ctx, OutputLog(log))
	}
	// A token or policy file that blocks (a FIFO no one writes)
	// must not outlast the first Ctrl-C.
	cfg, err := control.ReadContext(ctx, f.Config)
	if err != nil {
		return err
	}
	opts, err := f.Options(cfg, stdout, stderr, version)
	if err != nil {
		return err
	}
	// The virtual peers' gVisor stacks log through the process's
	// one gVisor logger: into this run's log, not glog text on
	// stderr.
	netstack.LogTo(opts.Logger)
	// A reader of stdout or stderr that goes away (Wireshark
	// closed on --capture -, `| head` on the log) costs what it
	// would have read, not the hub: SIGPIPE would end it with no
	// summary and its capture cut short.
	signal.Ignore(syscall.SIGPIPE)
	return Run(ctx, cfg, opts)
}
