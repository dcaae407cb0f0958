package report

import (
	"testing"
	"time"
)

// TestHeldFor: the wait a delay or queue note says its copy was held for,
// as the filter writes them.
func TestHeldFor(t *testing.T) {
	for _, tt := range []struct {
		action, detail string
		want           time.Duration
		ok             bool
	}{
		{"delay", "20ms", 20 * time.Millisecond, true},
		{"delay", "20ms fifo+1.5ms", 21500 * time.Microsecond, true},
		{"delay", "20ms±5ms uniform draw=-2.576406ms", 17423594 * time.Nanosecond, true},
		{"delay", "30ms±25ms uniform draw=+23.266147ms", 53266147 * time.Nanosecond, true},
		{"delay", "10ms±20ms normal draw=-15ms fifo+3ms", 3 * time.Millisecond, true}, // max(fixed+draw, 0) + fifo
		{"queue", "rate=10Mbit wait=173.6µs", 173600 * time.Nanosecond, true},
		{"delay", "", 0, false},
		{"delay", "20ms±5ms uniform", 0, false}, // the draw not said
		{"delay", "20ms draw=1ms", 0, false},    // a draw with no jitter
		{"delay", "25h", 0, false},              // past what a policy holds
		{"delay", "-2562047h47m16.854775808s", 0, false},
		{"queue", "rate=10Mbit", 0, false},
		{"queue", "rate=10Mbit wait=-1ms", 0, false},
		{"corrupt", "p=1 draw=0.5 bits=3", 0, false},
	} {
		got, ok := heldFor(note{Action: tt.action, Detail: tt.detail})
		if got != tt.want || ok != tt.ok {
			t.Errorf("got heldFor(%s (%s)) = %v, %v, want %v, %v", tt.action, tt.detail, got, ok, tt.want, tt.ok)
		}
	}
}
