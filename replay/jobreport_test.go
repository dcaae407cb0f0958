package replay

import (
	"bytes"
	"strings"
	"testing"
)

// With the output capture on standard output, the summary, text or JSON,
// goes where the warnings go: out holds the capture alone.
func TestReportSummaryBesideStdoutCapture(t *testing.T) {
	for _, tc := range []struct {
		name         string
		outputStdout bool
		asJSON       bool
	}{
		{"file-text", false, false},
		{"file-json", false, true},
		{"stdout-text", true, false},
		{"stdout-json", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &JobResult{Result: &Result{Replayed: 20}, OutputStdout: tc.outputStdout}
			var out, warn bytes.Buffer
			if err := r.Report(&out, &warn, tc.asJSON); err != nil {
				t.Fatal(err)
			}
			summary, other := &out, &warn
			if tc.outputStdout {
				summary, other = &warn, &out
			}
			want := "20"
			if tc.asJSON {
				want = `"replayed": 20`
			}
			if !strings.Contains(summary.String(), want) || other.Len() != 0 {
				t.Errorf("got summary stream %q and other %q, want the summary (%q) in the first and nothing in the second", summary.String(), other.String(), want)
			}
		})
	}
}
