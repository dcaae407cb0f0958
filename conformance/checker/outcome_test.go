package checker

import (
	"errors"
	"testing"
)

func TestOutcome(t *testing.T) {
	stop := &StopError{Name: "run.pcapng", Err: errors.New("packet 7 at byte 812: corrupt block")}
	other := errors.New("run.pcapng: not a capture")
	tests := []struct {
		name     string
		r        Report
		err      error
		wantShow bool
		want     string // the verdict's text; "" for nil
		wantIs   error
	}{
		{"passed", Report{Frames: 3}, nil, true, "", nil},
		{"failed", Report{Frames: 3, Fail: 1}, nil, true, ErrFailed.Error(), ErrFailed},
		{"stopped", Report{Frames: 6}, stop, true, "run.pcapng: packet 7 at byte 812: corrupt block; the report covers the 6 frames before it", stop.Err},
		{"stopped-and-failed", Report{Frames: 6, Fail: 2}, stop, true, "run.pcapng: packet 7 at byte 812: corrupt block; the report covers the 6 frames before it", stop.Err},
		{"no-report", Report{}, other, false, other.Error(), other},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			show, verdict := Outcome(tt.r, tt.err)
			got := ""
			if verdict != nil {
				got = verdict.Error()
			}
			if show != tt.wantShow || got != tt.want {
				t.Errorf("got Outcome = %v, %q, want %v, %q", show, got, tt.wantShow, tt.want)
			}
			if tt.wantIs != nil && !errors.Is(verdict, tt.wantIs) {
				t.Errorf("got Outcome = %v, want one that errors.Is %v", verdict, tt.wantIs)
			}
			if tt.name == "stopped" && errors.Is(verdict, ErrFailed) {
				t.Errorf("got Outcome = %v, want a stop (status 1), not ErrFailed", verdict)
			}
		})
	}
}
