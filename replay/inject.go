package replay

import (
	"context"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"time"

	"l2hub/capture"
	"l2hub/control"
	"l2hub/hub"
	"l2hub/internal/wallclock"
)

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

// InjectReport is what Inject did and how well it kept time. Drift is how
// late a frame left, from its deadline (start + offset) to the moment send
// returned it.
type InjectReport struct {
	Frames  int           `json:"frames"`  // sent
	Bytes   int64         `json:"bytes"`   // sent
	Skipped int           `json:"skipped"` // egress copies and frames other ports or MACs sent
	Loops   int           `json:"loops"`   // passes completed or begun
	Elapsed time.Duration `json:"elapsed_ns"`
	// Median and Worst are the frames' drift; WorstFrame (from 1, counting
	// every frame sent) is the frame that drifted most.
	Median     time.Duration `json:"median_drift_ns"`
	Worst      time.Duration `json:"worst_drift_ns"`
	WorstFrame int           `json:"worst_frame"`
	Paced      bool          `json:"paced"`             // false when sent as fast as possible: drift is then just how long sending took
	Shortened  int           `json:"gaps_shortened"`    // waits Pacing.MaxGap shortened
	Input      *InputError   `json:"stopped,omitempty"` // where reading stopped early, if it did
	// Back counts, in recorded timing, the frames stamped before the frame
	// before them (the capture's clock ran backwards): each was sent right
	// after that frame, and the frames after it kept their recorded
	// spacing from it. MostBack is the most one of them was stamped before.
	Back     int           `json:"back,omitempty"`
	MostBack time.Duration `json:"most_back_ns,omitempty"`
	// Untimed counts, in recorded timing, the frames of pcapng Simple
	// Packet Blocks, which carry no time: each was sent right after the
	// frame before it (or at the start), and the frames after it kept
	// their spacing from the last stamped one.
	Untimed int `json:"untimed,omitempty"`
	// Dropped counts, by reason (hub.DropReason's names), the injected
	// frames the port dropped rather than queue for its VM, as the hub
	// answered (InjectInto).
	Dropped map[string]int `json:"dropped,omitempty"`
	// Cut counts the frames sent from records cut short (a snaplen: the
	// record's length on the wire is more than the bytes it holds). They
	// went at their length on the wire, the missing bytes zero, as replay
	// gives them to the hub, except CutTooLong of them, which claimed more
	// than hub.DefaultMaxFrame bytes and went as recorded.
	Cut        int `json:"cut,omitempty"`
	CutTooLong int `json:"cut_too_long,omitempty"`
	// Runts and Oversize count the records not sent because the hub would
	// refuse them and end the injection: shorter than an Ethernet header
	// even at their length on the wire, or longer than
	// control.MaxInjectFrame.
	Runts    int `json:"runts,omitempty"`
	Oversize int `json:"oversize,omitempty"`

	totals []int64 // Bytes after each of the last inFlight frames, frame k's at (k-1)%inFlight
}

// inFlight bounds the frames whose byte totals a report keeps to be cut
// back to the frames a hub took (tookByHub): far more than the stream's
// buffers (a socket's, the hub's 64 KiB reader) hold of the smallest
// frames, 18 bytes each with their length.
const inFlight = 1 << 16

// sent counts a frame of n bytes sent.
func (r *InjectReport) sent(n int) {
	r.Frames++
	r.Bytes += int64(n)
	if len(r.totals) < inFlight {
		r.totals = append(r.totals, r.Bytes)
	} else {
		r.totals[(r.Frames-1)%inFlight] = r.Bytes
	}
}

// tookByHub cuts the report back to the first n frames sent: a hub that
// refused a frame took n, and the frames sent after the refused one were
// still in flight. Bytes is then theirs, unless more than inFlight frames
// were in flight, when it counts those beyond the window too.
func (r *InjectReport) tookByHub(n int) {
	if n < 0 || n >= r.Frames {
		return
	}
	switch oldest := max(r.Frames-len(r.totals), 0) + 1; {
	case n == 0:
		r.Bytes = 0
	case n >= oldest:
		r.Bytes = r.totals[(n-1)%inFlight]
	default:
		r.Bytes = r.totals[(oldest-1)%inFlight]
	}
	r.Frames = n
}

// Warnings are what the report says about the capture that the user
// should know: its clock ran backwards, records were cut short, or some
// were not sent. One line each, without a prefix.
func (r *InjectReport) Warnings() []string {
	var ws []string
	if r.Back > 0 {
		ws = append(ws, fmt.Sprintf("%d %s stamped before the frame before %s, by up to %s: the capture's clock ran backwards; "+
			"each was sent right after the frame before it, and the frames after it kept their recorded spacing from it",
			r.Back, plural(r.Back, "frame is", "frames are"), plural(r.Back, "it", "them"), r.MostBack))
	}
	if r.Untimed > 0 {
		ws = append(ws, fmt.Sprintf("%d %s no time (pcapng Simple Packet Blocks): each was sent right after the frame before it, or at the start",
			r.Untimed, plural(r.Untimed, "frame carries", "frames carry")))
	}
	if r.Cut > 0 {
		w := fmt.Sprintf("%d of the frames sent were cut short when captured (a snaplen: serve --snaplen, tcpdump -s, editcap -s or -C): "+
			"each was sent at its length on the wire, the bytes the capture lacks as zeros", r.Cut)
		if r.CutTooLong > 0 {
			w += fmt.Sprintf("; %d of them claim more than %d bytes and were sent as recorded", r.CutTooLong, hub.DefaultMaxFrame)
		}
		ws = append(ws, w)
	}
	if n := dropTotal(r.Dropped); n > 0 {
		ws = append(ws, fmt.Sprintf("the port dropped %d of the frames sent rather than queue %s for its VM: %s",
			n, plural(n, "it", "them"), dropList(r.Dropped)))
	}
	if r.Runts > 0 || r.Oversize > 0 {
		var why []string
		if r.Runts > 0 {
			why = append(why, fmt.Sprintf("%d shorter than an Ethernet header (%d bytes)", r.Runts, hub.EthHeaderLen))
		}
		if r.Oversize > 0 {
			why = append(why, fmt.Sprintf("%d longer than %d bytes, the most a hub takes", r.Oversize, control.MaxInjectFrame))
		}
		ws = append(ws, fmt.Sprintf("%d %s not sent, as the hub would refuse %s: %s", r.Runts+r.Oversize,
			plural(r.Runts+r.Oversize, "record was", "records were"), plural(r.Runts+r.Oversize, "it", "them"), strings.Join(why, ", ")))
	}
	return ws
}

func (r *InjectReport) String() string {
	s := fmt.Sprintf("sent %d frames (%d bytes) in %s", r.Frames, r.Bytes, r.Elapsed.Round(time.Microsecond))
	if r.Loops > 1 {
		s += fmt.Sprintf(" over %d passes", r.Loops)
	}
	if r.Skipped > 0 {
		s += fmt.Sprintf(", skipped %d", r.Skipped)
	}
	if r.Frames > 0 && r.Paced {
		s += fmt.Sprintf("; drift from schedule: median %s, worst %s (frame %d)", r.Median, r.Worst, r.WorstFrame)
	}
	if r.Shortened > 0 {
		s += fmt.Sprintf("; %d of the gaps shortened", r.Shortened)
	}
	return s
}

// dropTotal adds up drops by reason.
func dropTotal(d map[string]int) int {
	n := 0
	for _, v := range d {
		n += v
	}
	return n
}

// dropList says drops by reason, in the order of their names: policy=3.
func dropList(d map[string]int) string {
	var out []string
	for _, r := range slices.Sorted(maps.Keys(d)) {
		out = append(out, fmt.Sprintf("%s=%d", r, d[r]))
	}
	return strings.Join(out, " ")
}

// maxDriftSamples bounds the drifts kept for the median; past it a
// reservoir sample (seeded, so deterministic) stands for the rest.
const maxDriftSamples = 1 << 20

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

func (r *InjectReport) finish(elapsed time.Duration, d *driftStats) {
	r.Elapsed = elapsed
	r.Median, r.Worst, r.WorstFrame = d.result()
}

// driftStats keeps the worst drift and a bounded sample for the median.
type driftStats struct {
	samples    []time.Duration
	n          int
	worst      time.Duration
	worstFrame int
	rng        *rand.Rand
}

func (d *driftStats) add(v time.Duration, frame int) {
	if d.n == 0 || v > d.worst {
		d.worst, d.worstFrame = v, frame
	}
	d.n++
	if len(d.samples) < maxDriftSamples {
		d.samples = append(d.samples, v)
		return
	}
	if i := d.rng.IntN(d.n); i < maxDriftSamples {
		d.samples[i] = v
	}
}

func (d *driftStats) result() (median, worst time.Duration, frame int) {
	if len(d.samples) == 0 {
		return 0, 0, 0
	}
	s := slices.Clone(d.samples)
	slices.Sort(s)
	return s[len(s)/2], d.worst, d.worstFrame
}
