package lab

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// TestCommandRefusesBadArguments: a typed flag's bad text is an argument
// error, said before the lab file is read, and written to --out's
// junit.xml; without --out nothing is written.
func TestCommandRefusesBadArguments(t *testing.T) {
	for _, tt := range []struct {
		name string
		c    Command
		want string
	}{
		{"repeat-zero", Command{Repeat: "0"}, "--repeat 0: want a whole number, 1 or more"},
		{"repeat-word", Command{Repeat: "many"}, "--repeat many: want a whole number, 1 or more"},
		{"soak", Command{Repeat: "1", Soak: "soon"}, "--soak soon: want a duration such as 30s or 1h30m"},
		{"grace", Command{Repeat: "1", Grace: "5"}, "--grace 5: want a duration such as 30s or 1h30m"},
		{"seed", Command{Repeat: "1", Seed: "-1"}, "--seed -1: want an unsigned 64-bit integer"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			c := tt.c
			c.File = filepath.Join(dir, "missing.yaml") // never read: the arguments are refused first
			c.Dir = filepath.Join(dir, "out")
			c.NoJUnit = func(err error) { t.Errorf("junit.xml not written: %v", err) }
			verdict, err := c.Run(context.Background())
			if verdict != nil || err == nil || err.Error() != tt.want {
				t.Errorf("got Run = %v, %v; want no verdict and %s", verdict, err, tt.want)
			}
			junit, rerr := os.ReadFile(filepath.Join(c.Dir, "junit.xml"))
			if rerr != nil || !strings.Contains(string(junit), "the arguments could not be used") {
				t.Errorf("got junit.xml %q, %v; want it to say the arguments could not be used", junit, rerr)
			}

			c.Dir = ""
			if _, err := c.Run(context.Background()); err == nil || err.Error() != tt.want {
				t.Errorf("without --out: got Run error %v, want %s", err, tt.want)
			}
		})
	}
}

// TestCommandDefaultsAreTheFlags: a Command whose typed flags are left
// empty runs as l2hub lab with no flags would (one run, the lab's seed, no
// soak): the first thing it refuses is the lab file, not an argument.
func TestCommandDefaultsAreTheFlags(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.yaml")
	verdict, err := (&Command{File: missing}).Run(context.Background())
	if verdict != nil || err == nil || !strings.Contains(err.Error(), "missing.yaml") || strings.Contains(err.Error(), "--") {
		t.Errorf("got Run = %v, %v; want the missing lab file refused, no flag", verdict, err)
	}
}

// TestCommandRegister: lab's typed flags are kept as the text given, so
// that Run refuses a bad one (into --out's junit.xml) rather than the
// parser; --repeat and --grace have their defaults.
func TestCommandRegister(t *testing.T) {
	var c Command
	fs := pflag.NewFlagSet("lab", pflag.ContinueOnError)
	c.Register(fs)
	if c.Repeat != "1" || c.Grace != DefaultGrace.String() || c.Soak != "" {
		t.Errorf("got defaults repeat %q, grace %q, soak %q, want 1, %s and none", c.Repeat, c.Grace, c.Soak, DefaultGrace)
	}
	if err := fs.Parse([]string{"--repeat", "x", "--soak", "3q", "--grace", "soon", "--out", "d", "--var", "A=1"}); err != nil {
		t.Fatalf("got Parse error %v, want the text kept", err)
	}
	if c.Repeat != "x" || c.Soak != "3q" || c.Grace != "soon" || c.Dir != "d" || len(c.Vars) != 1 {
		t.Errorf("got %+v, want each flag's text in its field", c)
	}
	if typ := fs.Lookup("soak").Value.Type(); typ != "duration" {
		t.Errorf("got --soak's type %q, want duration", typ)
	}
}

// A lab whose hub would not start (its policy names a port that does not
// exist) says why once, in the run's summary on Out: Run returns the
// verdict, "lab error" (l2hub lab's exit status 1), not the error again.
func TestCommandHubErrorSaidOnce(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("faults.yaml", "rules:\n  - name: loss\n    match: {link: \"a->b\"}\n    drop: true\n")
	file := write("lab.yaml", `
name: badpolicy
hub: {policy: faults.yaml}
vms:
  - {name: a, mac: "52:54:00:00:00:0a", qemu: "${Q}", args: [-say, up, -hang], expect: [{marker: up}]}
`)
	var out strings.Builder
	c := Command{File: file, Dir: filepath.Join(dir, "run"), Repeat: "1", Vars: []string{"Q=" + fakeQEMU}, Out: &out}
	verdict, err := c.Run(context.Background())
	const why = `rules[0].match.link: port "b" does not exist (ports: a)`
	if err != nil || verdict == nil || verdict.Error() != "lab error" {
		t.Errorf("got Run = %v, %v; want the verdict lab error and no error", verdict, err)
	}
	if n := strings.Count(out.String(), why); n != 1 || !strings.Contains(out.String(), "error: hub: ") {
		t.Errorf("got %q %d times in the output, want it once, on the summary's error: line:\n%s", why, n, out.String())
	}
}
