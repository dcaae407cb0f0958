package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"l2hub/control"
	"l2hub/internal/cli"
	"l2hub/replay"
)

func newInjectCmd(stdout, stderr io.Writer) *cobra.Command {
	var f replay.InjectFlags
	cmd := &cobra.Command{
		Use:   "inject CAPTURE --into PORT [flags]",
		Short: "Send a capture's frames into a live port of a running hub, towards its VM",
		Long: `Send the frames of a pcap or pcapng file to the VM on a port of a running hub,
through its control API, as if the hub had forwarded them there.

Frames leave at the recorded timing (--speed 1, the default), a multiple of it
(--speed 2 is twice as fast), a fixed rate (--pps frames/s or --bps bit/s,
with k, M or G suffixes), or as fast as possible (--flood or --speed 0).
Each frame is scheduled against an absolute deadline (start + offset), so
lateness never accumulates; the report gives the median and worst drift.
A wait of more than 24h between two frames stops the injection at that
frame; --max-gap shortens longer recorded gaps instead. A frame stamped
before the frame before it (the capture's clock ran backwards) goes right
after that frame, and the frames after it keep their recorded spacing;
inject warns with a count. So does a frame of a pcapng Simple Packet Block,
which carries no time: it goes right after the frame before it (or at the start). A record cut short by a snaplen is sent at its
length on the wire, the missing bytes zero, as replay does; a record
shorter than 14 bytes or longer than 69632 is left out, with a warning.
When the hub refuses a frame (longer than its --max-frame), the injection
ends there and the report counts the frames the hub took.

From an l2hub capture only the ingress copies (what a VM sent) are sent;
--from PORT keeps one port's, --from-mac one source MAC's. --rewrite-mac and
--rewrite-ip aim a recorded exchange at another VM (IPv4 or IPv6), fixing
IPv4, TCP, UDP, ICMP and ICMPv6 checksums.

A port with no VM attached is refused (every frame would be dropped). The
injected frames the port dropped are reported as the hub counts them
(--json: dropped), and those that found no VM (it went away) make the
command fail; the port's other drops meanwhile (frames forwarded to it)
are a separate warning, but frames that found no VM fail it too when its
VM went away while the injection went on, back by the end or not (some
may be injected frames it had not read); when it went away only after the
hub took the last injected frame, a warning says the hub cannot tell. A port that
pauses its senders (overflow: pause, the default) holds the frames back as
it holds back a VM sending faster than its VM reads, so even --flood loses
nothing while the VM reads; frames the port drops for flow control all the
same (stalled, queue-full, backlog-full) make the command fail, except when
flooding (--flood, --speed 0): as fast as possible into a port that
tail-drops (overflow: drop) or whose VM stalls is a lossy flood, and they
are a warning, in the hub's words (--json: dropped, as always).`,
		Example: `  l2hub inject handshake.pcapng --into b --from a
  l2hub inject packets-A.pcap --into c --from-mac 52:54:00:12:34:0a \
      --rewrite-mac 52:54:00:12:34:0b=52:54:00:12:34:0c --rewrite-ip 10.42.0.11=10.42.0.12
  l2hub inject load.pcap --into a --pps 10k --loop 100`,
		Args: cli.WantArgs(1, 1, "one CAPTURE", "l2hub inject handshake.pcapng --into b", ""),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runInject(cmd, f, args[0], stdout, stderr)
		},
	}
	f.Register(cmd.Flags())
	cmd.Flags().Lookup("control").Usage = "the hub's control address: " + controlForms
	cmd.MarkFlagRequired("into")
	return cmd
}

func runInject(cmd *cobra.Command, f replay.InjectFlags, path string, stdout, stderr io.Writer) error {
	if err := checkControlFlag(f.Control); err != nil {
		return err
	}
	cfg, err := f.Config(path)
	if err != nil {
		return err
	}
	// A capture that cannot be read is said before the hub is asked about
	// the port, and with no report of nothing sent.
	if err := replay.CheckInjectCapture(path); err != nil {
		return err
	}
	token, err := f.Token.TokenContext(cmd.Context())
	if err != nil {
		return err
	}
	return replay.RunInject(cmd.Context(), control.NewClient(f.Control, token), f.Into, cfg, f.TruncOK, replay.InjectOutput{
		Report: func(rep *replay.InjectReport) {
			if f.JSON {
				cli.WriteJSON(stdout, struct {
					Schema int `json:"schema"` // control.Schema, as every --json document starts
					*replay.InjectReport
				}{control.Schema, rep})
			} else {
				fmt.Fprintf(stdout, "inject %s into %s (%s): %s\n", path, f.Into, cfg.Pacing, rep)
			}
		},
		Warn: func(w string) { fmt.Fprintln(stderr, "l2hub inject: warning:", w) },
	})
}
