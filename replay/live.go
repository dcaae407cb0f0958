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
	"time"

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
// (frames forwarded to it) are passed to warn, but those that found no VM
// fail it too when the VM went away while the injection went on, and are
// a warning when it went away after (checkDrops).
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
	was := attachmentOf(ports[i].PortStatus)

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
	if he, ok := errors.AsType[*control.Error](herr); ok && rep != nil && len(he.Dropped) > 0 && errors.Is(herr, control.ErrInjectDropped) {
		// The same count, in the hub's answer that some were dropped for
		// flow control: that error says them (a flood's caller warns of
		// it), the report keeps them for --json.
		rep.Dropped, rep.flowDropped = he.Dropped, true
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
	if err := checkDrops(ctx, c, port, was, before, res.Dropped, warn); err != nil {
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

// attachment tells one attachment of a VM to a port from another: the
// hub's time it attached and its peer.
type attachment struct {
	since time.Time
	peer  string
}

func attachmentOf(p hub.PortStatus) attachment { return attachment{p.Since, p.Peer} }

func (a attachment) is(p hub.PortStatus) bool {
	return p.Attached && p.Since.Equal(a.since) && p.Peer == a.peer
}

// checkDrops says which of port's drop counters rose since before more
// than the injected frames' own drops (own, the hub's count) account for:
// frames the hub forwarded to the port meanwhile, which warn is told of.
// The hub counts an injected frame's drop when it takes the frame; one it
// queued for the VM and threw away when the VM left is port-down on the
// port alone. Comparing the port's attachment at the end with was, the one
// the injection started with, tells those apart from forwarded frames
// that found no VM:
//   - the same attachment: port-down beyond own was forwarded frames (a
//     warning);
//   - another one (the VM left and came back): it left while the injection
//     went on (an injected frame after it would have been own port-down
//     otherwise), so port-down beyond own fails: some may be injected
//     frames it had not read yet;
//   - none, and own port-down: it left while the injection went on; fails
//     as above;
//   - none otherwise: the VM left after the hub took the last injected
//     frame, maybe once it read them all (the probe's last frame powered
//     it off), maybe not; the hub counts what it threw away, not whose, so
//     port-down beyond own is a warning that says it cannot tell.
func checkDrops(ctx context.Context, c *control.Client, port string, was attachment, before map[string]uint64, own map[string]int, warn func(string)) error {
	ports, err := c.Ports(ctx)
	if err != nil {
		return fmt.Errorf("inject into %q: after sending: %w", port, err)
	}
	i := slices.IndexFunc(ports, func(p control.PortStatus) bool { return p.Name == port })
	if i < 0 {
		return fmt.Errorf("inject into %q: the port is gone", port)
	}
	p := ports[i].PortStatus
	after := p.Stats.Drops
	down := hub.DropDown.String()
	gone := !was.is(p)
	var rose []string
	total := uint64(0)
	for _, r := range slices.Sorted(maps.Keys(after)) {
		n := after[r] - before[r]
		if m := uint64(max(own[r], 0)); n > m && !(gone && r == down) {
			rose = append(rose, fmt.Sprintf("%s=%d", r, n-m))
			total += n - m
		}
	}
	if len(rose) > 0 && warn != nil {
		warn(fmt.Sprintf("port %s's drop counters rose by %d more than the injection's own drops (frames forwarded to it meanwhile): %s",
			port, total, strings.Join(rose, " ")))
	}
	n, m := after[down]-before[down], uint64(max(own[down], 0))
	if !gone || n <= m {
		return nil
	}
	n -= m
	frames := plural(int(n), "frame", "frames")
	if m > 0 { // injected frames found no VM: it left while the injection went on
		return fmt.Errorf("inject into %q: its VM went away: %d of the frames sent found no VM on the port (port-down), and the port dropped %d more %s as it had no VM, some maybe injected frames it had not read yet",
			port, m, n, frames)
	}
	if p.Attached {
		return fmt.Errorf("inject into %q: its VM went away and came back (peer %s since %s): the port dropped %d %s as it had no VM (port-down), some maybe injected frames it had not read yet",
			port, p.Peer, p.Since.Format(time.RFC3339), n, frames)
	}
	if warn != nil {
		warn(fmt.Sprintf("port %s's VM went away after the hub took the injected frames: the port dropped %d %s as it had no VM (port-down); the hub cannot tell whether injected frames the VM had not read yet are among them",
			port, n, frames))
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
