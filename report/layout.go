package report

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"l2hub/conformance/checker"
	"l2hub/filter"
	"l2hub/hub"
)

// maxEdits bounds the control changes a report reads from a capture.
const maxEdits = 1 << 14

// recordEdits keeps the changes made through the control API, and the
// VMs' attaching and leaving, that record number's comment holds
// (filter.Edit, hub.PeerRecord); unreadable ones are the replay's business
// to report. It keeps what their markers and bands need, cleaned and cut,
// never a rule's text: at most maxEdits of each.
func (b *builder) recordEdits(number int, comment string) {
	edits, _ := filter.ParseEdits(comment)
	for _, e := range edits {
		if len(b.edits) == maxEdits {
			break
		}
		re := recordedEdit{op: e.Op, name: cleanText(e.Name, maxRuleText), at: e.At, number: number,
			text: cleanText("control: "+e.String(), maxMarkerText)}
		switch {
		case e.Op == filter.EditLinkDown:
			re.spec = "port " + re.name
		case e.Op == filter.EditPartitionStart && len(e.Groups) > 0:
			specs := make([]string, len(e.Groups))
			for i, g := range e.Groups {
				specs[i] = strings.Join(g, ",")
			}
			re.spec = cleanText(strings.Join(specs, "|"), b.lim.MaxComment)
		}
		b.edits = append(b.edits, re)
	}
	peers, _ := hub.ParsePeers(comment)
	for _, pc := range peers {
		if len(b.peers) == maxEdits {
			break
		}
		if len(pc.Port) > maxPortName {
			continue // no lifeline has so long a name
		}
		text := "VM attached"
		if pc.Peer != "" && pc.Attached {
			text += " (" + pc.Peer + ")"
		}
		if !pc.Attached {
			text = "VM detached"
			if pc.Reason != "" {
				text += " (" + pc.Reason + ")"
			}
		}
		b.peers = append(b.peers, recordedPeer{port: pc.Port, at: pc.At, text: cleanText(text, maxMarkerText), number: number})
	}
}

// maxPortName bounds a lifeline's name: an interface's name cut to 64
// bytes, and a number to tell it from another of that name.
const maxPortName = 128

// recordedPeer is a VM attaching to or leaving its port, as its marker
// shows it, and the record whose comment notes it.
type recordedPeer struct {
	port   string
	at     time.Duration // policy time
	text   string        // "VM attached (tcp 127.0.0.1:40112)"
	number int
}

// recordedEdit is a change made through the control API, as a report
// keeps it, and the record whose comment notes it.
type recordedEdit struct {
	op   string // filter.Edit.Op
	name string // the rule, partition or port, cleaned
	// spec is a partition's groups ("a,b|c") or a link's "port b", for
	// the band a window draws, cleaned.
	spec   string
	text   string        // its marker: "control: rule loss-a-b added"
	at     time.Duration // run time
	number int
}

// controlMarkers puts each change made through the control API on the
// hub's line at its time ("control: rule loss-a-b added"), beside the
// consoles' markers.
func (b *builder) controlMarkers() {
	ms := make([]Marker, 0, len(b.edits))
	for _, e := range b.edits {
		ms = append(ms, Marker{Port: -1, Time: b.runTime(e.at), Text: e.text, Class: "control", Line: e.number, Log: "capture"})
	}
	ms, far, first := b.nearby(ms)
	b.addMarkers(ms)
	if far > 0 {
		b.warn("%d changes made through the control API are stamped more than %s before the capture's start or after its last frame and are not drawn (the first: on record %d)", far, markerMargin, first)
	}
	b.peerMarkers()
}

// peerMarkers puts each VM's attaching and leaving, as the capture notes
// them, on its port's lifeline at its time ("VM attached (tcp ...)"), so
// the frames dropped port-down before it or after it are explained where
// they are drawn.
func (b *builder) peerMarkers() {
	ms := make([]Marker, 0, len(b.peers))
	for _, pc := range b.peers {
		port, ok := b.ports[pc.port]
		if !ok {
			continue // a port the capture does not describe: nowhere to draw it
		}
		ms = append(ms, Marker{Port: port, Time: b.runTime(pc.at), Text: pc.text, Class: "control", Line: pc.number, Log: "capture"})
	}
	ms, far, first := b.nearby(ms)
	b.addMarkers(ms)
	if far > 0 {
		b.warn("%d VM attaches or detaches are stamped more than %s before the capture's start or after its last frame and are not drawn (the first: on record %d)", far, markerMargin, first)
	}
}

// addMarkers adds markers to the model, their text charged to
// Limits.MaxText: past it, a marker keeps its first minText bytes.
func (b *builder) addMarkers(ms []Marker) {
	for i := range ms {
		ms[i].Text = b.keepShort(ms[i].Text, &b.markersCut)
	}
	b.m.Markers = append(b.m.Markers, ms...)
}

// controlBands gives the bands of partitions and links the control API
// set (b.edits) their exact edges, and a band of its own to such a window
// in which nothing was dropped. A band the drops drew belongs to the window
// of its kind and name in which its first drop fell.
func (b *builder) controlBands() {
	type window struct {
		kind, name, spec string
		on, off          time.Duration // off 0: still on at the end
	}
	var ws []window
	open := map[string]int{} // kind and name -> index into ws
	for _, e := range b.edits {
		at := b.runTime(e.at)
		key := "partition\x00" + e.name
		if e.op == filter.EditLinkDown || e.op == filter.EditLinkUp {
			key = "down\x00" + e.name
		}
		switch e.op {
		case filter.EditPartitionStart, filter.EditLinkDown:
			if _, ok := open[key]; ok {
				continue
			}
			w := window{kind: "partition", name: e.name, spec: e.spec, on: at}
			if e.op == filter.EditLinkDown {
				w = window{kind: "down", spec: e.spec, on: at}
			}
			open[key] = len(ws)
			ws = append(ws, w)
		case filter.EditPartitionHeal, filter.EditLinkUp:
			if i, ok := open[key]; ok {
				ws[i].off = max(at, 1)
				delete(open, key)
			}
		}
	}
	// The bands the drops drew, by the window they may belong to (a
	// partition's name, a link's "port b"), each list in the order of
	// their first drops, which is their time order: a window's bands are a
	// run of its list.
	drawn := map[string][]int{}
	for i, id := range b.drawnKeys {
		k := b.bandKeys[id-1]
		if key, ok := windowKey(k.action, k.rule, k.detail); ok {
			drawn[key] = append(drawn[key], i)
		}
	}
	more := 0
	for _, w := range ws {
		key, _ := windowKey(w.kind, w.name, w.spec)
		list := drawn[key]
		k, _ := slices.BinarySearchFunc(list, w.on, func(i int, on time.Duration) int { return cmp.Compare(b.m.Bands[i].Start, on) })
		found := false
		for ; k < len(list); k++ {
			bd := &b.m.Bands[list[k]]
			if w.off > 0 && bd.Start > w.off {
				break
			}
			if bd.Control {
				continue
			}
			bd.Control, bd.Began, bd.Ended = true, w.on, w.off
			found = true
		}
		if found {
			continue
		}
		if len(b.m.Bands) >= maxBands {
			more++
			continue
		}
		b.m.Bands = append(b.m.Bands, Band{
			Kind: w.kind, Ports: b.bandPorts(w.kind, w.spec, -1, -1),
			Start: w.on, End: w.on, Control: true, Began: w.on, Ended: w.off,
		})
		b.nameBand(&b.m.Bands[len(b.m.Bands)-1], w.name, w.spec)
	}
	if more > 0 {
		b.warn("%d more partitions or links set through the control API are not drawn as bands: a report draws at most %d", more, maxBands)
	}
}

// windowKey is the control window a band the drops drew may belong to: a
// partition's by its name, a link set down by its spec ("port b"); a link
// a schedule set down (it has a name) belongs to none.
func windowKey(kind, name, spec string) (string, bool) {
	switch {
	case kind == "partition":
		return kind + "\x00" + name, true
	case kind == "down" && name == "":
		return kind + "\x00" + spec, true
	}
	return "", false
}

// checkResult is what the checker made of the capture.
type checkResult struct {
	profile checker.Profile
	report  checker.Report
	err     error
}

// checkAlongside returns a reader of r that hands the checker what it
// reads, and checked, which returns the checker's verdict once reading is
// done. The capture is read once (a pipe or a FIFO cannot be read again),
// and the checker, as `l2hub check` does, judges it in a goroutine of its
// own that checked waits for. When the report stopped before the end
// (Limits.MaxFrames, a corrupt block) and did not fail (drain), checked
// reads on for the checker, which judges a capture to its end, until the
// checker stops too (at the same corrupt block), the input ends or ctx
// does: what neither reads is not read (a FIFO that never ends). When the
// report failed, the checker stops at once.
func checkAlongside(r io.Reader, name string, p checker.Profile) (tee io.Reader, checked func(ctx context.Context, drain bool) checkResult) {
	pr, pw := io.Pipe()
	done := make(chan checkResult, 1)
	feed := &checkFeed{pw: pw}
	go func() {
		rep, err := checker.CheckReaders(checker.Options{Profile: p}, checker.Input{Name: name, R: pr})
		// What it did not read: the report reads on without it.
		feed.stopped.Store(true)
		pr.CloseWithError(errCheckDone)
		done <- checkResult{profile: p, report: rep, err: err}
	}()
	tee = io.TeeReader(r, feed)
	return tee, func(ctx context.Context, drain bool) checkResult {
		err := errReportFailed
		if drain {
			buf := make([]byte, 32<<10)
			for err = nil; err == nil && !feed.stopped.Load(); {
				if ctx.Err() != nil {
					err = errReportFailed
					break
				}
				_, err = tee.Read(buf)
			}
			if err == io.EOF {
				err = nil // the checker reads io.EOF
			}
		}
		pw.CloseWithError(err)
		return <-done
	}
}

// checkFeed is the checker's end of the tee: once the checker has stopped
// reading (stopped), what the report reads goes nowhere, and the report's
// reading never fails for it.
type checkFeed struct {
	pw      *io.PipeWriter
	stopped atomic.Bool
}

func (w *checkFeed) Write(p []byte) (int, error) {
	if w.stopped.Load() {
		return len(p), nil
	}
	n, err := w.pw.Write(p)
	if err != nil && w.stopped.Load() {
		return len(p), nil
	}
	return n, err
}

var (
	// errReportFailed ends the checker's input when the report failed.
	errReportFailed = errors.New("the report stopped reading the capture")
	// errCheckDone ends the report's feed of the checker once the
	// checker has stopped reading.
	errCheckDone = errors.New("the checker stopped reading the capture")
)

// findings pins the checker's findings to the frames they cite.
func (b *builder) findings(check checkResult) {
	r, err := check.report, check.err
	cs := &CheckSummary{Profile: check.profile.String(), OK: r.OK(), Fail: r.Fail, Warn: r.Warn, Pass: r.Pass, Info: r.Info}
	if err != nil {
		cs.Error = cleanText(err.Error(), 400)
		cs.OK = false
	}
	b.m.Check = cs
	titles := map[string]string{}
	for _, c := range checker.Checks() {
		titles[c.ID] = c.Title
	}
	for _, f := range r.Findings {
		fd := Finding{
			ID: cleanText(f.ID, 32), Verdict: f.Verdict.String(), Title: titles[f.ID],
			Message: cleanText(f.Message, 600), Frames: slices.Clone(f.Frames), Count: f.Count,
		}
		idx := len(b.m.Findings)
		for _, n := range f.Frames {
			fi, _, ok := b.m.FrameAt(n)
			if !ok || slices.Contains(fd.Pins, fi) {
				continue
			}
			fd.Pins = append(fd.Pins, fi)
			b.m.Frames[fi].Findings = append(b.m.Frames[fi].Findings, idx)
		}
		b.m.Findings = append(b.m.Findings, fd)
	}
}

// groupWindow is the longest time between two members of a group: a
// sender's announces (one every 64 ms), a bulk transfer's records, a
// partition's drops share an arrow while they keep coming, whatever else
// is sent between them; a pause longer than this starts a new group.
const groupWindow = 5 * time.Second

// groups draws alike frames from one sender as one arrow: the same label,
// the same receivers and the same drop reasons, nothing delayed,
// duplicated, reordered or corrupted, and no failing or warning finding
// (for a session record, no finding at all). Frames of other kinds, or
// from other senders, may come between two members, which are at most
// groupWindow apart; a frame with the same sender and label that cannot
// join (another receiver or reason, a finding) ends the group, so that
// the group never hides which came first.
func (b *builder) groups() {
	if b.opts.MinGroup < 0 {
		return
	}
	type run struct {
		key    string
		frames []int
		last   time.Duration
	}
	// open runs, by sender and label; order keeps flushing deterministic
	runs := map[string]*run{}
	flush := func(r *run) {
		if len(r.frames) >= max(b.opts.MinGroup, 2) {
			first, last := &b.m.Frames[r.frames[0]], &b.m.Frames[r.frames[len(r.frames)-1]]
			g := Group{
				From: first.From, Label: first.Label.Text, Frames: r.frames,
				Start: first.Time, End: last.Time, First: first.record(), Last: last.record(),
			}
			for _, d := range first.Deliveries {
				g.To = append(g.To, d.To)
			}
			if len(first.Drops) > 0 {
				g.Drop = first.Drops[0].Reason
				if first.Drops[0].Rule != "" {
					g.Drop = "rule " + first.Drops[0].Rule + ": " + first.Drops[0].Action
				}
			}
			b.m.Groups = append(b.m.Groups, g)
		}
		*r = run{}
	}
	for i := range b.m.Frames {
		f := &b.m.Frames[i]
		if f.From < 0 {
			continue
		}
		stream := fmt.Sprintf("%d\x00%s", f.From, f.Label.Text)
		r := runs[stream]
		if r == nil {
			r = &run{}
			runs[stream] = r
		}
		key, ok := b.groupKey(f)
		if !ok || key != r.key || len(r.frames) > 0 && f.Time-r.last > groupWindow {
			flush(r)
		}
		if ok {
			r.key, r.last = key, f.Time
			r.frames = append(r.frames, i)
		}
	}
	streams := make([]string, 0, len(runs))
	for s := range runs {
		streams = append(streams, s)
	}
	slices.Sort(streams)
	for _, s := range streams {
		flush(runs[s])
	}
	slices.SortFunc(b.m.Groups, func(x, y Group) int { return cmp.Compare(x.Frames[0], y.Frames[0]) })
	for gi, g := range b.m.Groups {
		for _, fi := range g.Frames {
			b.m.Frames[fi].Group = gi
		}
	}
}

// groupKey is what frames of one group share; ok is false for a frame
// that must be drawn alone.
func (b *builder) groupKey(f *Frame) (string, bool) {
	// (A frame with no ingress record has no sender to group by, but in
	// a capture of egress only, whose senders are told from their MACs.)
	if !f.Label.Groupable || f.Number == 0 && !f.copies || f.Label.Uncited && len(f.Findings) > 0 {
		return "", false
	}
	for _, fi := range f.Findings {
		if v := b.m.Findings[fi].Verdict; v == "fail" || v == "warn" {
			return "", false
		}
	}
	var k strings.Builder
	k.WriteString(f.Label.Text)
	for _, d := range f.Deliveries {
		if d.Kind&^Inferred != 0 {
			return "", false
		}
		fmt.Fprintf(&k, "|>%d", d.To)
	}
	for _, d := range f.Drops {
		if d.kind != 0 { // a copy a rule delayed (or changed) before it was dropped
			return "", false
		}
		// A rule's drops share its name and action, which the group
		// shows; the hub's own, and any other, their whole reason.
		fmt.Fprintf(&k, "|x%d %s %s", d.To, d.Rule, d.Action)
		if d.Rule == "" {
			fmt.Fprintf(&k, "\x00%s", d.Reason)
		}
	}
	return k.String(), true
}

// markerMargin is how far before the capture's start or after its last
// record a marker may be and still be drawn: far beyond any run (a lab's
// timeout is at most a day), and a line stamped past it (a clock never
// set, a year 9999) would leave the page's time axis empty but for it.
const markerMargin = 24 * time.Hour

// nearby keeps the markers within markerMargin of the capture's span and
// returns them, with how many it left out and the first one's line.
func (b *builder) nearby(ms []Marker) (kept []Marker, far, first int) {
	hi := b.frameEnd()
	hi += min(markerMargin, math.MaxInt64-hi)
	kept = ms[:0]
	for _, mk := range ms {
		if mk.Time < -markerMargin || mk.Time > hi {
			if far == 0 {
				first = mk.Line
			}
			far++
			continue
		}
		kept = append(kept, mk)
	}
	return kept, far, first
}

// outsideSlack is how far a marker may lie before the capture's start or
// after its last frame before a warning asks whether the log's clock is
// right: a VM prints a little before its first frame and after the last,
// but a log an hour off (a local time read as UTC, a clock never set)
// stretches the run's time axis to cover it.
func outsideSlack(run time.Duration) time.Duration { return max(time.Minute, run/10) }

// warnOutside warns once for a log whose markers lie more than
// outsideSlack outside the capture, naming the farthest, and asks about
// what placed it: a clock, a t0 line or an offset. A relative stamp with
// neither counts from the capture's start, and no question applies.
func (b *builder) warnOutside(name string, ms []Marker, log *consoleLog, offset *time.Duration) {
	end := b.frameEnd()
	slack := outsideSlack(end)
	var before, after int
	var early, late Marker
	for _, mk := range ms {
		switch {
		case mk.Time < -slack:
			if before == 0 || mk.Time < early.Time {
				early = mk
			}
			before++
		case mk.Time > end+slack:
			if after == 0 || mk.Time > late.Time {
				late = mk
			}
			after++
		}
	}
	if before > 0 {
		ask := ""
		if q := log.askPlacement(early.Line, offset); q != "" {
			ask = ": " + q
		}
		b.warn("console %s: %s stamped up to %s before the capture's start (the farthest: line %d), far outside its %s%s",
			name, countLines(before), (-early.Time).Round(time.Millisecond), early.Line, end, ask)
	}
	if after > 0 {
		stretch := "the time axis stretches to cover " + verb(after, "it", "them")
		if q := log.askPlacement(late.Line, offset); q != "" {
			stretch = q + " T" + stretch[1:]
		}
		b.warn("console %s: %s stamped up to %s after the capture's last frame (the farthest: line %d), far outside its %s: %s",
			name, countLines(after), (late.Time - end).Round(time.Millisecond), late.Line, end, stretch)
	}
}

// consoles reads the console logs and places their markers.
func (b *builder) consoles() error {
	b.controlMarkers()
	for _, c := range b.opts.Consoles {
		port, ok := b.ports[c.Port]
		if !ok {
			names := make([]string, len(b.m.Ports))
			for i, p := range b.m.Ports {
				names[i] = p.Name
			}
			return fmt.Errorf("console %s for port %q: %w (ports: %s)", c.Path, c.Port, ErrUnknownPort, strings.Join(names, ", "))
		}
		log, err := readConsole(c, b.lim)
		if err != nil {
			return err
		}
		name := cleanText(baseName(c.Path), 128)
		b.m.Ports[port].Consoles = append(b.m.Ports[port].Consoles, name)
		markers, far, first := b.nearby(log.place(port, name, b.m.Start, c.Offset))
		b.warnOutside(name, markers, log, c.Offset)
		b.addMarkers(markers)
		if far > 0 {
			b.warn("console %s: %s stamped more than %s before the capture's start or after its last frame %s not drawn (the first: line %d)", name, countLines(far), markerMargin, verb(far, "is", "are"), first)
		}
		if log.zoneless > 0 {
			b.warn("console %s: %s a date and time with no time zone, read as UTC; a log written in local time is drawn off by its UTC offset: "+
				"stamp it with Z or an offset (date -u +%%FT%%T.%%NZ, or +%%FT%%T.%%N%%:z)", name, countLines(log.zoneless)+" "+verb(log.zoneless, "carries", "carry"))
		}
		if log.plain > 0 {
			b.warn("console %s: %d of %d lines have no time stamp and are not drawn (only a line that starts with one is; README.md, \"Console logs\", shows how to stamp a log)",
				name, log.plain, log.plain+log.stamped)
		}
		if log.dmesg > 0 && log.t0.IsZero() && c.Offset == nil {
			b.warn("console %s: %s the kernel's [seconds] stamps, which count from the guest's boot, yet are drawn as seconds since the hub's start; "+
				"give ,offset= the time from the hub's start to the guest's boot, or write the log with a # t0= line", name, countLines(log.dmesg)+" "+verb(log.dmesg, "carries", "carry"))
		}
		if len(log.lines) == 0 {
			b.warn("console %s: no line with a time stamp was drawn", name)
		}
		if log.more > 0 {
			b.warn("console %s: %d more lines not drawn (Limits.MaxMarkers)", name, log.more)
		}
	}
	slices.SortStableFunc(b.m.Markers, func(x, y Marker) int {
		if c := cmp.Compare(x.Time, y.Time); c != 0 {
			return c
		}
		return cmp.Compare(x.Port, y.Port)
	})
	return nil
}

func baseName(p string) string {
	if i := strings.LastIndexAny(p, `/\`); i >= 0 {
		return p[i+1:]
	}
	return p
}

// countLines is "1 line" or "n lines", for a warning.
func countLines(n int) string {
	if n == 1 {
		return "1 line"
	}
	return fmt.Sprintf("%d lines", n)
}

// verb is one for a count of one, many otherwise.
func verb(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
