package checker

import (
	"testing"
	"time"

	"l2hub/hub"
)

func TestDedupe(t *testing.T) {
	type in struct {
		data   string
		source int
		at     time.Duration
		dup    bool
	}
	tests := []struct {
		name string
		seq  []in
	}{
		{"loopback-echo", []in{{"x", 0, 0, false}, {"x", 0, 10 * time.Microsecond, true}, {"y", 0, time.Millisecond, false}}},
		{"genuine-repeat-in-one-file", []in{{"x", 0, 0, false}, {"x", 0, 64 * time.Millisecond, false}}},
		{"copy-in-another-file", []in{{"x", 0, 0, false}, {"x", 1, 3 * time.Second, true}}},
		{"copies-pair-up", []in{{"x", 0, 0, false}, {"x", 1, time.Second, true}, {"x", 0, 2 * time.Second, false}, {"x", 1, 3 * time.Second, true}}},
		{"echo-of-a-copy", []in{{"x", 0, 0, false}, {"x", 0, time.Microsecond, true}, {"x", 1, time.Second, true}, {"x", 1, time.Second + time.Microsecond, true}}},
		{"third-copy-from-same-file-is-new", []in{{"x", 0, 0, false}, {"x", 1, time.Second, true}, {"x", 1, 2 * time.Second, false}}},
		{"different-length-same-prefix", []in{{"xx", 0, 0, false}, {"x", 0, 0, false}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDeduper()
			for i, f := range tt.seq {
				if got := d.duplicate([]byte(f.data), f.source, hub.DefaultEpoch.Add(f.at), true); got != f.dup {
					t.Errorf("frame %d: got duplicate = %v, want %v", i, got, f.dup)
				}
			}
		})
	}
}

func TestDedupeForgetsOldFrames(t *testing.T) {
	d := newDeduper()
	d.duplicate([]byte("first"), 0, hub.DefaultEpoch, true)
	for i := range dedupeDepth {
		d.duplicate([]byte{byte(i), byte(i >> 8), 1}, 0, hub.DefaultEpoch, true)
	}
	if d.duplicate([]byte("first"), 1, hub.DefaultEpoch, true) {
		t.Errorf("got a frame older than the window recognised, want it forgotten")
	}
	if len(d.index) > dedupeDepth {
		t.Errorf("got %d hashes remembered, want at most %d", len(d.index), dedupeDepth)
	}
}
