package checker

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"l2hub/capture"
	"l2hub/conformance"
	"l2hub/hub"
)

// The Checker's face: the Profile and Options it is made with, the Frame it
// takes, New, Feed, Report and Close, and the live hub.Observer, whose
// bounded queue hands hub events to a goroutine that feeds them. What
// happens to one frame is in feed.go.

// Profile selects the rules the checker judges by.
type Profile uint8

const (
	// ProfileNexus is nexus-v1: what the OS sends today. The spec's as-built
	// deviations are reported as info findings (NX-01..NX-15).
	ProfileNexus Profile = iota + 1
	// ProfileNoiseXK is noise-xk: standard Noise XK with u32be framing, as
	// RFC-0008 asks. Discovery is judged as in nexus-v1.
	ProfileNoiseXK
)

func (p Profile) String() string {
	switch p {
	case ProfileNexus:
		return "nexus-v1"
	case ProfileNoiseXK:
		return "noise-xk"
	}
	return "profile-?"
}

// ParseProfile accepts "nexus-v1" (or "nexus") and "noise-xk" (or
// "noise-xk-std", "std").
func ParseProfile(s string) (Profile, error) {
	switch s {
	case "nexus-v1", "nexus":
		return ProfileNexus, nil
	case "noise-xk", "noise-xk-std", "std":
		return ProfileNoiseXK, nil
	}
	return 0, fmt.Errorf("%q: %w", s, ErrUnknownProfile)
}

// Dir says where a frame was seen, as hub.Direction and pcapng epb_flags
// record it.
type Dir uint8

const (
	DirUnknown Dir = iota // classic pcap, or no direction recorded
	DirIngress            // sent by the peer on Port (what the checker judges)
	DirEgress             // delivered to the peer on Port (a copy, unless Injected)
)

func (d Dir) String() string {
	switch d {
	case DirIngress:
		return "ingress"
	case DirEgress:
		return "egress"
	}
	return "unknown"
}

// Frame is one Ethernet frame for the checker.
type Frame struct {
	// Number is what findings cite: the capture's frame number (from 1).
	Number int
	// Time is the capture or hub time; zero if unknown (cadence checks and
	// grace periods then do without).
	Time time.Time
	// Source tells inputs apart: copies of one frame in two files are
	// duplicates, a repeat within one file is not (beyond the echo window).
	Source int
	Port   string // the hub port, "" if unknown
	Dir    Dir
	// Dropped: the hub delivered this frame to no one (policy at ingress,
	// a full queue at egress).
	Dropped bool
	// Injected: the hub injected this frame into Port (hub.Event.Injected:
	// l2hub inject and the control API's, and a replay's of the frames its
	// run injected), so the VMs behind Port are its only receivers and no
	// port sent it. It is an input of the run and its only copy: checked
	// like an ingress frame, as sent by the addresses it carries and
	// received by the VMs behind Port it is addressed to, and its findings
	// say it was injected. An egress frame whose Why carries the note
	// hub.InjectNotes gives it (how a capture records an injected frame)
	// counts as Injected too.
	Injected bool
	// Why is the hub's notes on the frame, as its captures' comments show
	// them ("dropped: a->b: rule loss: drop (p=0.1 draw=0.05)"; hub.
	// FormatNotes), "" if none. The checker reads the faults it names (a
	// drop on one link of a flooded frame, a corrupted or held copy) to
	// explain the retransmissions they cause.
	Why string
	// Data is the frame; the checker does not retain it.
	Data []byte
}

// Options configures a Checker.
type Options struct {
	// Profile defaults to ProfileNexus.
	Profile Profile
	// Milestones, if set, receives one line per milestone, such as
	// "l2hub: nexus discovery ok node-a\n", and one per new failing finding
	// ("l2hub: nexus fail SESS-002 ..."), so a harness can wait for markers.
	Milestones io.Writer
	// OnMilestone, if set, receives the same lines without the "l2hub: "
	// prefix and the newline.
	OnMilestone func(line string)
	// MaxBuffered caps the out-of-order bytes one TCP stream buffers;
	// default DefaultMaxBuffered. Exceeding it is a TCP-002 finding.
	MaxBuffered int
	// MaxConns caps the TCP connections followed at once; default 256.
	MaxConns int
	// QueueLen bounds the live queue between Observe and the checking
	// goroutine, in frames; default 4096. QueueBytes bounds the bytes it
	// holds; default 16 MiB. A full queue drops the frame (CHK-001).
	QueueLen   int
	QueueBytes int
	// Points selects the hub events Observe takes and numbers, as a
	// capture of those points taken alongside records them, so that live
	// findings cite that capture's frame numbers; default both.
	Points capture.Points
	// Note, if set, is the report's Note: how its frame numbers count.
	Note string
	// Logger receives diagnostics; default discards.
	Logger *slog.Logger
}

// Checker judges frames. Create it with New.
type Checker struct {
	opts Options
	log  *slog.Logger

	mu      sync.Mutex
	closed  bool
	agg     *agg
	dedupe  *deduper
	ingress map[int]bool // sources that carry ingress directions
	// perVM: frames without direction came from several sources (two
	// per-VM files), where a hub duplicate shows in one file only.
	perVM   bool
	frames  int
	start   time.Time // the first frame's time, if known
	checked int
	skipped int
	pkt     packet

	nonIP, fragments, badSums, cutFrames, notEther         int
	fragFrames, badSumFrames, cutFrameNums, notEtherFrames []int

	disc  discovery
	tcp   connTable
	dhcpS int // DHCP server replies
	// where is the hub port each MAC sends from and the MAC each address
	// sends from, learned at ingress: which port a link in the hub's notes
	// leads to, and which VMs an injected frame reaches.
	where addrMap
	// injected counts the injected frames checked, per port injected into
	// (at most maxInjectPorts, then under ""), in order of first injection.
	injected []portCount
	// liveNotes: the notes of the live event being checked, until why
	// makes them its Why.
	liveNotes []byte

	// live
	liveOnce  sync.Once
	queue     chan *liveFrame
	free      chan *liveFrame
	done      chan struct{}
	liveMu    sync.Mutex // serialises Observe's numbering with Close
	liveNum   int
	queued    int // bytes in the queue
	lost      int
	lostFirst int
}

// New returns a checker.
func New(opts Options) (*Checker, error) {
	if opts.Profile == 0 {
		opts.Profile = ProfileNexus
	}
	if opts.Profile != ProfileNexus && opts.Profile != ProfileNoiseXK {
		return nil, fmt.Errorf("profile %d: %w", opts.Profile, ErrUnknownProfile)
	}
	if opts.MaxBuffered <= 0 {
		opts.MaxBuffered = DefaultMaxBuffered
	}
	if opts.MaxConns <= 0 {
		opts.MaxConns = 256
	}
	if opts.QueueLen <= 0 {
		opts.QueueLen = 4096
	}
	if opts.QueueBytes <= 0 {
		opts.QueueBytes = 16 << 20
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Checker{opts: opts, log: log, agg: newAgg(), dedupe: newDeduper(), ingress: map[int]bool{}}
	c.agg.onNew = func(f Finding) { c.milestone(fmt.Sprintf("nexus fail %s %s", f.ID, f.Message)) }
	c.where.init()
	c.disc.init(c)
	c.tcp.init(c)
	return c, nil
}

// Profile returns the profile the checker judges by.
func (c *Checker) Profile() Profile { return c.opts.Profile }

// Feed checks one frame. Frames must come in capture order. It does not
// retain f.Data.
func (c *Checker) Feed(f Frame) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	c.feed(&f)
	return nil
}

// milestone writes one marker line. Called with c.mu held.
func (c *Checker) milestone(line string) {
	if c.opts.OnMilestone != nil {
		c.opts.OnMilestone(line)
	}
	if c.opts.Milestones != nil {
		if _, err := io.WriteString(c.opts.Milestones, "l2hub: "+line+"\n"); err != nil {
			c.log.Debug("milestone write failed", "err", err)
		}
	}
}

// Report returns the findings so far; after Close, the final report.
// End-of-run checks (incomplete handshakes, unanswered requests, holes,
// refused redials) are included as if the run ended now, without
// changing the checker's state, so Report may be called at any time: a
// refused redial it warns of may later be explained by node-b's reboot.
func (c *Checker) Report() Report {
	c.mu.Lock()
	defer c.mu.Unlock()
	a := c.agg.clone()
	a.onNew = nil
	c.endChecks(a)
	r := Report{Profile: c.opts.Profile.String(), Frames: c.frames, Checked: c.checked, Skipped: c.skipped, Findings: a.findings(), Note: c.opts.Note}
	r.Lost = c.lostCount()
	for _, f := range r.Findings {
		switch f.Verdict {
		case Pass:
			r.Pass++
		case Info:
			r.Info++
		case Warn:
			r.Warn++
		case Fail:
			r.Fail++
		}
	}
	return r
}

func (c *Checker) lostCount() int {
	c.liveMu.Lock()
	defer c.liveMu.Unlock()
	return c.lost
}

// Close stops the live goroutine after it has checked every queued frame.
// Later Feed calls return ErrClosed and Observe drops frames; Report still
// works. Close is idempotent.
func (c *Checker) Close() error {
	c.liveOnce.Do(func() {}) // no live goroutine starts after Close
	c.liveMu.Lock()
	q := c.queue
	c.queue = nil
	c.liveMu.Unlock()
	if q != nil {
		close(q)
		<-c.done
	}
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	return nil
}

// keepBuffer is the size of each live queue buffer, kept between events: a
// full-size frame (1514 bytes, 1522 with two VLAN tags) and the hub's notes
// on it. An event that needs more gets a buffer of its own, not kept.
const keepBuffer = 2048

// liveFrame is one queued hub event.
type liveFrame struct {
	f   Frame
	buf []byte
}

var _ hub.Observer = (*Checker)(nil)

// Observe implements hub.Observer. It takes the events of Options.Points
// and numbers them in the order the hub reports them, so frame numbers match
// a capture of those points taken by an observer registered alongside;
// copies the frame into a preallocated buffer from a bounded free list and
// queues it. It never blocks: with no free buffer the frame is counted as
// lost.
func (c *Checker) Observe(ev *hub.Event) {
	switch {
	case c.opts.Points == capture.PointsIngress && ev.Dir != hub.Ingress && !ev.Injected,
		c.opts.Points == capture.PointsEgress && ev.Dir != hub.Egress:
		return
	}
	c.liveOnce.Do(c.startLive)
	c.liveMu.Lock()
	defer c.liveMu.Unlock()
	c.liveNum++
	if c.queue == nil {
		return // closed
	}
	var lf *liveFrame
	if c.queued+len(ev.Frame) <= c.opts.QueueBytes {
		select {
		case lf = <-c.free:
		default:
		}
	}
	if lf != nil {
		// The notes follow the frame in the buffer, as a capture's
		// comment shows them; the checking goroutine makes them Why.
		if cap(lf.buf) < keepBuffer {
			lf.buf = make([]byte, 0, keepBuffer) // once per buffer
		}
		lf.buf = capture.AppendComment(append(lf.buf[:0], ev.Frame...), ev)
		if c.queued+len(lf.buf) > c.opts.QueueBytes {
			c.free <- lf // never blocks: it came from there
			lf = nil
		}
	}
	if lf == nil {
		if c.lost == 0 {
			c.lostFirst = c.liveNum
		}
		c.lost++
		return
	}
	c.queued += len(lf.buf)
	dir := DirIngress
	if ev.Dir == hub.Egress {
		dir = DirEgress
	}
	lf.f = Frame{Number: c.liveNum, Time: ev.Time, Port: ev.PortName, Dir: dir, Dropped: ev.Dropped, Injected: ev.Injected, Data: lf.buf[:len(ev.Frame)]}
	c.queue <- lf // never blocks: there are as many queue slots as buffers
}

func (c *Checker) startLive() {
	c.liveMu.Lock()
	defer c.liveMu.Unlock()
	c.queue = make(chan *liveFrame, c.opts.QueueLen)
	c.free = make(chan *liveFrame, c.opts.QueueLen)
	for range c.opts.QueueLen {
		c.free <- &liveFrame{}
	}
	c.done = make(chan struct{})
	go c.runLive(c.queue)
}

func (c *Checker) runLive(q <-chan *liveFrame) {
	defer close(c.done)
	for lf := range q {
		c.mu.Lock()
		if !c.closed {
			c.liveNotes = lf.buf[len(lf.f.Data):]
			c.feed(&lf.f)
			c.liveNotes = nil
		}
		c.mu.Unlock()
		c.liveMu.Lock()
		c.queued -= len(lf.buf)
		c.liveMu.Unlock()
		lf.f = Frame{}
		if cap(lf.buf) > keepBuffer {
			lf.buf = nil // a jumbo frame's buffer is not kept for the next one
		}
		c.free <- lf
	}
}

// roleName names a node by its address, as the OS decides roles:
// 10.42.0.10 is node-a, any other 10.42.0.x node-b.
func roleName(ip fmt.Stringer) string {
	s := ip.String()
	switch {
	case s == conformance.RoleA.Addr().String():
		return "node-a"
	case strings.HasPrefix(s, "10.42.0."):
		return "node-b"
	}
	return s
}
