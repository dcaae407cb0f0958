package report

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestModelWrite: -o - puts the page on stdout and nothing else; a file
// gets the page, and stdout a line saying what was written.
func TestModelWrite(t *testing.T) {
	m := build(t, Options{Capture: failingRun})
	var stdout, stderr bytes.Buffer
	if err := m.Write("-", &stdout, &stderr); err != nil || !strings.HasPrefix(stdout.String(), "<!DOCTYPE html>") || stderr.Len() != 0 {
		t.Errorf("got Write(-) = %v, stdout %.40q, stderr %q; want the page on stdout alone", err, stdout.String(), stderr.String())
	}

	stdout.Reset()
	out := filepath.Join(t.TempDir(), "run.html")
	if err := m.Write(out, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile(out)
	if err != nil || !bytes.HasPrefix(page, []byte("<!DOCTYPE html>")) {
		t.Errorf("got %s = %.40q, %v; want the page", out, page, err)
	}
	if want := fmt.Sprintf("wrote %s (%d bytes): ", out, len(page)); !strings.HasPrefix(stdout.String(), want) || stderr.Len() != 0 {
		t.Errorf("got stdout %q, stderr %q; want stdout to start %q", stdout.String(), stderr.String(), want)
	}

	// A file written in place (a device, as /dev/stdout is one) has the
	// line on stderr: on stdout it could follow the page itself.
	stdout.Reset()
	if err := m.Write(os.DevNull, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("wrote %s (%d bytes): ", os.DevNull, len(page)); stdout.Len() != 0 || !strings.HasPrefix(stderr.String(), want) {
		t.Errorf("got stdout %q, stderr %q; want stderr to start %q", stdout.String(), stderr.String(), want)
	}
}
