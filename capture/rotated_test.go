package capture_test

import (
	"testing"

	"l2hub/capture"
)

// TestRotatedPartInvertsRotatedPath: the part number of each name
// RotatedPath gives, in any directory, and no part for a name it never
// gives.
func TestRotatedPartInvertsRotatedPath(t *testing.T) {
	for _, n := range []int{1, 2, 9999, 10000, 123456} {
		name := capture.RotatedPath("/runs/run.pcapng", n)
		if got, ok := capture.RotatedPart("/runs/run.pcapng", name); !ok || got != n {
			t.Errorf("RotatedPart(%s) = %d, %v; want %d", name, got, ok, n)
		}
		if got, ok := capture.RotatedPart("run.pcapng", "/elsewhere/"+capture.RotatedPath("run.pcapng", n)); !ok || got != n {
			t.Errorf("RotatedPart in another directory = %d, %v; want %d", got, ok, n)
		}
	}
	for _, tc := range []struct{ base, path string }{
		{"run.pcapng", "run.pcapng"},       // part 0 is the base itself
		{"run.pcapng", "run-1.pcapng"},     // fewer than 4 digits
		{"run.pcapng", "run-0000.pcapng"},  // no part 0 of that name
		{"run.pcapng", "run-00001.pcapng"}, // not as RotatedPath writes 1
		{"run.pcapng", "run-0001.pcap"},    // another extension
		{"run.pcapng", "walk-0001.pcapng"}, // another stem
		{"run.pcapng", "run-x001.pcapng"},
		{"", "-0001"},
		{capture.Stdout, "--0001"},
	} {
		if n, ok := capture.RotatedPart(tc.base, tc.path); ok {
			t.Errorf("RotatedPart(%q, %q) = %d, true; want no part", tc.base, tc.path, n)
		}
	}
}
