package report

import (
	"fmt"
	"io"
)

// Write writes the page to out as `l2hub report -o` does: "-" is stdout;
// a file is written whole (WriteFile), and a line saying what was written
// (its size, then WriteSummary) goes to stdout, or to stderr when the
// file is standard output itself (-o /dev/stdout: WritesInPlace), where
// it would follow the page.
func (m *Model) Write(out string, stdout, stderr io.Writer) error {
	if out == "-" {
		return m.WriteHTML(stdout)
	}
	said := stdout
	if WritesInPlace(out) {
		said = stderr
	}
	size, err := m.WriteFile(out)
	if err != nil {
		return err
	}
	fmt.Fprintf(said, "wrote %s (%d bytes): ", out, size)
	return m.WriteSummary(said)
}
