package serve

import (
	"strings"
	"testing"

	"l2hub/capture"
)

// TestCheckNumbering: the live checker numbers the events the capture
// records, and its report says how the numbers count when they are not one
// capture file's own.
func TestCheckNumbering(t *testing.T) {
	for _, tt := range []struct {
		name   string
		cfg    CaptureConfig
		points capture.Points
		note   string
	}{
		{"no-capture", CaptureConfig{Points: "ingress"}, capture.PointsBoth, "no capture was taken: frame numbers count the hub's events"},
		{"one-file", CaptureConfig{File: "x.pcapng"}, capture.PointsBoth, ""},
		{"ingress", CaptureConfig{File: "x.pcapng", Points: "ingress"}, capture.PointsIngress, ""},
		{"egress", CaptureConfig{File: "x.pcapng", Points: "egress"}, capture.PointsEgress, ""},
		{"per-port", CaptureConfig{File: "x.pcapng", PerPort: true}, capture.PointsBoth, "the per-port files of x.pcapng merged by timestamp"},
		{"rotated", CaptureConfig{File: "x.pcapng", RotateCount: 10}, capture.PointsBoth, "across the rotated files of x.pcapng in order"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			points, note, err := tt.cfg.checkNumbering()
			if err != nil {
				t.Fatal(err)
			}
			if points != tt.points || (tt.note == "") != (note == "") || !strings.Contains(note, tt.note) {
				t.Errorf("got checkNumbering() = %v, %q, want %v and a note containing %q", points, note, tt.points, tt.note)
			}
		})
	}
}
