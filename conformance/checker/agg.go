package checker

import (
	"fmt"
	"maps"
	"slices"
)

// maxFindingKeys bounds the distinct findings kept; further ones fold into
// one finding per id.
const maxFindingKeys = 4096

type aggKey struct{ id, subject string }

type aggEntry struct {
	f     Finding
	order int
}

type passEntry struct {
	count  int
	frames []int
}

// agg collects findings. Repeats of (id, subject) fold into one finding
// that keeps the first message and counts; passes only count, and become a
// finding at report time when their id has no failure or warning.
type agg struct {
	entries map[aggKey]*aggEntry
	passes  map[string]*passEntry
	seq     int
	// onNew, if set, is told about each new fail finding (live markers).
	onNew func(Finding)
}

func newAgg() *agg {
	return &agg{entries: map[aggKey]*aggEntry{}, passes: map[string]*passEntry{}}
}

// add records a finding about subject (a device, a connection, an error:
// whatever makes two findings the same one). Since a repeat keeps the
// first message, subject must tell apart anything the message states:
// two findings whose messages would differ need different subjects.
func (a *agg) add(v Verdict, id, subject string, frames []int, format string, args ...any) {
	k := aggKey{id, subject}
	e, ok := a.entries[k]
	if !ok && len(a.entries) >= maxFindingKeys {
		k = aggKey{id, "\x00overflow"}
		e, ok = a.entries[k]
	}
	if ok {
		e.f.Count++
		if v.severity() < e.f.Verdict.severity() {
			e.f.Verdict = v
		}
		e.f.Frames = appendFrames(e.f.Frames, frames...)
		return
	}
	a.seq++
	e = &aggEntry{order: a.seq, f: Finding{ID: id, Verdict: v, Message: fmt.Sprintf(format, args...), Count: 1}}
	for _, n := range frames {
		e.f.at = max(e.f.at, n)
	}
	e.f.Frames = appendFrames(nil, frames...)
	a.entries[k] = e
	if v == Fail && a.onNew != nil {
		a.onNew(e.f)
	}
}

// pass counts one conforming thing for id, citing frames.
func (a *agg) pass(id string, frames ...int) {
	p := a.passes[id]
	if p == nil {
		p = &passEntry{}
		a.passes[id] = p
	}
	p.count++
	p.frames = appendFrames(p.frames, frames...)
}

// has reports whether id has a finding of verdict v or worse.
func (a *agg) has(id string, v Verdict) bool {
	for k, e := range a.entries {
		if k.id == id && e.f.Verdict.severity() <= v.severity() {
			return true
		}
	}
	return false
}

func (a *agg) clone() *agg {
	c := &agg{entries: make(map[aggKey]*aggEntry, len(a.entries)), passes: make(map[string]*passEntry, len(a.passes)), seq: a.seq}
	for k, e := range a.entries {
		ce := *e
		ce.f.Frames = slices.Clone(e.f.Frames)
		c.entries[k] = &ce
	}
	for k, p := range a.passes {
		c.passes[k] = &passEntry{count: p.count, frames: slices.Clone(p.frames)}
	}
	return c
}

// findings returns the findings, sorted for the report.
func (a *agg) findings() []Finding {
	out := make([]Finding, 0, len(a.entries)+len(a.passes))
	entries := slices.Collect(maps.Values(a.entries))
	slices.SortFunc(entries, func(x, y *aggEntry) int { return x.order - y.order })
	for _, e := range entries {
		f := e.f
		if f.Count == 1 {
			f.Count = 0
		}
		out = append(out, f)
	}
	for _, c := range catalog {
		p := a.passes[c.ID]
		if p == nil || c.pass == "" || a.has(c.ID, Warn) {
			continue
		}
		f := Finding{ID: c.ID, Verdict: Pass, Frames: slices.Clone(p.frames), Message: fmt.Sprintf(c.pass, p.count)}
		if len(f.Frames) > 0 {
			f.at = f.Frames[0]
		}
		out = append(out, f)
	}
	sortFindings(out)
	return out
}

// appendFrames adds frame numbers (0 means none) in order, without
// duplicates, up to MaxFindingFrames.
func appendFrames(dst []int, frames ...int) []int {
	for _, n := range frames {
		if n <= 0 || len(dst) >= MaxFindingFrames || slices.Contains(dst, n) {
			continue
		}
		dst = append(dst, n)
	}
	slices.Sort(dst)
	return dst
}
