package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// WantArgs is cobra's ExactArgs (max < 0: at least min) with a message
// that says what the command takes and shows it, rather than "accepts 2
// arg(s), received 1": "ctl link takes PORT and up|down, got 1 argument
// (b): e.g. l2hub ctl link b down". hint, when set, is added for
// arguments beyond max (report's second file is a --console log).
func WantArgs(min, max int, what, example, hint string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) >= min && (max < 0 || len(args) <= max) {
			return nil
		}
		got := "none"
		switch len(args) {
		case 0:
		case 1:
			got = fmt.Sprintf("1 argument (%s)", args[0])
		default:
			got = fmt.Sprintf("%d arguments (%s)", len(args), strings.Join(args, " "))
		}
		name := strings.TrimPrefix(cmd.CommandPath(), cmd.Root().Name()+" ")
		msg := fmt.Sprintf("%s takes %s, got %s: e.g. %s", name, what, got, example)
		if hint != "" && max >= 0 && len(args) > max {
			msg += " (" + hint + ")"
		}
		return fmt.Errorf("%s", msg)
	}
}
