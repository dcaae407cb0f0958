package replay

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"l2hub/capture"
	"l2hub/control"
	"l2hub/hub"
	"l2hub/internal/wallclock"
)

// Inject: a capture's frames, chosen (--from, --from-mac) and rewritten,
// handed to a send function each at its time. Before anything is sent,
// checkSelection makes sure there is a frame to send; the times come from
// the Pacing (pacing.go), and what was sent and how well it kept time go
// to the InjectReport (injectreport.go). InjectInto (live.go) sends them
// to a running hub.

// InjectConfig says what to inject and how.
type InjectConfig struct {
	Input Input
	// From keeps only the frames of one port of an l2hub capture (an
	// interface name) or of one foreign input's interface; "" keeps all.
	From string
	// FromMAC, when set, keeps only frames with this source MAC.
	FromMAC *[6]byte
	Pacing  Pacing
	// Loop sends the capture this many times (0 means once); in recorded
	// timing each pass starts when the previous one's last frame was sent.
	Loop    int
	Rewrite *Rewriter
	// Clock is what frames are scheduled against; nil is the wall clock.
	Clock hub.Clock
	// Spin is how long before a deadline Inject stops waiting for a timer
	// and polls the clock instead: the system's timers wake up to a
	// millisecond late. 0 means DefaultSpin; negative never spins. Only for
	// a nil Clock: a virtual clock's timers are exact.
	Spin     time.Duration
	MaxBlock int

	// links, when set, says whether a foreign input holds several links
	// (withLinks).
	links *links
	// checked: checkSelection found a frame to send (InjectInto asked
	// first, before the hub), and Inject need not read for one again.
	checked bool
}

// Inject reads cfg.Input and calls send with each frame at its scheduled
// time, measured from the first frame: start + offset, never the previous
// frame's time plus a gap, so a late frame does not delay the next ones.
// send must not retain frame. A record cut short by a snaplen is sent at
// its length on the wire (frameOf); one the hub would refuse, ending the
// stream, is counted and left out. Reading stops at a broken record (the
// frames before it are sent, and the report says where); send's error
// stops Inject.
func Inject(ctx context.Context, cfg InjectConfig, send func(frame []byte) error) (*InjectReport, error) {
	if err := cfg.Pacing.validate(); err != nil {
		return nil, err
	}
	if err := checkLoop(cfg); err != nil {
		return nil, err
	}
	cfg = withLinks(cfg)
	if err := checkSelection(ctx, cfg); err != nil {
		return nil, err
	}
	clock, spin := cfg.Clock, time.Duration(0)
	if clock == nil {
		clock, spin = wallclock.Clock{}, cfg.Spin
		if spin == 0 {
			spin = DefaultSpin
		}
		spin = max(spin, 0)
	}
	loops := max(cfg.Loop, 1)
	p := cfg.Pacing
	rep := &InjectReport{Paced: p.Speed > 0 || p.PPS > 0 || p.BPS > 0}
	dr := driftStats{rng: rand.New(rand.NewPCG(1, 2))}
	var (
		sch     = scheduler{pacing: cfg.Pacing}
		start   time.Time
		started bool
		held    *hub.Frame // the frame being sent (frameOf's are pooled)
		noRun   *run       // frameOf reads nothing of its run
		sel     selection  // what --from and --from-mac did not keep
		kept    bool       // a frame was
	)
	elapsed := func() time.Duration {
		if !started {
			return 0
		}
		return clock.Now().Sub(start)
	}
	defer func() {
		if held != nil {
			held.Release()
		}
	}()
	for pass := 0; pass < loops; pass++ {
		src, err := openSource(ctx, 0, cfg.Input, cfg.MaxBlock, nil)
		if err != nil {
			if ctx.Err() != nil {
				err = context.Cause(ctx)
			}
			rep.finish(elapsed(), &dr)
			return rep, err
		}
		rep.Loops++
		sch.newPass()
		for src.advance() {
			p := &src.head
			if !keep(src, p, cfg) {
				sel.saw(src, p, cfg)
				rep.Skipped++
				continue
			}
			kept = true
			// A record cut short (a snaplen) goes at its length on the
			// wire, the bytes the capture lacks as zeros, as replay gives
			// it to the hub; one the hub would refuse, ending the stream,
			// is not sent.
			cut, long := src.cut, src.long
			f := noRun.frameOf(src, p)
			frame := f.Bytes()
			if len(frame) < hub.EthHeaderLen || len(frame) > control.MaxInjectFrame {
				if len(frame) < hub.EthHeaderLen {
					rep.Runts++
				} else {
					rep.Oversize++
				}
				f.Release()
				continue
			}
			held = f
			off, err := sch.next(p.Time, len(frame))
			rep.Shortened, rep.Back, rep.MostBack, rep.Untimed = sch.shortened, sch.back, sch.mostBack, sch.untimed
			if err != nil {
				src.close()
				rep.finish(elapsed(), &dr)
				return rep, fmt.Errorf("frame %d (%s packet %d): %w", rep.Frames+1, cfg.Input.Path, p.Number, err)
			}
			if !started {
				start, started = clock.Now(), true
			}
			deadline := start.Add(off)
			if err := waitUntil(ctx, clock, deadline, spin); err != nil {
				src.close()
				rep.finish(clock.Now().Sub(start), &dr)
				return rep, err
			}
			cfg.Rewrite.Rewrite(frame)
			err = send(frame)
			held.Release()
			held = nil
			if err != nil {
				src.close()
				rep.finish(clock.Now().Sub(start), &dr)
				return rep, fmt.Errorf("frame %d (%s packet %d): %w", rep.Frames+1, cfg.Input.Path, p.Number, err)
			}
			rep.sent(len(frame))
			rep.Cut += src.cut - cut
			rep.CutTooLong += src.long - long
			dr.add(clock.Now().Sub(deadline), rep.Frames)
		}
		src.close()
		if ctx.Err() != nil { // it closed the input: the read's error is no news
			rep.finish(elapsed(), &dr)
			return rep, context.Cause(ctx)
		}
		if e, ok := src.err.(*InputError); ok && rep.Input == nil {
			rep.Input = e
		}
		if !sch.inPass { // nothing to send: further passes would send nothing either
			break
		}
	}
	rep.finish(elapsed(), &dr)
	if !kept && (cfg.From != "" || cfg.FromMAC != nil) {
		return rep, sel.err(cfg) // an input read once, which checkSelection did not read
	}
	if rep.Frames == 0 && rep.Input == nil {
		return rep, nothingSent(cfg.Input.Path, rep)
	}
	return rep, nil
}

// nothingSent is the error of an injection of a capture that holds no
// frame to send: empty, only egress copies of an l2hub capture (what its
// ports received), or records the hub would refuse.
func nothingSent(path string, rep *InjectReport) error {
	var what []string
	if rep.Skipped > 0 {
		what = append(what, fmt.Sprintf("%d egress %s (what the ports received, not what a VM sent)", rep.Skipped, plural(rep.Skipped, "copy", "copies")))
	}
	if n := rep.Runts + rep.Oversize; n > 0 {
		what = append(what, fmt.Sprintf("%d %s the hub would refuse (shorter than %d bytes or longer than %d)", n, plural(n, "record", "records"), hub.EthHeaderLen, control.MaxInjectFrame))
	}
	if len(what) == 0 {
		return fmt.Errorf("%w: %s holds no frames", ErrNoMatch, path)
	}
	return fmt.Errorf("%w: %s holds no frame a VM sent, only %s", ErrNoMatch, path, strings.Join(what, " and "))
}

// keep says whether a packet is one to inject: never an egress copy of an
// l2hub capture, and only from the chosen port or MAC.
func keep(src *source, p *capture.Packet, cfg InjectConfig) bool {
	if src.l2hub && p.Dir == capture.DirOut {
		return false
	}
	if cfg.From != "" && !slices.Contains(fromNames(src, p, cfg), cfg.From) {
		return false
	}
	if cfg.FromMAC != nil && (len(p.Data) < 12 || [6]byte(p.Data[6:12]) != *cfg.FromMAC) {
		return false
	}
	return true
}

// fromNames are the names --from may give p's port by: an l2hub
// capture's interface; a foreign input's port as replay names it
// (foreignPortName), first, and, when that is the file's name (it holds
// one link), the interface's if_name too, unless a port of an l2hub
// section of the input has that name (links.l2hubPort): that port's, as
// replay names it, the name never picks out the frames of two links.
func fromNames(src *source, p *capture.Packet, cfg InjectConfig) []string {
	if src.l2hub {
		if cfg.links != nil {
			cfg.links.l2hubFrame(p.IfName)
		}
		return []string{p.IfName}
	}
	ifc := capture.Interface{Name: p.IfName}
	several := cfg.links != nil && cfg.links.of(src)
	name := foreignPortName(src.in, several, ifc, p.Interface)
	if !several && p.IfName != "" && p.IfName != name && !cfg.links.l2hubPort(p.IfName) {
		return []string{name, p.IfName}
	}
	return []string{name}
}

// withLinks returns cfg ready to say, when --from is given, whether a
// foreign input holds several links (links), so that --from names its
// ports as replay does.
func withLinks(cfg InjectConfig) InjectConfig {
	if cfg.From != "" && cfg.links == nil {
		cfg.links = newLinks(cfg.Input, cfg.MaxBlock)
	}
	return cfg
}

// maxListed bounds the ports or MACs an ErrNoMatch lists.
const maxListed = 16

// checkLoop refuses to send an input that can be read only once (a pipe,
// a named pipe, a device) more than once.
func checkLoop(cfg InjectConfig) error {
	if cfg.Loop > 1 && cfg.Input.readOnce() {
		return fmt.Errorf("%s is not a regular file (a pipe, a named pipe, a device): it can be read once, not sent %d times (--loop); save it to a file first",
			cfg.Input.Path, cfg.Loop)
	}
	return nil
}

// checkSelection reads cfg.Input up to the first frame the injection
// would send, and fails when there is none, before anything is sent (and
// before the hub is asked): ErrNoMatch naming the ports and source MACs
// the capture has when --from or --from-mac keep none of its frames,
// nothingSent when it holds no frame to send. An input that can be read
// only once (a pipe) is not read here: what this read took would be
// missing from the injection, which says so at its end instead; nor is
// one whose reading stops at a broken record before such a frame, the
// injection says where.
func checkSelection(ctx context.Context, cfg InjectConfig) error {
	if cfg.checked || cfg.Input.readOnce() {
		return nil
	}
	cfg = withLinks(cfg)
	src, err := openSource(ctx, 0, cfg.Input, cfg.MaxBlock, nil)
	if err != nil {
		return err
	}
	defer src.close()
	var (
		sel  selection
		rep  InjectReport // what nothingSent says
		kept bool
	)
	for src.advance() {
		p := &src.head
		if !keep(src, p, cfg) {
			sel.saw(src, p, cfg)
			rep.Skipped++
			continue
		}
		kept = true
		switch n, _, _ := frameLen(p); {
		case n < hub.EthHeaderLen:
			rep.Runts++
		case n > control.MaxInjectFrame:
			rep.Oversize++
		default:
			return nil
		}
	}
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	if !kept && (cfg.From != "" || cfg.FromMAC != nil) {
		return sel.err(cfg)
	}
	if src.err != nil {
		return nil
	}
	return nothingSent(cfg.Input.Path, &rep)
}

// selection lists the ports and source MACs of the frames --from and
// --from-mac did not keep, for ErrNoMatch.
type selection struct {
	ports, macs []string        // in the order first seen
	seen        map[string]bool // "port "+name, "mac "+mac
}

// saw notes p, a frame not kept: egress copies of an l2hub capture aside,
// which no port sent.
func (sel *selection) saw(src *source, p *capture.Packet, cfg InjectConfig) {
	if src.l2hub && p.Dir == capture.DirOut {
		return
	}
	name := fromNames(src, p, cfg)[0]
	if sel.seen == nil {
		sel.seen = map[string]bool{}
	}
	if !sel.seen["port "+name] {
		sel.seen["port "+name] = true
		sel.ports = append(sel.ports, name)
	}
	if len(p.Data) >= 12 {
		if m := macString([6]byte(p.Data[6:12])); !sel.seen["mac "+m] {
			sel.seen["mac "+m] = true
			sel.macs = append(sel.macs, m)
		}
	}
}

// err is ErrNoMatch for the capture of cfg, whose frames sel saw.
func (sel *selection) err(cfg InjectConfig) error {
	ports, macs := sel.ports, sel.macs
	var what []string
	if cfg.From != "" {
		what = append(what, "--from "+cfg.From)
	}
	if cfg.FromMAC != nil {
		what = append(what, "--from-mac "+macString(*cfg.FromMAC))
	}
	return fmt.Errorf("%w: %s: %s keeps none of its frames (its frames come from ports %s; source MACs %s)",
		ErrNoMatch, cfg.Input.Path, strings.Join(what, " with "), listed(ports), listed(macs))
}

// listed joins the first maxListed of xs, saying how many more there are.
func listed(xs []string) string {
	if len(xs) == 0 {
		return "none"
	}
	if len(xs) > maxListed {
		return strings.Join(xs[:maxListed], ", ") + fmt.Sprintf(" and %d more", len(xs)-maxListed)
	}
	return strings.Join(xs, ", ")
}
