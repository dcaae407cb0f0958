package report

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"l2hub/capture"
	"l2hub/conformance/checker"
	"l2hub/filter"
	"l2hub/hub"
)

// Build and its one pass over the capture. buildFrom reads every record
// (read), each into the builder by its direction: an ingress record is a
// frame (frames.go), an egress record a copy matched to its frame
// (match.go), a record without a direction a frame named after its source
// MAC (frames.go); with Options.Check the checker reads the same bytes
// alongside (check.go). The passes after it order the frames
// (egressonly.go), infer what the capture does not record, draw the bands
// (bands.go, and control.go for the control API's), pin the findings
// (check.go), group alike frames and place the consoles' markers
// (layout.go).

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
