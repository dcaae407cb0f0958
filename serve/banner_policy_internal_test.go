package serve

import (
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// TestBannerPolicyLine: the banner's policy line says what the policy
// does: --seed alone, a policy of no faults, says so (and what the seed is
// for) rather than read as faults configured; one with a fault is named
// with its seed, a link's flap schedule alone included.
func TestBannerPolicyLine(t *testing.T) {
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"seed-alone", []string{"--seed", "9"}, "policy flags: no faults yet (seed 9, for rules added with ctl rule add)\n"},
		{"seed-alone-no-control", []string{"--seed", "9", "--control", "off"}, "policy flags: no faults (seed 9, unused: the control API is off)\n"},
		{"a-fault", []string{"--seed", "9", "--loss", "a->b=5%"}, "policy flags, seed 9\n"},
		// Every port has a link state; a schedule is what makes one a fault.
		{"a-flap-alone", []string{"--seed", "9", "--down", "b@5s-6s"}, "policy flags, seed 9\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var f Flags
			fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
			f.Register(fs)
			args := append([]string{"--port", "a=tcp:127.0.0.1:0", "--port", "b=tcp:127.0.0.1:0", "--control", t.TempDir() + "/ctl.sock"}, tt.args...)
			if err := fs.Parse(args); err != nil {
				t.Fatal(err)
			}
			cfg, err := f.Config()
			if err != nil {
				t.Fatal(err)
			}
			s, err := New(cfg, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Stop()
			var b strings.Builder
			s.printBanner(&b, "")
			var got string
			for line := range strings.Lines(b.String()) {
				if strings.HasPrefix(line, "policy ") {
					got = line
				}
			}
			if got != tt.want {
				t.Errorf("serve %v: got the banner's policy line %q, want %q", tt.args, got, tt.want)
			}
		})
	}
}
