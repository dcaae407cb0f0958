package replay

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"time"

	"l2hub/hub"
)

// Pacing: when Inject sends each frame. A Pacing is validated and said in
// words here; the scheduler turns it and each frame's recorded time and
// size into an offset from the injection's start (saturating, as times
// and rates are input, and refusing a wait past MaxWait); waitUntil waits
// for that deadline on a clock, spinning its last stretch.

// Pacing says when Inject sends each frame. The zero value sends as fast as
// possible; Speed 1 is the recorded timing.
type Pacing struct {
	// Speed is a multiple of the recorded timing (2 = twice as fast); 0
	// sends as fast as possible. Ignored when PPS or BPS is set.
	Speed float64
	// PPS sends at a fixed rate in frames per second.
	PPS float64
	// BPS sends at a fixed rate in bits per second of frame bytes.
	BPS float64
	// MaxGap, in recorded timing, shortens every wait between two frames
	// longer than it to it (a capture's idle hours, a clock that jumped).
	// 0 keeps the recorded gaps and refuses one that would wait more than
	// MaxWait.
	MaxGap time.Duration
}

// MaxWait bounds the wait between two frames Inject keeps unless
// Pacing.MaxGap shortens it: past it the capture's clock jumped (a frame
// recorded years after the one before) or the pacing is a mistake, and the
// injection would seem to hang.
const MaxWait = 24 * time.Hour

func (p Pacing) validate() error {
	switch {
	case p.Speed < 0 || p.PPS < 0 || p.BPS < 0 || math.IsNaN(p.Speed+p.PPS+p.BPS) || math.IsInf(p.Speed+p.PPS+p.BPS, 0):
		return fmt.Errorf("%w: speed, frame rate and bit rate must be finite and not negative", ErrPacing)
	case p.PPS > 0 && p.BPS > 0:
		return fmt.Errorf("%w: give a frame rate or a bit rate, not both", ErrPacing)
	case p.MaxGap < 0:
		return fmt.Errorf("%w: a maximum gap must not be negative", ErrPacing)
	case p.MaxGap > 0 && (p.PPS > 0 || p.BPS > 0 || p.Speed == 0):
		return fmt.Errorf("%w: a maximum gap shortens the recorded timing's gaps; at a fixed rate or as fast as possible there are none", ErrPacing)
	}
	return nil
}

func (p Pacing) String() string {
	if p.MaxGap > 0 && p.PPS == 0 && p.BPS == 0 && p.Speed > 0 {
		return Pacing{Speed: p.Speed}.String() + ", gaps shortened to " + p.MaxGap.String()
	}
	switch {
	case p.PPS > 0:
		return fmt.Sprintf("%g frames/s", p.PPS)
	case p.BPS > 0:
		return fmt.Sprintf("%g bit/s", p.BPS)
	case p.Speed == 0:
		return "as fast as possible"
	case p.Speed == 1:
		return "recorded timing"
	}
	return fmt.Sprintf("%g× recorded timing", p.Speed)
}

// waitUntil returns once clock has reached deadline, or ctx's error. It
// sleeps on one of clock's timers until spin before the deadline, then
// polls the clock, so that the system timer's lateness does not become the
// frame's.
func waitUntil(ctx context.Context, clock hub.Clock, deadline time.Time, spin time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	w := deadline.Sub(clock.Now())
	if w <= 0 {
		return nil
	}
	if w > spin {
		due := make(chan struct{}, 1)
		t := clock.AfterFunc(w-spin, func() { due <- struct{}{} })
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-due:
		}
	}
	for clock.Now().Before(deadline) {
		runtime.Gosched()
	}
	return nil
}

// DefaultSpin is InjectConfig.Spin's default: a little more than the timer
// lateness measured on Linux (0.5-1 ms), so most frames leave within a
// microsecond of their deadline.
const DefaultSpin = 1500 * time.Microsecond

// scheduler computes each frame's offset from the start of the injection.
// Its arithmetic saturates: a capture's times and a pacing's rates are
// input, and an offset that wrapped round would send a frame at once.
type scheduler struct {
	pacing    Pacing
	sent      int
	bits      float64
	lastBits  float64       // the previous frame's
	base      time.Duration // the offset this pass started at
	last      time.Duration // the latest offset given
	rec       time.Duration // recorded time since this pass's first frame, long gaps shortened
	prev      time.Time     // this pass's previous recorded time, when stamped
	stamped   bool          // this pass has had a stamped frame: prev is its time
	inPass    bool          // this pass has had a frame
	shortened int           // waits MaxGap shortened
	back      int           // frames stamped before the frame before them, in recorded timing
	mostBack  time.Duration // the most one of them was
	untimed   int           // frames without a time (Simple Packet Blocks), in recorded timing
}

// newPass starts another pass over the capture: in recorded timing, its
// first frame goes when the previous pass's last one went.
func (s *scheduler) newPass() {
	s.base, s.rec, s.inPass, s.stamped = s.last, 0, false, false
}

// next returns the offset of a frame recorded at t, of size bytes, or why
// it would wait longer than MaxWait after the frame before it.
func (s *scheduler) next(t time.Time, size int) (time.Duration, error) {
	var off time.Duration
	rate := 0.0 // at a fixed rate, the wait after the frame before, in seconds
	switch {
	case s.pacing.PPS > 0:
		off = saturate(float64(s.sent) / s.pacing.PPS * float64(time.Second))
		rate = 1 / s.pacing.PPS
	case s.pacing.BPS > 0:
		off = saturate(s.bits / s.pacing.BPS * float64(time.Second))
		rate = s.lastBits / s.pacing.BPS
	case s.pacing.Speed > 0 && t.IsZero():
		// A Simple Packet Block's frame has no time: it goes right after
		// the frame before it, and the next stamped frame is timed from
		// the last stamped one.
		s.untimed++
		off = addSat(s.base, saturate(float64(s.rec)/s.pacing.Speed))
	case s.pacing.Speed > 0:
		if s.stamped {
			gap := t.Sub(s.prev) // saturates past 292 years, which is past any bound
			if gap < 0 {
				// The capture's clock ran backwards. As replay does, the
				// frame goes at the time reached, right after the frame
				// before it; the frames after it are timed from its
				// stamp, so they keep their spacing rather than all going
				// at once when the recorded clock catches up.
				s.back++
				s.mostBack = max(s.mostBack, saturate(-float64(gap)))
				gap = 0
			}
			wait := float64(gap) / s.pacing.Speed
			switch {
			case s.pacing.MaxGap > 0 && wait > float64(s.pacing.MaxGap):
				gap = saturate(float64(s.pacing.MaxGap) * s.pacing.Speed)
				s.shortened++
			case s.pacing.MaxGap == 0 && wait > float64(MaxWait):
				rec := seconds(t, s.prev)
				return 0, fmt.Errorf("recorded %s after the frame before it, a wait of %s at %s: more than %s (--max-gap shortens long gaps)",
					span(rec), span(rec/s.pacing.Speed), s.pacing, MaxWait)
			}
			s.rec = addSat(s.rec, gap)
		}
		s.prev, s.stamped = t, true
		off = addSat(s.base, saturate(float64(s.rec)/s.pacing.Speed))
	}
	if s.sent > 0 && rate > MaxWait.Seconds() {
		return 0, fmt.Errorf("a wait of %s after the frame before it at %s: more than %s", span(rate), s.pacing, MaxWait)
	}
	s.inPass = true
	s.last = off
	s.sent++
	s.lastBits = float64(8 * size)
	s.bits += s.lastBits
	return off, nil
}

// saturate converts nanoseconds to a Duration, holding at the largest
// instead of wrapping round (Go's float conversion does not saturate).
func saturate(ns float64) time.Duration {
	switch {
	case ns >= math.MaxInt64:
		return math.MaxInt64
	case ns <= math.MinInt64:
		return math.MinInt64
	}
	return time.Duration(ns)
}

// addSat is a+b, held at the largest or smallest Duration.
func addSat(a, b time.Duration) time.Duration {
	c := a + b
	switch {
	case a > 0 && b > 0 && c < 0:
		return math.MaxInt64
	case a < 0 && b < 0 && c >= 0:
		return math.MinInt64
	}
	return c
}

// seconds is b-a in seconds, for times too far apart for a Duration.
func seconds(b, a time.Time) float64 {
	return float64(b.Unix()-a.Unix()) + float64(b.Nanosecond()-a.Nanosecond())/1e9
}

// span says sec seconds as a Duration below two days, in days or years
// past it.
func span(sec float64) string {
	switch {
	case sec < 2*24*3600:
		return saturate(sec * 1e9).Round(time.Millisecond).String()
	case sec < 2*365.25*24*3600:
		return fmt.Sprintf("%.0f days", sec/(24*3600))
	}
	return fmt.Sprintf("%.0f years", sec/(365.25*24*3600))
}
