package lab

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
