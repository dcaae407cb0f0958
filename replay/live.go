package replay

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"l2hub/control"
	"l2hub/hub"
)

// InjectInto is `l2hub inject`: it sends cfg's frames to the VM on port of
// the running hub c talks to, through the control API, each at its time
// (Inject). A port the hub does not have, or one with no VM attached, is
// refused before anything is sent: every frame would be dropped; so is a
// --from or --from-mac that keeps none of the capture's frames, and a
// capture with no frame to send, before the hub is asked anything (of an
// input that can be read only once, a pipe, Inject says it at its end),
// and a --loop of more than one pass over such an input. report,
// when set, is called with the report once the frames went out, before
// the drops are looked at: its Dropped are the hub's count of the
// injected frames the port dropped, by reason, and those that found no VM
// (it went away) fail the injection. The port's other drops meanwhile
// (frames forwarded to it) are passed to warn.
func InjectInto(ctx context.Context, c *control.Client, port string, cfg InjectConfig, report func(*InjectReport), warn func(string)) error {
	if err := checkLoop(cfg); err != nil { // before the hub hears of it
		return err
	}
	cfg = withLinks(cfg) // scanned once, for checkSelection and Inject
	if err := checkSelection(ctx, cfg); err != nil {
		return err // before the hub is asked: the capture is what to fix
	}
	cfg.checked = true
	ports, err := c.Ports(ctx)
	if err != nil {
		return err // the client's error says when no hub answers, and how to name one
	}
	names := make([]string, len(ports))
	for i, p := range ports {
		names[i] = p.Name
	}
	i := slices.Index(names, port)
	if i < 0 {
		return fmt.Errorf("--into %q: the hub has no such port (ports: %s)", port, strings.Join(names, ", "))
	}
	if !ports[i].Attached {
		return fmt.Errorf("--into %q: no VM is attached to port %s, so every frame would be dropped (l2hub ctl ports shows its peer)", port, port)
	}
	before := ports[i].Stats.Drops

	// The frames go over one streaming request, each as it falls due.
	var rep *InjectReport
	var ierr error
	res, herr := c.InjectStream(ctx, port, func(send func([]byte) error) {
		rep, ierr = Inject(ctx, cfg, send)
	})
	if n, ok := hubTook(herr); ok && rep != nil {
		rep.tookByHub(n) // what the client sent after the refused frame never reached the port
	}
	if herr == nil && rep != nil && len(res.Dropped) > 0 {
		rep.Dropped = res.Dropped // the hub's count of the injected frames the port dropped
	}
	if rep != nil && report != nil {
		report(rep)
	}
	var answer *control.Error
	switch {
	case errors.As(herr, &answer):
		return herr // the hub's answer names the port and the frame
	case herr != nil:
		return fmt.Errorf("inject into %q: %w", port, herr)
	case ierr != nil:
		return ierr
	case rep != nil && res.Frames != rep.Frames:
		return fmt.Errorf("inject into %q: the hub took %d of %d frames", port, res.Frames, rep.Frames)
	}
	if err := checkDrops(ctx, c, port, before, res.Dropped, warn); err != nil {
		return err
	}
	if n := res.Dropped[hub.DropDown.String()]; n > 0 {
		return fmt.Errorf("inject into %q: %d of the frames sent found no VM on the port (port-down): its VM went away", port, n)
	}
	if rep != nil && rep.Input != nil && !rep.Input.Truncated() {
		return rep.Input
	}
	return nil
}

// hubTook is how many frames the hub says it took when err is its refusal
// of a frame of the stream.
func hubTook(err error) (int, bool) {
	var answer *control.Error
	if !errors.As(err, &answer) || answer.Frames == nil {
		return 0, false
	}
	return *answer.Frames, true
}

// checkDrops says which of port's drop counters rose since before more
// than the injected frames' own drops (own, the hub's count) account for:
// frames the hub forwarded to the port meanwhile, which warn is told of.
// The hub counts an injected frame's drop when it takes the frame; one it
// queued for the VM and threw away when the VM left is port-down on the
// port alone: port-down beyond own on a port whose VM is gone fails, as
// some may be injected frames.
func checkDrops(ctx context.Context, c *control.Client, port string, before map[string]uint64, own map[string]int, warn func(string)) error {
	ports, err := c.Ports(ctx)
	if err != nil {
		return fmt.Errorf("inject into %q: after sending: %w", port, err)
	}
	i := slices.IndexFunc(ports, func(p control.PortStatus) bool { return p.Name == port })
	if i < 0 {
		return fmt.Errorf("inject into %q: the port is gone", port)
	}
	after := ports[i].Stats.Drops
	var rose []string
	total := uint64(0)
	for _, r := range slices.Sorted(maps.Keys(after)) {
		n := after[r] - before[r]
		if m := uint64(max(own[r], 0)); n > m {
			rose = append(rose, fmt.Sprintf("%s=%d", r, n-m))
			total += n - m
		}
	}
	if len(rose) > 0 && warn != nil {
		warn(fmt.Sprintf("port %s's drop counters rose by %d more than the injection's own drops (frames forwarded to it meanwhile): %s",
			port, total, strings.Join(rose, " ")))
	}
	down := hub.DropDown.String()
	if n := after[down] - before[down]; n > uint64(max(own[down], 0)) && !ports[i].Attached {
		return fmt.Errorf("inject into %q: its VM went away: the port dropped %d %s as it had no VM (port-down), some maybe injected frames it had not read yet",
			port, n, plural(int(n), "frame", "frames"))
	}
	return nil
}

// ParsePacing reads l2hub inject's pacing flags: --speed (a multiple of
// the recorded timing), --flood, --pps and --bps (rates, see ParseRate);
// given says which of them the user set, and at most one may be.
func ParsePacing(given func(flag string) bool, speed float64, flood bool, pps, bps string) (Pacing, error) {
	paces := 0
	for _, name := range []string{"flood", "pps", "bps"} {
		if given(name) {
			paces++
		}
	}
	if given("speed") && paces > 0 || paces > 1 {
		return Pacing{}, errors.New("give one of --speed, --flood, --pps and --bps")
	}
	var p Pacing
	var err error
	switch {
	case flood:
	case given("pps"):
		if p.PPS, err = ParseRate(pps); err != nil {
			return p, fmt.Errorf("--pps: %w", err)
		}
		if p.PPS*MaxWait.Seconds() < 1 {
			return p, fmt.Errorf("--pps: %q is less than a frame in %v, the longest wait between two frames", pps, MaxWait)
		}
	case given("bps"):
		if p.BPS, err = ParseRate(bps); err != nil {
			return p, fmt.Errorf("--bps: %w", err)
		}
		if p.BPS*MaxWait.Seconds() < 8*hub.EthHeaderLen {
			return p, fmt.Errorf("--bps: %q is less than the smallest frame in %v, the longest wait between two frames", bps, MaxWait)
		}
	default:
		if speed < 0 || math.IsNaN(speed) || math.IsInf(speed, 0) {
			return p, fmt.Errorf("--speed %v: want a finite multiple of the recorded timing, 0 (as fast as possible) or more", speed)
		}
		p.Speed = speed
	}
	return p, nil
}

// ParseRate parses a positive rate with an optional SI suffix: 500, 1.5k,
// 10M, 1G (Pacing's PPS and BPS).
func ParseRate(s string) (float64, error) {
	mult := 1.0
	t := strings.TrimSpace(s)
	if n := len(t); n > 0 {
		switch t[n-1] {
		case 'k', 'K':
			mult, t = 1e3, t[:n-1]
		case 'M':
			mult, t = 1e6, t[:n-1]
		case 'G':
			mult, t = 1e9, t[:n-1]
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || v <= 0 || v*mult > 1e12 {
		return 0, fmt.Errorf("%q: want a positive number with an optional k, M or G suffix", s)
	}
	return v * mult, nil
}
