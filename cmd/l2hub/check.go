package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"l2hub/conformance/checker"
	"l2hub/control"
	"l2hub/internal/cli"
)

func newCheckCmd(stdout io.Writer) *cobra.Command {
	var (
		profile     string
		asJSON      bool
		maxBuffered int
	)
	cmd := &cobra.Command{
		Use:         "check CAPTURE...",
		Annotations: map[string]string{cli.FlagAliases: "check"},
		Short:       "Check DSoftBus on the wire in pcap or pcapng captures",
		Long: `Check captures of a DSoftBus run against conformance/nexus-wire.md: discovery announces
(UDP 37020), the session handshake, the mux ladder and the remote proxy.
Prints a summary, failures first, with the frame numbers that prove each
finding; exits with status 2 when a check failed. A capture that breaks
part-way (a corrupt block) is checked up to the break: the report covers
the frames before it, and the command then fails with where reading
stopped (status 1). A capture cut short (a killed writer) is checked up to
its last whole frame with a warning.

A capture from l2hub (pcapng) is judged by its ingress copies: each frame
once, as the peer sent it; frames the hub dropped explain the
retransmissions that follow. Frames the hub injected (l2hub inject, the
control API; a capture keeps them, with an inject note, whatever its
points) are inputs of the run and are judged too, each as sent by the
addresses it carries and received by the VMs behind the port it was
injected into that it is addressed to (a port may have several: a passive
multicast member, VXLAN, a TAP with a bridge); findings name their sender
as injected, and CHK-002 counts them per port and warns of those addressed
to no VM there, which reach no one. Where the VMs are is learned from the
frames the hub delivered at ingress, so from a capture of egress points
only every injected frame is judged; CHK-003 notes senders beyond the
address map's bound.
Captures without directions (QEMU's filter-dump) are deduplicated, so the
multicast loopback echo and the same frame in two per-VM files are checked
once. Several captures are merged by timestamp, and frame numbers then
count in that merged order.

Profiles:
  nexus-v1   what open-nexus-OS sends today; its deviations from RFC-0008
             (NX-01..NX-15) are reported as info
  noise-xk   standard Noise_XK_25519_ChaChaPoly_BLAKE2s with u32be framing`,
		Example: `  l2hub check run.pcapng
  l2hub check --json packets-A.pcap packets-B.pcap
  l2hub check --profile noise-xk host.pcapng`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				return errors.New("no captures to check: give files as arguments, e.g. l2hub check run.pcapng")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := checker.ParseProfile(profile)
			if err != nil {
				return fmt.Errorf("--profile: %w", err)
			}
			r, err := checker.CheckFiles(checker.Options{Profile: p, MaxBuffered: maxBuffered}, args...)
			show, verdict := checker.Outcome(r, err)
			if !show {
				return verdict
			}
			if asJSON {
				err = cli.WriteJSON(stdout, struct {
					Schema int `json:"schema"` // control.Schema, as every --json document starts
					checker.Report
				}{control.Schema, r})
			} else {
				err = r.WriteText(stdout)
			}
			if err != nil {
				return err
			}
			if errors.Is(verdict, checker.ErrFailed) {
				return &exitError{code: 2}
			}
			return verdict
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&profile, "profile", "nexus-v1", "rules to judge by: nexus-v1 or noise-xk (--check is the same flag, as serve and report name it)")
	// serve --check and report --check name the profile so: accept it.
	fl.SetNormalizeFunc(func(_ *pflag.FlagSet, name string) pflag.NormalizedName {
		if name == "check" {
			name = "profile"
		}
		return pflag.NormalizedName(name)
	})
	fl.BoolVar(&asJSON, "json", false, "print the report as JSON")
	fl.IntVar(&maxBuffered, "max-buffered", checker.DefaultMaxBuffered, "out-of-order bytes one TCP stream may buffer")
	return cmd
}
