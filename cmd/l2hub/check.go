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
	"l2hub/internal/jsondoc"
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
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				return errors.New("no captures to check: give files as arguments, e.g. l2hub check run.pcapng")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if maxBuffered < 0 {
				return fmt.Errorf("--max-buffered %d: must not be negative (0 means the default %d)", maxBuffered, checker.DefaultMaxBuffered)
			}
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
				err = jsondoc.WriteDocument(stdout, control.Schema, r)
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
	fl.IntVar(&maxBuffered, "max-buffered", checker.DefaultMaxBuffered, "out-of-order bytes one TCP stream may buffer; 0 means the default")
	return cmd
}
