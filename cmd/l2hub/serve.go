package main

import (
	"errors"
	"io"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"l2hub/control"
	"l2hub/internal/procctl"
	"l2hub/serve"
	"l2hub/transport/netstack"
)

func newServeCmd(stdout, stderr io.Writer) *cobra.Command {
	var f serve.Flags
	cmd := &cobra.Command{
		Use:   "serve [flags]",
		Short: "Run the hub (the default command)",
		Long: `Run the hub until SIGINT, SIGTERM or SIGHUP. It then shuts down in order (ports,
hub, capture) and prints its counters; a second SIGINT or SIGTERM ends it at once,
without them, unless it is the same signal within 200ms of the first: that is
a copy (one Ctrl-C on a "timeout ... l2hub" reaches l2hub up to three times).
A capture stream whose reader stopped reading is given
--capture-close-timeout to take its last data; then l2hub prints its counters
and exits 1, naming the capture. The exit status is 0 when a signal stopped
it (once started: one while a capture's named pipe waits for its reader ends
a run that never began, 1), 2 when a live --check or a --probe failed (however it was stopped), 3 when
a --probe gave no verdict (its target never appeared, or the run ended before
it could judge), 1 for an error.

Ports come from --config FILE, from --port flags, or both; with neither, two
ports a and b listen on 127.0.0.1:7001 and :7002. For each port l2hub prints
the exact -netdev flags a QEMU VM needs to attach to it.

A port is NAME=TRANSPORT:ADDRESS[,key=value...]:
  a=tcp:127.0.0.1:7001                      hub listens; QEMU stream,server=off / socket,connect=
  b=tcp-dial:127.0.0.1:7002                 QEMU listens (server=on / listen=); hub dials and redials
  c=unix:/run/l2hub/c.sock                  like tcp, on a unix socket (unix-dial to dial)
  d=udp:127.0.0.1:7003,peer=127.0.0.1:7103  QEMU dgram: hub binds 7003 and sends to the VM on 7103
  e=unixgram:/run/l2hub/e.sock,peer=/run/vm/e.sock
  m=mcast:230.0.0.1:37021,local=127.0.0.1   hub joins QEMU's socket,mcast= group as one more member
  t=tap:l2h0,ip=10.42.0.1/24                host TAP interface (root or CAP_NET_ADMIN; mac=, mtu=, netns=)
  x=vxlan:10.0.0.1:4789,remote=10.0.0.2,vni=42
                                            VXLAN VTEP to other hosts' segments: remote= (repeatable)
                                            or group=239.1.1.1; ttl=, mtu=, netns=, silence=

Every port also takes overflow=pause|drop, queue=FRAMES and stall=DURATION (its
own flow control, over the hub's); datagram ports (udp, unixgram, mcast, vxlan)
sockbuf=SIZE; ports on a socket file (unix, unixgram) mode=OCTAL. A comma in a
value is written twice (,,).

Faults come from --policy FILE (see filter/POLICY.md) and/or the quick flags
(--loss 'a->b=5%', --delay 'a<->b=20ms±5ms', ..., quoted for the shell); every
decision is seeded (--seed) and explained in a pcapng capture (--capture
run.pcapng), which l2hub replay reproduces. Classic pcap (a .pcap file) records
none of the verdicts, nor the seed, the policy, the start, the edits or each
frame's direction: its replay is a what-if, and serve warns of it.`,
		Example: `  l2hub serve --port a=tcp:127.0.0.1:7001 --port b=unix:/tmp/b.sock
  l2hub serve --config lab.yaml --mode hub
  l2hub serve --policy faults.yaml --seed 7 --capture run.pcapng
  l2hub serve --loss 'a->b=5%' --delay 'a<->b=20ms±5ms' --capture run.pcapng`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := f.Logger(stderr)
			if err != nil {
				return err
			}
			if f.JSONLogs() {
				// main's stop notice and final error become records of
				// this log, a config error included: stderr stays JSON.
				// They are output, as in text: no --log-level hides them.
				procctl.LogConsoleTo(cmd.Context(), serve.OutputLog(log))
			}
			// A token or policy file that blocks (a FIFO no one writes)
			// must not outlast the first Ctrl-C.
			cfg, err := control.ReadContext(cmd.Context(), f.Config)
			if err != nil {
				return err
			}
			opts, err := f.Options(cfg, stdout, stderr, Version)
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
			err = serve.Run(cmd.Context(), cfg, opts)
			switch {
			case errors.Is(err, serve.ErrCheckFailed), errors.Is(err, serve.ErrProbeFailed):
				return &exitError{code: 2, msg: err.Error()}
			case errors.Is(err, serve.ErrProbeNoVerdict):
				return &exitError{code: 3, msg: err.Error()}
			}
			return err
		},
	}
	f.Register(cmd.Flags())
	return cmd
}

// serveArgsIn returns the arguments after the command's name when args
// run serve (by name, or l2hub alone), and whether they do.
func serveArgsIn(args []string) (rest []string, serves bool) {
	cmd, rest, err := newRootCmd(io.Discard, io.Discard).Find(args)
	switch {
	case err != nil:
		return nil, false
	case cmd.Name() == "serve", !cmd.HasParent() && len(rest) == 0:
		return rest, true
	}
	return nil, false
}
