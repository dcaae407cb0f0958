package samefile

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Same reports whether a and b name one file: the same cleaned absolute
// path, or, when both exist, one file (os.SameFile: another path to it, a
// hard link, a symbolic link).
func Same(a, b string) bool {
	if abs(a) == abs(b) {
		return true
	}
	fa, err1 := os.Stat(a)
	fb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(fa, fb)
}

// Overwrites reports whether writing out destroys what in holds: they
// are one file (Same), and not a character device (/dev/null, a
// terminal), which passes each write on rather than keeps it, so that
// any number of outputs and inputs may share one.
func Overwrites(out, in string) bool {
	if !Same(out, in) {
		return false
	}
	fi, err := os.Stat(out)
	return err != nil || fi.Mode()&fs.ModeCharDevice == 0
}

func abs(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return filepath.Clean(p)
}

// Input is a file a command reads, and what it is to the user (a
// capture, a policy, a console log).
type Input struct {
	Path, What string
}

// Check returns an error when output, the file a command is about to
// write (named by flag, such as -o), is one of inputs (Overwrites: a
// character device such as /dev/null is not). "" and "-" (standard
// output) are never inputs.
func Check(flag, output string, inputs ...Input) error {
	if output == "" || output == "-" {
		return nil
	}
	for _, in := range inputs {
		if in.Path == "" || in.Path == "-" || !Overwrites(output, in.Path) {
			continue
		}
		what := in.What
		if what == "" {
			what = "input"
		}
		same := ""
		if in.Path != output {
			same = fmt.Sprintf(" (%s)", in.Path)
		}
		return fmt.Errorf("%s %s is the %s it reads%s: writing it would destroy it; write somewhere else", flag, output, what, same)
	}
	return nil
}
