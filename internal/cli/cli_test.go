package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// newTree is a small command tree as l2hub's is built: a root that runs
// its serve subcommand when given none, a group (ctl) of commands, a
// command whose flag has an alias (check), all made Strict.
func newTree(stdout *bytes.Buffer) *cobra.Command {
	noop := func(*cobra.Command, []string) error { return nil }
	serve := &cobra.Command{Use: "serve", RunE: noop}
	serve.Flags().String("capture", "", "")
	serve.Flags().String("loss", "", "")
	root := &cobra.Command{
		Use:           "tool",
		SilenceUsage:  true,
		SilenceErrors: true,
		Annotations:   map[string]string{Runs: "serve"},
		Args:          UnknownCommand,
		RunE:          noop,
	}
	root.SetOut(stdout)
	root.SetErr(stdout)
	root.Version = "1"
	ctl := &cobra.Command{Use: "ctl", Short: "control"}
	ctl.PersistentFlags().String("control", "", "")
	ports := &cobra.Command{Use: "ports", Short: "list ports", RunE: noop}
	link := &cobra.Command{Use: "link PORT up|down", RunE: noop, Args: WantArgs(2, 2, "PORT and up|down", "tool ctl link b down", "")}
	ctl.AddCommand(ports, link)
	check := &cobra.Command{Use: "check", Annotations: map[string]string{FlagAliases: "check"}, RunE: noop,
		Args: WantArgs(1, 1, "one CAPTURE", "tool check run.pcapng", "logs go with --log")}
	check.Flags().String("profile", "", "")
	check.Flags().SetNormalizeFunc(func(_ *pflag.FlagSet, name string) pflag.NormalizedName {
		if name == "check" {
			name = "profile"
		}
		return pflag.NormalizedName(name)
	})
	root.AddCommand(serve, ctl, check)
	Strict(root)
	return root
}

func execute(args string) (stdout string, err error) {
	var out bytes.Buffer
	err = Execute(context.Background(), newTree(&out), strings.Fields(args))
	return out.String(), err
}

func TestWantArgs(t *testing.T) {
	for _, tt := range []struct{ args, want string }{
		{"ctl link b", "ctl link takes PORT and up|down, got 1 argument (b): e.g. tool ctl link b down"},
		{"ctl link", "ctl link takes PORT and up|down, got none: e.g. tool ctl link b down"},
		{"ctl link a b c", "ctl link takes PORT and up|down, got 3 arguments (a b c): e.g. tool ctl link b down"},
		{"check a b", "check takes one CAPTURE, got 2 arguments (a b): e.g. tool check run.pcapng (logs go with --log)"},
		{"check", "check takes one CAPTURE, got none: e.g. tool check run.pcapng"},
		{"ctl link b up", ""},
	} {
		_, err := execute(tt.args)
		if got := errText(err); got != tt.want {
			t.Errorf("got tool %s error %q, want %q", tt.args, got, tt.want)
		}
	}
}

func TestSuggestFlag(t *testing.T) {
	for _, tt := range []struct{ args, want string }{
		{"serve --captur x", "unknown flag: --captur (did you mean --capture?)"},
		{"ctl ports --contrl x", "unknown flag: --contrl (did you mean --control?)"}, // an inherited flag
		{"check --chek x y", "unknown flag: --chek (did you mean --check?)"},         // an alias
		{"serve --zzzzzzzz", "unknown flag: --zzzzzzzz (tool serve --help lists the flags)"},
		{"--zzzzzzzz", "unknown flag: --zzzzzzzz (tool --help lists the flags)"},
		{"--loss 5%", "unknown flag: --loss (it is tool serve's: tool serve --loss ...)"},
		{"--captur x", "unknown flag: --captur (did you mean tool serve --capture?)"},
		{"--verison", "unknown flag: --verison (did you mean --version?)"}, // the root's own flags first
		{"srve --loss 1", "unknown command \"srve\" for \"tool\"\n\nDid you mean this?\n\tserve"},
		{"ctl --nosuchflag", "unknown flag: --nosuchflag (tool ctl --help lists the flags)"},
	} {
		_, err := execute(tt.args)
		if got := errText(err); got != tt.want {
			t.Errorf("got tool %s error %q, want %q", tt.args, got, tt.want)
		}
	}
}

// Strict and Execute refuse what names no command wherever it is given;
// a group given nothing prints its help.
func TestStrict(t *testing.T) {
	for _, tt := range []struct{ args, want string }{
		{"prots", "unknown command \"prots\" for \"tool\""},
		{"ctl prots", "unknown command \"prots\" for \"tool ctl\"\n\nDid you mean this?\n\tports"},
		{"ctl prots --help", "unknown command \"prots\" for \"tool ctl\"\n\nDid you mean this?\n\tports"},
		{"ctl --control x prots -h", "unknown command \"prots\" for \"tool ctl\"\n\nDid you mean this?\n\tports"},
		{"help ctl prots", "unknown command \"prots\" for \"tool ctl\"\n\nDid you mean this?\n\tports"},
		{"help nosuchtopic", "unknown command \"nosuchtopic\" for \"tool\""},
		{"completion bsh", "unknown command \"bsh\" for \"tool completion\"\n\nDid you mean this?\n\tbash\n\tfish\n\tzsh"},
	} {
		out, err := execute(tt.args)
		if got := errText(err); got != tt.want || out != "" {
			t.Errorf("got tool %s error %q, printed %q; want %q and nothing printed", tt.args, got, out, tt.want)
		}
	}
	for _, args := range []string{"ctl", "help ctl", "ctl --help"} {
		out, err := execute(args)
		if err != nil || !strings.Contains(out, "Available Commands:") || !strings.Contains(out, "list ports") {
			t.Errorf("got tool %s: %v, printed %q; want ctl's help", args, err, out)
		}
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
