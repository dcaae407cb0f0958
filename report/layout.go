// Where things are drawn once the frames are known: groups of alike frames
// from one sender drawn as one arrow, and markers (a control change's, a
// VM's attaching, a console line's) kept near the capture's span, with the
// warnings about console logs whose stamps lie far outside it. The console
// logs themselves are read in console.go.

package report

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

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

// addMarkers adds markers to the model, their text charged to
// Limits.MaxText: past it, a marker keeps its first minText bytes.
func (b *builder) addMarkers(ms []Marker) {
	for i := range ms {
		ms[i].Text = b.keepShort(ms[i].Text, &b.markersCut)
	}
	b.m.Markers = append(b.m.Markers, ms...)
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
