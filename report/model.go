package report

import (
	"fmt"
	"io"
	"time"
)

// The Model is what Build makes of a run and what WriteHTML draws: its
// lifelines, frames with their deliveries and drops, groups, bands, markers
// and findings. This file holds its types and the methods a caller reads it
// with; build.go makes it.

// Model is the ladder diagram of one capture, ready to draw.
type Model struct {
	Title    string
	Capture  string        // the capture's file name
	Start    time.Time     // time zero: the hub's start (the capture header's), else the first frame's
	Duration time.Duration // from Start to the last frame or marker
	Records  int           // capture records read
	Ports    []Port
	// Frames are in capture order of the records they stand for; in a
	// capture of egress only, in the order they were sent.
	Frames   []Frame
	Groups   []Group
	Bands    []Band
	Markers  []Marker // in time order, then port, then line
	Check    *CheckSummary
	Findings []Finding // as the checker orders them: failures first
	// Inferred says the deliveries were not recorded but inferred from
	// MAC addresses: a capture without egress points (a foreign one
	// without egress records, or an l2hub one of ingress only).
	Inferred bool
	Warnings []string
	// Stopped is where reading the capture stopped before its end (a
	// *capture.ReadError; errors.Is capture.ErrTruncated when the capture
	// is merely cut short, as by a killed writer), nil when it was read
	// to its end or to Limits.MaxFrames. The page draws the frames before
	// it, and Warnings says so.
	Stopped error

	at []ref // capture frame number -> what draws it
	// corruptCompares counts the frames corrupted copies were compared
	// with (a test's measure of the work matching them does).
	corruptCompares int
	// bandVisits counts the bands deliveries were checked against (a
	// test's measure of the work bands does).
	bandVisits int
}

// Port is a lifeline.
type Port struct {
	Name        string
	Description string // transport and address, from the capture
	Consoles    []string
}

// Frame is one arrow: a frame one port sent, and what became of it.
type Frame struct {
	// Number is the capture's number of the record the arrow stands for:
	// the ingress record (what the sender sent); 0 when the capture has
	// none (a frame the hub made, such as an injected one, and every frame
	// of a capture of egress only).
	Number  int
	Time    time.Duration // since Model.Start
	From    int           // index into Ports; -1 for the hub itself
	Label   Label
	Len     int    // bytes on the wire
	Data    []byte // the first Limits.HexBytes bytes (64 once Limits.MaxHexTotal is spent)
	Comment string // the ingress record's comment
	// Deliveries are the copies ports received, in capture order.
	Deliveries []Delivery
	// Drops are the links the frame was dropped on, with the reasons.
	Drops []Drop
	// More counts the records of this frame past the maxPerFrame
	// deliveries, drops or copies it keeps of each (a crafted capture's
	// thousands of duplicates), or past Limits.MaxArrows: counted, not
	// drawn.
	More int
	sum  uint64 // contentHash of the whole frame, as sent
	// Copies are the numbers of further records of this same frame (a
	// multicast loopback echo in a per-VM file).
	Copies []int
	// Injected: the hub injected this frame (l2hub inject, the control
	// API), as its record's comment says; From is -1 and Number 0.
	Injected bool
	// copies: the frame stands for the copies of a capture of egress
	// only (Number 0), which join it by their bytes and time; its sender
	// is told from its source MAC (senders). garbled: its bytes are a
	// corrupted copy's whose notes do not say which bits were flipped, so
	// its source MAC tells no sender.
	copies, garbled bool

	Group    int   // index into Model.Groups; -1 when drawn alone
	Findings []int // indices into Model.Findings citing this frame
}

// DeliveryKind says how a delivery differs from an immediate, faithful one.
type DeliveryKind uint8

const (
	Delayed   DeliveryKind = 1 << iota // a delay or rate rule held it
	Duplicate                          // a copy a duplicate rule made
	Reordered                          // it overtook a frame sent before it on its link
	Corrupted                          // its bytes differ from what was sent
	Inferred                           // not recorded: inferred from MAC addresses
	Injected                           // the hub injected it (l2hub inject, the control API): no port sent it
)

// Delivery is one port's copy of a frame.
type Delivery struct {
	Number int // the egress record; 0 when Inferred
	To     int // index into Ports
	Time   time.Duration
	Kind   DeliveryKind
	// guessed: a corrupted copy joined to the frame its bytes differ
	// least from (its notes do not say which bits were flipped).
	guessed bool
	Comment string
	Data    []byte // its first bytes, when Corrupted
	// Overtook is the number of a frame sent earlier on the same link
	// that arrived after this one (0 if none).
	Overtook int
}

// Drop is one link the frame did not cross.
type Drop struct {
	To     int    // index into Ports; -1 when the reason names no link
	Number int    // the record that says so
	Reason string // "rule loss-a: drop (p=0.05 draw=0.0213)"
	Rule   string
	Action string // drop, partition, down, mtu, queue-full, ...
	// band is, for a partition or link-down drop, 1 + the index of what
	// its note names in builder.bandKeys; 0 for any other drop, or one past
	// maxBands of them.
	band int32
	// kind is what the rules did to a copy dropped at egress before it
	// was dropped (a delay, a corruption): such a drop is drawn alone, as
	// such a delivery is. guessed is Delivery.guessed.
	kind    DeliveryKind
	guessed bool
	// at is when a copy was dropped at egress (a delayed one lost to a
	// partition during its wait): 0 for a drop when the frame was sent.
	at time.Duration
}

// maxRuleText bounds a rule's name as a drop keeps it.
const maxRuleText = 128

// Group is a run of alike frames from one sender drawn as one arrow.
type Group struct {
	From        int
	Label       string
	Frames      []int // indices into Model.Frames, in order
	Start, End  time.Duration
	To          []int  // the receivers every member reached
	Drop        string // the reason every member was dropped for, if any
	First, Last int    // capture numbers
}

// Band is a window in which a partition or a link set down cut some
// lifelines, as the drops it caused show it.
type Band struct {
	Kind  string // "partition" or "down"
	Name  string // the partition's or schedule's name
	Spec  string // "a|b", "port b"
	Ports []int
	// Start and End are the first and last drop it caused; Healed the
	// first delivery across it after them (0: none before the capture
	// ends), HealedAt its time. A band the control API made that dropped
	// nothing has Drops 0, Start and End at Began, and First and Last 0.
	Start, End  time.Duration
	Drops       int
	First, Last int // capture numbers of the first and last drop
	Healed      int
	HealedAt    time.Duration
	// Control: the control API started it at Began and, when Ended > 0,
	// ended it at Ended, as the capture records (filter.Edit): its edges
	// are exact, not the drops'.
	Control      bool
	Began, Ended time.Duration
}

// Finding is one of the checker's findings.
type Finding struct {
	ID      string
	Verdict string // pass, info, warn, fail
	Title   string // what the check asks
	Message string
	Frames  []int // capture numbers it cites
	Count   int
	Pins    []int // indices into Model.Frames
}

// CheckSummary is the checker's verdict.
type CheckSummary struct {
	Profile                string
	OK                     bool
	Fail, Warn, Pass, Info int
	Error                  string // reading stopped early
}

// ref says where a capture record is drawn.
type ref struct {
	frame    int32 // index into Frames, -1 for none
	delivery int32 // index into its Deliveries; -1 for the frame's own record
}

// FrameAt returns the index of the frame that draws capture record number
// n, and of its delivery (-1 for the frame's own record); ok is false for a
// record not drawn.
func (m *Model) FrameAt(n int) (frame, delivery int, ok bool) {
	if n <= 0 || n >= len(m.at) || m.at[n].frame < 0 {
		return -1, -1, false
	}
	return int(m.at[n].frame), int(m.at[n].delivery), true
}

// WriteSummary writes one line of what the page draws ("412 frames, 2
// ports, 9 groups, 1 bands, 14 markers", and the check's verdict). The
// warnings are in Warnings.
func (m *Model) WriteSummary(w io.Writer) error {
	fmt.Fprintf(w, "%d frames, %d ports, %d groups, %d bands, %d markers",
		len(m.Frames), len(m.Ports), len(m.Groups), len(m.Bands), len(m.Markers))
	if m.Check != nil {
		verdict := "pass"
		if !m.Check.OK {
			verdict = "FAIL"
		}
		fmt.Fprintf(w, ", %s check %s (%d findings)", m.Check.Profile, verdict, len(m.Findings))
	}
	_, err := fmt.Fprintln(w)
	return err
}
