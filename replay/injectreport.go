package replay

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"l2hub/control"
	"l2hub/hub"
)

// InjectReport: what Inject did and how well it kept time. It counts what
// was sent and left out, cuts itself back to the frames a hub took
// (tookByHub), keeps the drift's worst and a bounded, seeded sample for
// its median (driftStats), and says itself in a line (String) and in
// warnings (Warnings).

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
	// flowDropped: Dropped came with the hub's ErrInjectDropped, whose
	// words say them (InjectInto returns it), so Warnings does not.
	flowDropped bool
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
	if n := dropTotal(r.Dropped); n > 0 && !r.flowDropped {
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
