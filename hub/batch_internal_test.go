package hub

import (
	"testing"
	"time"
)

// TestNextBatch: a writer's batch grows by doubling only after a full
// batch, and never beyond what, at the last write's rate, lasts quick.
func TestNextBatch(t *testing.T) {
	const quick = 375 * time.Millisecond // a 3s stall time's eighth
	tests := []struct {
		name     string
		limit, n int
		took     time.Duration
		want     int
	}{
		{"full-quick-batch-doubles", 8, 8, time.Millisecond, 16},
		{"full-unmeasured-batch-doubles", 32, 32, 0, 64},
		{"doubling-stops-at-the-maximum", 64, 64, 0, maxWriteBatch},
		{"a-single-frame-is-no-evidence-for-more", 2, 1, time.Microsecond, 2},
		{"a-trickle-keeps-a-batch-earned-before", 64, 1, 0, 64},
		{"slow-write-sizes-by-rate", 64, 64, 6400 * time.Millisecond, 3},
		{"partial-slow-write-sizes-by-rate", 64, 8, 800 * time.Millisecond, 3},
		{"slower-than-quick-per-frame-is-one", 16, 1, time.Second, 1},
		{"empty-write-is-one-at-least", 4, 0, time.Second, 1},
		{"full-write-grows-no-more-than-its-rate", 2, 2, 200 * time.Millisecond, 3},
		{"fast-rate-still-only-doubles", 4, 4, time.Millisecond, 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := nextBatch(tt.limit, tt.n, tt.took, quick); got != tt.want {
				t.Errorf("got nextBatch(%d, %d, %v, %v) = %d, want %d", tt.limit, tt.n, tt.took, quick, got, tt.want)
			}
		})
	}
}
