package samefile

import (
	"fmt"
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
// write (named by flag, such as -o), is one of inputs. "" and "-"
// (standard output) are never inputs.
func Check(flag, output string, inputs ...Input) error {
	if output == "" || output == "-" {
		return nil
	}
	for _, in := range inputs {
		if in.Path == "" || in.Path == "-" || !Same(output, in.Path) {
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
