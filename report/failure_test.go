package report

import (
	"errors"
	"testing"

	"l2hub/capture"
)

// TestModelFailure: a page drawn from a capture that broke part-way fails
// the report, one cut short fails it unless --allow-truncated accepts it,
// and a whole capture does not.
func TestModelFailure(t *testing.T) {
	cut := &capture.ReadError{Err: capture.ErrTruncated}
	broken := errors.New("bad block")
	for _, tt := range []struct {
		name    string
		stopped error
		truncOK bool
		want    string // "" for no failure
	}{
		{"whole", nil, false, ""},
		{"cut", cut, false, "run.pcapng: " + cut.Error() + " (the page shows the 7 records before the cut; --allow-truncated accepts a capture cut short)"},
		{"cut-allowed", cut, true, ""},
		{"broken", broken, true, "report stopped early on bad input (the page shows the 7 records before it): run.pcapng: bad block"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := &Model{Records: 7, Stopped: tt.stopped}
			err := m.Failure("run.pcapng", tt.truncOK)
			if tt.want == "" && err != nil || tt.want != "" && (err == nil || err.Error() != tt.want || !errors.Is(err, tt.stopped)) {
				t.Errorf("got Failure = %v, want %q", err, tt.want)
			}
		})
	}
}
