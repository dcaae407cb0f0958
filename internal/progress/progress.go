package progress

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"golang.org/x/term"

	"l2hub/hub"
)

// Bar draws one line: a bar of done/total when the total is known, the
// frames so far and their rate.
type Bar struct {
	w     io.Writer
	clock hub.Clock
	start time.Time
	last  time.Time
	drawn bool
}

// Modes are the values New takes, as the --progress flag lists them.
var Modes = []string{"auto", "always", "never"}

// CheckMode returns an error, naming the values allowed, when mode is not
// one of Modes; a command checks its --progress flag with it before it
// starts.
func CheckMode(mode string) error {
	if slices.Contains(Modes, mode) {
		return nil
	}
	return fmt.Errorf("--progress %q: want %s", mode, strings.Join(Modes, ", "))
}

// New returns a bar for mode "always", or for "auto" when w is a terminal;
// nil for "never" and for "auto" elsewhere. clock paces the redraws and
// the rate.
func New(w io.Writer, mode string, clock hub.Clock) *Bar {
	switch mode {
	case "never":
		return nil
	case "always":
	default:
		f, ok := w.(*os.File)
		if !ok || !term.IsTerminal(int(f.Fd())) {
			return nil
		}
	}
	return &Bar{w: w, clock: clock, start: clock.Now()}
}

// Update redraws the line, unless it was drawn less than 100ms ago.
func (b *Bar) Update(frames, done, total int64) {
	now := b.clock.Now()
	if b.drawn && now.Sub(b.last) < 100*time.Millisecond {
		return
	}
	b.last, b.drawn = now, true
	const width = 30
	line := fmt.Sprintf("%d frames", frames)
	if el := now.Sub(b.start).Seconds(); el > 0 {
		line += fmt.Sprintf(", %.0f frames/s", float64(frames)/el)
	}
	if total > 0 {
		frac := min(float64(done)/float64(total), 1)
		n := int(frac * width)
		line = fmt.Sprintf("[%s%s] %3.0f%% %s", strings.Repeat("#", n), strings.Repeat(".", width-n), 100*frac, line)
	}
	fmt.Fprintf(b.w, "\r%s\x1b[K", line)
}

// Done clears the line, if one was drawn.
func (b *Bar) Done() {
	if b.drawn {
		fmt.Fprint(b.w, "\r\x1b[K")
	}
}
