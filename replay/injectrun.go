package replay

import (
	"context"
	"errors"
	"fmt"
	"os"

	"l2hub/capture"
	"l2hub/control"
)

// InjectOutput is where RunInject says what an injection did; either may
// be nil.
type InjectOutput struct {
	// Report is called at most once, with the report to show: as soon as
	// the frames went out when some did, else once the injection ended
	// well (a report of no frame beside an error is no news: the error
	// says it all).
	Report func(*InjectReport)
	// Warn is called with each warning, in the order they arise: the
	// report's (InjectReport.Warnings) and the stop of its input, right
	// after Report; the port's other drops (InjectInto); a lossy flood's
	// drops, in the hub's words.
	Warn func(string)
}

// RunInject is `l2hub inject` after its flags: InjectInto, and the verdict
// on what it came to. Frames the port dropped for flow control all the
// same (control.ErrInjectDropped) fail it, except in a flood (cfg's pacing
// as fast as possible), a lossy flood, where they are a warning; an input
// that broke part-way then still fails it. An input cut short (a killed
// writer) fails it, once the frames before the cut were sent, unless
// truncOK accepts that.
func RunInject(ctx context.Context, c *control.Client, port string, cfg InjectConfig, truncOK bool, out InjectOutput) error {
	warn := func(w string) {
		if out.Warn != nil {
			out.Warn(w)
		}
	}
	var truncated, stopped *InputError
	show := func(rep *InjectReport) {
		if out.Report != nil {
			out.Report(rep)
		}
		for _, w := range rep.Warnings() {
			warn(w)
		}
		if rep.Input != nil {
			stopped = rep.Input
			warn(fmt.Sprintf("%v; the frames before it were sent", rep.Input))
			if rep.Input.Truncated() {
				truncated = rep.Input
			}
		}
	}
	var none *InjectReport
	err := InjectInto(ctx, c, port, cfg,
		func(rep *InjectReport) {
			if rep.Frames == 0 {
				none = rep
				return
			}
			show(rep)
		}, warn)
	if none != nil && err == nil {
		show(none)
	}
	if p := cfg.Pacing; errors.Is(err, control.ErrInjectDropped) && p.Speed == 0 && p.PPS == 0 && p.BPS == 0 {
		warn(err.Error()) // a lossy flood
		err = nil
		if stopped != nil && !stopped.Truncated() {
			err = stopped
		}
	}
	if err == nil && truncated != nil && !truncOK {
		return fmt.Errorf("%w (--allow-truncated accepts a capture cut short)", truncated)
	}
	return err
}

// CheckInjectCapture says why path cannot be injected, before the hub is
// asked: it is not there, cannot be read, is a directory (CheckCapture),
// or (a regular file) does not start as a pcap or pcapng file does. A
// named pipe or a device is not read here: what this read took would be
// missing from the injection.
func CheckInjectCapture(path string) error {
	if err := CheckCapture(path); err != nil || path == Stdin {
		return err
	}
	if fi, err := os.Stat(path); err != nil || !fi.Mode().IsRegular() {
		return err
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := capture.NewReader(f, capture.ReadOptions{}); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
