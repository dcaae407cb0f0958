package report

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"l2hub/capture"
	"l2hub/conformance/checker"
	"l2hub/filter"
	"l2hub/hub"
)

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

type builder struct {
	opts   Options
	lim    Limits
	m      *Model
	lab    *labeller
	ports  map[string]int
	recent map[uint64][]int32 // content hash -> frames that may still be delivered
	sized  map[int][]int32    // length on the wire -> the newest frames of it (corruptRecent), for corrupted copies
	links  map[int32]*frameLinks
	// egress says the capture records deliveries: its l2hub header
	// declares egress points, or it has egress records. Without, they are
	// inferred from MAC addresses.
	egress bool
	// l2hub: the capture's section header is an l2hub one, whose
	// interfaces are the hub's ports, frames or not; directed: it has
	// records with a direction, whose interfaces are ports too.
	l2hub, directed bool
	// egressOnly: its l2hub header says it records egress only
	// (--capture-points egress): no frame has an ingress record.
	// hubMode: its header says the hub flooded every frame (mode=hub),
	// so where a frame went says nothing of where its MAC was learned.
	egressOnly, hubMode bool
	// In a capture of egress only: unsorted says a frame was made with a
	// time before an earlier one's (a copy held for its whole way, drawn
	// when it was sent), lastSent is the latest frame time so far, and
	// heldAmbiguous counts the held copies that could belong to several
	// frames (their notes do not say how long they waited).
	unsorted      bool
	lastSent      time.Duration
	heldAmbiguous int
	macPort       map[[6]byte]int
	// ifacePort is the lifeline of each interface (section, ID); byName
	// the first lifeline of each interface name, which an interface of
	// that name in a later section continues (a capture streamed through
	// a policy change starts a section with the same ports).
	ifacePort map[[2]int]int
	byName    map[string]int
	section   []int // the last section whose interface each lifeline is
	// edits are the changes made through the control API that the
	// capture records (at most maxEdits).
	edits []recordedEdit
	peers []recordedPeer // the VM attaches and detaches the capture records (at most maxEdits)
	// runStart is the hub's start, which edits count from (the capture's
	// header says it); zero when it does not.
	runStart time.Time
	kept     map[string]string // keep's strings
	notesCut int               // comments with more than maxNotes notes
	// bandKeys are the partitions and links set down the drops' notes
	// name (at most maxBands), bandIDs their indices + 1, drawnKeys the
	// one of each band bands() drew: what tells bands apart, kept whole
	// whatever Limits.MaxText leaves of their names.
	bandKeys  []bandKey
	bandIDs   map[bandKey]int32
	drawnKeys []int32
	// What is left of Limits.MaxText, MaxArrows and MaxHexTotal, and what
	// was cut for want of it (and of maxPerFrame).
	textLeft, arrowsLeft, hexLeft      int
	commentLeft                        int // comments' share of textLeft
	commentsCut, reasonsCut, arrowsCut int
	bandsCut, markersCut               int
	hexCut, perFrameCut                int
}

// bandKey is what a partition or link-down note names: its action
// ("partition", "down"), rule and detail (a partition's spec "a,b|c",
// "port b"), cleaned as a drop's are.
type bandKey struct{ action, rule, detail string }

// bandOf returns the band id (Drop.band) of the partition or link-down
// note n: 0 once maxBands distinct ones are known.
func (b *builder) bandOf(n note) int32 {
	k := bandKey{action(n.Action), cleanText(n.Rule, maxRuleText), cleanText(n.Detail, b.lim.MaxComment)}
	if id, ok := b.bandIDs[k]; ok {
		return id
	}
	if len(b.bandKeys) == maxBands {
		return 0
	}
	b.bandKeys = append(b.bandKeys, k)
	b.bandIDs[k] = int32(len(b.bandKeys))
	return int32(len(b.bandKeys))
}

// isBand reports whether a drop's action opens a band.
func isBand(action string) bool { return action == "partition" || action == "down" }

// comment is a record's comment: its whole text, cleaned, which notes are
// read from, and what is shown of it (Limits.MaxComment).
type comment struct{ text, shown string }

// notes reads c's notes, counting a comment with too many.
func (b *builder) notes(c comment) (dropped bool, notes []note) {
	dropped, notes, more := parseComment(c.text)
	if more {
		b.notesCut++
	}
	return dropped, notes
}

// keep returns s as a string of its own, once per distinct text (a
// note's words are cut from a comment of up to maxNoteText bytes, which
// they must not keep alive), charged to Limits.MaxText; ok is false, and
// the string "", once that is spent.
func (b *builder) keep(s string) (kept string, ok bool) {
	if k, ok := b.kept[s]; ok || s == "" {
		return k, true
	}
	cost := textCost(s)
	if cost > b.textLeft {
		return "", false
	}
	b.textLeft -= cost
	s = strings.Clone(s)
	b.kept[s] = s
	return s, true
}

// keepComment is keep for a record's comment, which may take at most
// half of Limits.MaxText: the other half is for what explains the drops
// and the markers (reasons, rule names, bands, control changes, console
// lines), which mostly come after the comments.
func (b *builder) keepComment(s string) (string, bool) {
	if k, ok := b.kept[s]; ok || s == "" {
		return k, true
	}
	if textCost(s) > b.commentLeft {
		return "", false
	}
	k, ok := b.keep(s)
	if ok {
		b.commentLeft -= textCost(s)
	}
	return k, ok
}

// keepOr is keep, with or in place of a text past Limits.MaxText.
func (b *builder) keepOr(s, or string) string {
	if k, ok := b.keep(s); ok {
		return k
	}
	return or
}

// minText is what a band's name and spec, and a marker's text, keep of
// themselves past Limits.MaxText: enough to tell them apart on the page,
// at a cost bounded by the bands and markers there may be.
const minText = 48

// keepShort is keep, with s cut to minText past Limits.MaxText; cut
// counts the texts cut.
func (b *builder) keepShort(s string, cut *int) string {
	if k, ok := b.keep(s); ok {
		return k
	}
	*cut++
	return cleanText(s, minText)
}

// textCost is what a kept text costs: its bytes as the page's JSON
// spells them (<, > and & take six), and its place in the tables.
func textCost(s string) int {
	return len(s) + 5*strings.Count(s, "<") + 5*strings.Count(s, ">") + 5*strings.Count(s, "&") +
		strings.Count(s, `"`) + strings.Count(s, `\`) + 32
}

// reason is how a drop is shown: the note without its link, cut as a
// comment is; past Limits.MaxText, its action alone.
func (b *builder) reason(n note) string {
	if r, ok := b.keep(cleanText(n.Reason(), b.lim.MaxComment)); ok {
		return r
	}
	b.reasonsCut++
	return action(n.Action)
}

// dropReason is how an egress record's drop is shown: its notes' reasons
// joined, cut as a comment is and charged once; past Limits.MaxText, the
// one note's action, or "dropped".
func (b *builder) dropReason(reasons []string, notes []note) string {
	if len(reasons) == 0 {
		return "dropped"
	}
	if r, ok := b.keep(cleanText(strings.Join(reasons, "; "), b.lim.MaxComment)); ok {
		return r
	}
	b.reasonsCut++
	if len(notes) == 1 {
		return action(notes[0].Action)
	}
	return "dropped"
}

// action returns the hub's own string for an action word it writes
// (drop, partition, delay, ...), which costs nothing to keep, and "…" for
// any other.
func action(a string) string {
	if k, ok := actions[a]; ok {
		return k
	}
	return "…"
}

var actions = map[string]string{}

func init() {
	for _, a := range []string{"drop", "partition", "down", "mtu", "overflow", "queue-full", "stalled", "backlog-full", "delay-full",
		"port-down", "oversize", "delay", "queue", "duplicate", "reorder", "corrupt"} {
		actions[a] = a
	}
}

// maxSinceStart is how long after the hub's start a capture's first record
// may come and still have time zero at the start: 100 days, within the 2^53
// ns (104 days) the page's numbers hold exactly.
const maxSinceStart = 100 * 24 * time.Hour

const (
	// maxPending bounds the frames remembered per content for matching
	// deliveries: the newest win.
	maxPending = 64
	// corruptRecent bounds the frames of one length a corrupted copy whose
	// note does not say which bits were flipped is compared with.
	corruptRecent = 32
	// maxPerFrame bounds the deliveries, and the drops, one frame keeps:
	// one per port and then some (a frame flooded into a partition has a
	// drop per port across it); duplicates past it are counted.
	maxPerFrame = 2 * DefaultMaxPorts
	// echoWindow: a copy of the frame a VM just sent, in its own file, is
	// the multicast back end's loopback echo (as the checker sees it).
	echoWindow = 10 * time.Millisecond
)

// Build reads opts.Capture, the consoles and (with opts.Check) the
// checker's findings into a Model.
func Build(opts Options) (*Model, error) {
	return BuildContext(context.Background(), opts)
}

// BuildContext is Build, stopped when ctx ends: it then returns ctx's
// cause, whatever it read.
func BuildContext(ctx context.Context, opts Options) (*Model, error) {
	opts, profile, err := opts.prepare()
	if err != nil {
		return nil, err
	}
	f, err := capture.OpenFile(ctx, opts.Capture)
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, context.Cause(ctx)) {
			err = fmt.Errorf("%s: %w", opts.Capture, err) // stopped while a FIFO waited for its writer
		}
		return nil, err
	}
	defer f.Close()
	// A read of a pipe or a FIFO that waits for more is ended by closing it.
	defer context.AfterFunc(ctx, func() { f.Close() })()
	return buildFrom(ctx, opts, profile, f)
}

// prepare checks opts and fills in its defaults, and returns the checker's
// profile (0 for none).
func (opts Options) prepare() (Options, checker.Profile, error) {
	if opts.Capture == "" {
		return opts, 0, ErrNoCapture
	}
	if err := opts.Limits.check(); err != nil {
		return opts, 0, err
	}
	if opts.MinGroup == 0 {
		opts.MinGroup = DefaultMinGroup
	}
	var profile checker.Profile
	if opts.Check != "" {
		p, err := checker.ParseProfile(opts.Check)
		if err != nil {
			return opts, 0, fmt.Errorf("check: %w", err)
		}
		profile = p
	}
	return opts, profile, nil
}

// buildFrom is BuildContext of the capture read from r, with opts
// prepared.
func buildFrom(ctx context.Context, opts Options, profile checker.Profile, r io.Reader) (*Model, error) {
	b := &builder{
		opts:      opts,
		lim:       opts.Limits.withDefaults(),
		m:         &Model{Title: opts.Title, Capture: cleanText(filepath.Base(opts.Capture), 200)},
		lab:       newLabeller(profile == checker.ProfileNoiseXK),
		ports:     map[string]int{},
		ifacePort: map[[2]int]int{},
		byName:    map[string]int{},
		recent:    map[uint64][]int32{},
		sized:     map[int][]int32{},
		links:     map[int32]*frameLinks{},
		macPort:   map[[6]byte]int{},
		kept:      map[string]string{},
		bandIDs:   map[bandKey]int32{},
	}
	b.textLeft, b.arrowsLeft, b.hexLeft = b.lim.MaxText, b.lim.MaxArrows, b.lim.MaxHexTotal
	b.commentLeft = b.lim.MaxText / 2
	if b.m.Title == "" {
		b.m.Title = b.m.Capture
	}
	b.m.Title = cleanText(b.m.Title, 200)
	// The checker reads the capture as the report does, in the same pass:
	// a pipe or a FIFO can be read only once.
	rd := r
	var checked func(ctx context.Context, drain bool) checkResult
	if profile != 0 {
		rd, checked = checkAlongside(r, opts.Capture, profile)
	}
	err := b.read(ctx, rd)
	if ctx.Err() != nil {
		err = context.Cause(ctx)
	}
	var check checkResult
	if checked != nil {
		check = checked(ctx, err == nil)
		if ctx.Err() != nil {
			err = context.Cause(ctx)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", opts.Capture, err)
	}
	b.sortFrames()
	b.heldWarning()
	b.senders()
	b.infer()
	b.cutWarnings()
	b.reorders()
	b.bands()
	b.controlBands()
	if profile != 0 {
		b.findings(check)
	}
	b.groups()
	if err := b.consoles(); err != nil {
		return nil, err
	}
	b.shortWarnings()
	b.duration()
	return b.m, nil
}

func (b *builder) read(ctx context.Context, rd io.Reader) error {
	// A section's interfaces described after its last frame are ports
	// too (see also the end of the input, below).
	var sectionErr error
	section := 0 // the section being read
	sectionEnd := func(s int, ifs []capture.Interface) {
		if (b.l2hub || b.directed) && sectionErr == nil {
			sectionErr = b.addInterfaces(s, ifs)
		}
		section = s + 1
	}
	r, err := capture.NewReader(rd, capture.ReadOptions{SectionEnd: sectionEnd})
	if errors.Is(err, capture.ErrTruncated) {
		// Cut before its first record (a writer killed before it wrote
		// its header out): an empty page that says so, as for a cut later.
		b.warn("the capture is cut short in its file header (%v): it holds no record to draw", err)
		b.m.Stopped = err
		return nil
	}
	if err != nil {
		return err
	}
	if fm, err := capture.ParseMeta(r.Section().Comment); err == nil {
		b.l2hub = true
		if !fm.Start.IsZero() {
			b.m.Start = fm.Start.UTC()
			b.runStart = b.m.Start
		}
		// A capture of every frame dropped has no egress record, yet
		// nothing to infer: the hub recorded each delivery there was.
		b.egress = declares(r.Section().Comment, "points") && fm.Points != capture.PointsIngress
		b.egressOnly = declares(r.Section().Comment, "points") && fm.Points == capture.PointsEgress
		b.hubMode = fm.Extra["mode"] == hub.ModeHub.String()
	}
	b.m.at = []ref{{-1, -1}}
	var last time.Time
	otherLinks := 0
	var missing uint64 // events the capture says it lost
	var leftOut uint64 // annotation lines it says it had no room for
	back, mostBack := 0, time.Duration(0)
	done := ctx.Done()
	for {
		select {
		case <-done:
			return context.Cause(ctx)
		default:
		}
		p, err := r.Next()
		if sectionErr != nil {
			return sectionErr
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			what := "stops"
			if errors.Is(err, capture.ErrTruncated) {
				what = "is cut short"
			}
			b.warn("the capture %s at %v: the report shows the %d records before it", what, err, b.m.Records)
			b.m.Stopped = err
			break
		}
		if b.m.Records == b.lim.MaxFrames {
			b.warn("only the first %d frames are drawn (Limits.MaxFrames)", b.lim.MaxFrames)
			break
		}
		b.m.Records++
		b.m.at = append(b.m.at, ref{-1, -1})
		switch {
		case p.Time.IsZero():
			p.Time = last // a simple packet block has no time
		case p.Time.Before(last):
			// A clock that ran backwards: as replay does, the record is
			// drawn at the time reached, never before the one before it.
			back++
			mostBack = max(mostBack, last.Sub(p.Time))
			p.Time = last
		}
		last = p.Time
		if b.m.Records == 1 && !b.m.Start.IsZero() && p.Time.Sub(b.m.Start) > maxSinceStart {
			// A header's start that far before the frames (a clock set
			// after the hub started, a crafted header) would put every
			// frame past what the page's times hold exactly, or past what
			// a Duration holds, at one point of the axis. A later part of
			// a long run, days after it started, keeps the run's time.
			b.warn("the capture's header says the hub started at %s, more than 100 days before the capture's first record: time zero is that record's time, %s, not the hub's start",
				b.m.Start.Format(time.RFC3339Nano), p.Time.UTC().Format(time.RFC3339Nano))
			b.m.Start = time.Time{}
		}
		if b.m.Start.IsZero() || b.m.Records == 1 && p.Time.Before(b.m.Start) {
			b.m.Start = p.Time
		}
		if p.LinkType != capture.LinkTypeEthernet {
			otherLinks++
			continue
		}
		b.recordEdits(p.Number, p.Comment)
		missing += capture.Gaps(p.Comment)
		leftOut += capture.LinesLeftOut(p.Comment)
		// Notes are read from the whole comment: a frame dropped on many
		// links has a note for each, far past what is shown of it.
		text := cleanText(strings.ReplaceAll(filter.WithoutEdits(p.Comment), "\n", "; "), maxNoteText)
		c := comment{text: text}
		var ok bool
		if c.shown, ok = b.keepComment(cleanText(text, b.lim.MaxComment)); !ok {
			b.commentsCut++
		}
		switch p.Dir {
		case capture.DirIn:
			b.directed = true
			port, err := b.port(p, r)
			if err != nil {
				return err
			}
			b.ingress(p, port, c)
		case capture.DirOut:
			b.directed = true
			port, err := b.port(p, r)
			if err != nil {
				return err
			}
			// An injected frame is recorded whatever the capture's
			// points (an input of the run): in an ingress capture it
			// is no sign that the hub's deliveries were recorded.
			inj := injected(p.Comment)
			if !inj {
				b.egress = true
			}
			b.egressRecord(p, port, c, inj)
		default:
			if err := b.macRecord(p, c); err != nil {
				return err
			}
		}
	}
	// Ports described after the last frame, or in a capture of none,
	// are lifelines too.
	if b.l2hub || b.directed {
		if err := b.addInterfaces(section, r.Interfaces()); err != nil {
			return err
		}
	}
	// Changes made after the last frame are in the capture's trailer.
	b.recordEdits(b.m.Records, r.Trailer())
	if missing += capture.Gaps(r.Trailer()); missing > 0 {
		b.warn("the capture lost %d events (its writer fell behind the live hub): they are not drawn", missing)
	}
	if leftOut += capture.LinesLeftOut(r.Trailer()); leftOut > 0 {
		b.warn("the capture left out %d comment lines it had no room for (changes made through the control API, VMs attaching or leaving, in a burst while no frame passed): the bands and markers they made are not drawn", leftOut)
	}
	if otherLinks > 0 {
		b.warn("%d frames are not Ethernet and are not drawn", otherLinks)
	}
	if b.notesCut > 0 {
		b.warn("%d comments hold more than %d notes: the drops and marks past them are not drawn", b.notesCut, maxNotes)
	}
	if back > 0 {
		b.warn("%d records are stamped before a record ahead of them, by up to %s (the capture's clock ran backwards): they are drawn at that record's time", back, mostBack)
	}
	return nil
}

// declares reports whether an l2hub section comment has a line for key.
func declares(comment, key string) bool {
	for line := range strings.SplitSeq(comment, "\n") {
		if k, _, ok := strings.Cut(line, "="); ok && k == key {
			return true
		}
	}
	return false
}

func (b *builder) warn(format string, args ...any) {
	b.m.Warnings = append(b.m.Warnings, fmt.Sprintf(format, args...))
}

func (b *builder) rel(t time.Time) time.Duration { return t.Sub(b.m.Start) }

// runTime is a time counted from the hub's start (an edit's) on the
// report's axis.
func (b *builder) runTime(d time.Duration) time.Duration {
	if b.runStart.IsZero() {
		return d
	}
	return b.rel(b.runStart.Add(d))
}

// port returns the lifeline of a record's interface. Lifelines come in
// the order the capture describes its interfaces: a record on an interface
// not seen yet adds every interface described so far, so that a comment
// can name a port before that port's first frame.
func (b *builder) port(p capture.Packet, r *capture.Reader) (int, error) {
	if i, ok := b.ifacePort[[2]int{p.Section, p.Interface}]; ok {
		return i, nil
	}
	if err := b.addInterfaces(p.Section, r.Interfaces()); err != nil {
		return 0, err
	}
	return b.iface(p.Section, p.Interface, p.IfName, "")
}

// addInterfaces adds a lifeline for each interface of a section (those
// described so far).
func (b *builder) addInterfaces(section int, ifs []capture.Interface) error {
	for i, f := range ifs {
		if _, err := b.iface(section, i, f.Name, f.Description); err != nil {
			return err
		}
	}
	return nil
}

// iface returns the lifeline of interface id of section, made if need be.
// Two interfaces of one section are two lifelines, whatever their names
// (two unnamed ones, "c" and "c\a", "if1" and the unnamed interface 1);
// an interface named as one of an earlier section continues its lifeline.
func (b *builder) iface(section, id int, name, desc string) (int, error) {
	key := [2]int{section, id}
	if i, ok := b.ifacePort[key]; ok {
		return i, nil
	}
	if i, ok := b.byName[name]; ok && name != "" && b.section[i] != section {
		b.ifacePort[key], b.section[i] = i, section
		return i, nil
	}
	shown := cleanText(name, 64)
	if name == "" {
		shown = fmt.Sprintf("if%d", id)
	}
	i, err := b.addPort(shown, cleanText(desc, 128))
	if err != nil {
		return 0, err
	}
	b.ifacePort[key], b.section[i] = i, section
	if _, ok := b.byName[name]; !ok && name != "" {
		b.byName[name] = i
	}
	return i, nil
}

// addPort adds a lifeline. A name already shown gets a number ("c (2)"):
// two lifelines are never told apart by a name alone.
func (b *builder) addPort(name, desc string) (int, error) {
	if len(b.m.Ports) == b.lim.MaxPorts {
		return 0, fmt.Errorf("%w: more than %d (Limits.MaxPorts)", ErrTooManyPorts, b.lim.MaxPorts)
	}
	shown := name
	for n := 2; ; n++ {
		if _, taken := b.ports[shown]; !taken {
			break
		}
		shown = fmt.Sprintf("%s (%d)", name, n)
	}
	b.ports[shown] = len(b.m.Ports)
	b.m.Ports = append(b.m.Ports, Port{Name: shown, Description: desc})
	b.section = append(b.section, -1)
	return len(b.m.Ports) - 1, nil
}

// minHex is what a frame keeps of its bytes once Limits.MaxHexTotal is
// spent: its headers, which the page decodes, and its MAC addresses,
// which infer reads.
const minHex = 64

// clip returns the bytes of a frame kept for its hex view, charged to
// Limits.MaxHexTotal.
func (b *builder) clip(data []byte) []byte {
	n := min(len(data), b.lim.HexBytes)
	if n > b.hexLeft {
		n = min(n, minHex)
		b.hexCut++
	} else {
		b.hexLeft -= n
	}
	return slices.Clone(data[:n])
}

// newFrame adds a frame for record p sent by port from.
func (b *builder) newFrame(p capture.Packet, from int, shown string) int {
	fi := len(b.m.Frames)
	b.m.Frames = append(b.m.Frames, Frame{
		Number:  p.Number,
		Time:    b.rel(p.Time),
		From:    from,
		Label:   b.lab.label(p.Data),
		Len:     p.OrigLen,
		Data:    b.clip(p.Data),
		Comment: shown,
		Group:   -1,
	})
	h := contentHash(p.Data)
	b.m.Frames[fi].sum = h
	s := b.recent[h]
	if len(s) == maxPending {
		s = s[1:]
	}
	b.recent[h] = append(s, int32(fi))
	if p.Number > 0 {
		b.m.at[p.Number] = ref{int32(fi), -1}
	}
	if from >= 0 && p.Number > 0 {
		s := b.sized[p.OrigLen]
		if len(s) == corruptRecent {
			s = s[1:]
		}
		b.sized[p.OrigLen] = append(s, int32(fi))
	}
	return fi
}

// ingress records what a port sent, and the links the comment says it was
// dropped on. (The hub notes delays and corruptions on the copies, in the
// egress records, and drops on the ingress record.)
func (b *builder) ingress(p capture.Packet, port int, c comment) {
	fi := b.newFrame(p, port, c.shown)
	dropped, notes := b.notes(c)
	why := false // a note says why it was dropped
	for _, n := range notes {
		if !hub.IsDropAction(n.Action) {
			continue
		}
		why = true
		to := -1
		if i, ok := b.ports[n.To()]; ok && n.Link != "" {
			to = i
		}
		d := Drop{To: to, Number: p.Number, Reason: b.reason(n), Rule: b.keepOr(cleanText(n.Rule, maxRuleText), ""), Action: action(n.Action)}
		if b.addDrop(fi, d) && isBand(d.Action) {
			f := &b.m.Frames[fi]
			f.Drops[len(f.Drops)-1].band = b.bandOf(n)
		}
	}
	if dropped && !why {
		b.addDrop(fi, Drop{To: -1, Number: p.Number, Reason: "dropped"})
	}
}

// injected reports whether a record's comment says the hub injected it
// (hub.InjectNotes: a note with no link whose action is "inject").
func injected(comment string) bool {
	_, notes := hub.ParseNotes(comment, 8)
	for _, n := range notes {
		if n.Action == "inject" && n.Link == "" {
			return true
		}
	}
	return false
}

// macRecord reads a record without a direction (classic pcap, QEMU's
// filter-dump): its sender is the port named after its source MAC, as
// replay names them; a copy of a frame that port just sent is its echo.
func (b *builder) macRecord(p capture.Packet, c comment) error {
	if len(p.Data) < 14 {
		port, err := b.macPortOf([6]byte{})
		if err != nil {
			return err
		}
		b.newFrame(p, port, c.shown)
		return nil
	}
	src := [6]byte(p.Data[6:12])
	port, err := b.macPortOf(src)
	if err != nil {
		return err
	}
	h, t := contentHash(p.Data), b.rel(p.Time)
	if s := b.recent[h]; len(s) > 0 {
		fi := s[len(s)-1]
		if f := &b.m.Frames[fi]; f.From == port && t-f.Time <= echoWindow && t >= f.Time {
			if len(f.Copies) < maxPerFrame {
				f.Copies = append(f.Copies, p.Number)
			} else {
				f.More++
			}
			b.m.at[p.Number] = ref{fi, -1}
			return nil
		}
	}
	fi := b.newFrame(p, port, c.shown)
	if dropped, notes := b.notes(c); dropped {
		reason := "dropped"
		if len(notes) > 0 {
			reason = b.reason(notes[0])
		}
		b.addDrop(fi, Drop{To: -1, Number: p.Number, Reason: reason})
	}
	return nil
}

func (b *builder) macPortOf(mac [6]byte) (int, error) {
	if i, ok := b.macPort[mac]; ok {
		return i, nil
	}
	name := fmt.Sprintf("m%02x%02x%02x%02x%02x%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5])
	desc := fmt.Sprintf("MAC %02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5])
	i, err := b.addPort(name, desc)
	if err != nil {
		return 0, err
	}
	b.macPort[mac] = i
	return i, nil
}

// infer gives frames their receivers when the capture does not record
// deliveries (it has no egress points): a unicast frame goes to the port
// its destination MAC was seen sending from, anything else to every other
// port, less the links it was dropped on. The deliveries it makes count against Limits.MaxFrames, as recorded
// ones would: many MACs flooding must not multiply the page.
func (b *builder) infer() {
	if b.egress || len(b.m.Frames) == 0 {
		return
	}
	b.m.Inferred = true
	owner := map[[6]byte]int{}
	for _, f := range b.m.Frames {
		if len(f.Data) >= 14 && f.From >= 0 && f.Data[6]&1 == 0 {
			if _, ok := owner[[6]byte(f.Data[6:12])]; !ok {
				owner[[6]byte(f.Data[6:12])] = f.From
			}
		}
	}
	budget, refused := min(b.lim.MaxFrames, b.arrowsLeft), 0
	defer func() {
		if refused > 0 {
			b.warn("deliveries inferred for the first frames only (Limits.MaxFrames, Limits.MaxArrows): %d more are not drawn", refused)
		}
	}()
	for i := range b.m.Frames {
		f := &b.m.Frames[i]
		// (A frame with drops left out cannot say where it did not go.)
		if len(f.Data) < 14 || f.From < 0 || f.More > 0 {
			continue
		}
		blocked := func(to int) bool {
			for _, d := range f.Drops {
				if d.To == -1 || d.To == to {
					return true
				}
			}
			return false
		}
		add := func(to int) {
			switch {
			case to == f.From || blocked(to):
			case budget == 0:
				refused++
			default:
				budget--
				b.addDelivery(i, Delivery{To: to, Time: f.Time, Kind: Inferred})
			}
		}
		if to, ok := owner[[6]byte(f.Data[0:6])]; ok && f.Data[0]&1 == 0 {
			add(to)
			continue
		}
		for to := range b.m.Ports {
			add(to)
		}
	}
}

// reorders marks each delivery that arrived before a frame sent earlier on
// the same link.
func (b *builder) reorders() {
	type last struct {
		t      time.Duration
		number int
	}
	latest := map[[2]int]last{}
	for i := range b.m.Frames {
		f := &b.m.Frames[i]
		for j := range f.Deliveries {
			d := &f.Deliveries[j]
			if d.Kind&(Inferred|Duplicate) != 0 {
				continue
			}
			link := [2]int{f.From, d.To}
			if l, ok := latest[link]; ok && d.Time < l.t {
				d.Kind |= Reordered
				d.Overtook = l.number
				continue
			}
			latest[link] = last{d.Time, f.record()}
		}
	}
}

func (b *builder) duration() {
	end := b.frameEnd()
	for _, mk := range b.m.Markers {
		end = max(end, mk.Time)
	}
	b.m.Duration = end
}

// frameEnd is the time of the last frame or delivery (0 for none).
func (b *builder) frameEnd() time.Duration {
	var end time.Duration
	for _, f := range b.m.Frames {
		end = max(end, f.Time)
		for _, d := range f.Deliveries {
			end = max(end, d.Time)
		}
	}
	return end
}

// contentHash is FNV-1a over the bytes and their length.
func contentHash(data []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range data {
		h ^= uint64(c)
		h *= 1099511628211
	}
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(data)))
	for _, c := range n {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return h
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

// addDelivery adds d to frame fi, or counts it when the frame has
// maxPerFrame already; it reports whether d was kept.
func (b *builder) addDelivery(fi int, d Delivery) bool {
	f := &b.m.Frames[fi]
	if !b.arrow(f, len(f.Deliveries)) {
		return false
	}
	f.Deliveries = append(f.Deliveries, d)
	b.indexLink(fi, d.To, false)
	return true
}

// addDrop adds d to frame fi, or counts it when the frame has maxPerFrame
// already; it reports whether d was kept.
func (b *builder) addDrop(fi int, d Drop) bool {
	f := &b.m.Frames[fi]
	if !b.arrow(f, len(f.Drops)) {
		return false
	}
	f.Drops = append(f.Drops, d)
	b.indexLink(fi, d.To, true)
	return true
}

// arrow reports whether frame f, which has have of a kind (deliveries or
// drops), may keep one more: within maxPerFrame and Limits.MaxArrows. If
// not, f counts it.
func (b *builder) arrow(f *Frame, have int) bool {
	switch {
	case have == maxPerFrame:
		b.perFrameCut++
	case b.arrowsLeft == 0:
		b.arrowsCut++
	default:
		b.arrowsLeft--
		return true
	}
	f.More++
	return false
}

// cutWarnings says what the bounds on what a report keeps left out.
func (b *builder) cutWarnings() {
	if b.perFrameCut > 0 {
		b.warn("%d deliveries, drops or copies of frames that have more than %d of them are counted, not drawn", b.perFrameCut, maxPerFrame)
	}
	if b.arrowsCut > 0 {
		b.warn("%d deliveries and drops past the first %d (Limits.MaxArrows) are counted, not drawn", b.arrowsCut, b.lim.MaxArrows)
	}
	if b.commentsCut+b.reasonsCut > 0 {
		var cut []string
		if b.commentsCut > 0 {
			cut = append(cut, fmt.Sprintf("%d comments are not shown", b.commentsCut))
		}
		if b.reasonsCut > 0 {
			cut = append(cut, fmt.Sprintf("%d drops give their action only, not their reason", b.reasonsCut))
		}
		b.warn("the capture's comments hold more text than a report keeps (Limits.MaxText, %d bytes as the page spells them): %s", b.lim.MaxText, strings.Join(cut, ", and "))
	}

	if b.hexCut > 0 {
		b.warn("%d frames keep only their first %d bytes for the hex view: the bytes kept reached %d (Limits.MaxHexTotal)", b.hexCut, minHex, b.lim.MaxHexTotal)
	}
}

// shortWarnings says how many bands and markers keep only minText of
// their text, once all are made.
func (b *builder) shortWarnings() {
	var cut []string
	if b.bandsCut > 0 {
		cut = append(cut, fmt.Sprintf("%d bands show only the first %d bytes of their name or spec", b.bandsCut, minText))
	}
	if b.markersCut > 0 {
		cut = append(cut, fmt.Sprintf("%d markers show only the first %d bytes of their text", b.markersCut, minText))
	}
	if len(cut) > 0 {
		b.warn("the text a report keeps reached Limits.MaxText (%d bytes as the page spells it): %s", b.lim.MaxText, strings.Join(cut, ", and "))
	}
}

// smallLinks is how many deliveries and drops a frame has before
// eligible looks them up in sets (frameLinks) rather than the lists.
const smallLinks = 16

// frameLinks are the ports a frame with many deliveries or drops went to,
// and those it was dropped towards.
type frameLinks struct{ got, dropped portSet }

// indexLink notes that frame fi went to (or was dropped towards) port, in
// its frameLinks once it has more than smallLinks.
func (b *builder) indexLink(fi, port int, dropped bool) {
	f := &b.m.Frames[fi]
	l := b.links[int32(fi)]
	switch {
	case l != nil && dropped:
		l.dropped.add(port)
	case l != nil:
		l.got.add(port)
	case len(f.Deliveries)+len(f.Drops) > smallLinks:
		l = &frameLinks{}
		for _, d := range f.Deliveries {
			l.got.add(d.To)
		}
		for _, d := range f.Drops {
			l.dropped.add(d.To)
		}
		b.links[int32(fi)] = l
	}
}

// portSet is a set of lifelines, a bit each.
type portSet []uint64

func (s *portSet) add(p int) {
	if p < 0 {
		return
	}
	for len(*s) <= p/64 {
		*s = append(*s, 0)
	}
	(*s)[p/64] |= 1 << (p % 64)
}

func (s portSet) has(p int) bool { return p >= 0 && p/64 < len(s) && s[p/64]&(1<<(p%64)) != 0 }
