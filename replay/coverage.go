package replay

import (
	"cmp"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"l2hub/capture"
	"l2hub/hub"
)

// Coverage: a replay reproduces a run's decisions only from inputs that
// hold the run from its start, without gaps. A capture's files form
// sequences (the segment's, or each port's), numbered by part; a part
// after the first starts mid-run, at a rotation or at a set-policy
// (capture.FileMeta.MetaPart says which).

// seqKey identifies a file sequence of one run: the segment's, or a
// port's.
type seqKey struct {
	start  time.Time
	config string
	port   string
}

// seqPart is a part of a sequence the inputs hold, and its header.
type seqPart struct {
	part int
	h    capHeader
}

// sequences groups the headers by sequence, in the order each was first
// met, each sequence's parts in order, once each.
func sequences(hs []capHeader) [][]seqPart {
	type partKey struct {
		seq  seqKey
		part int
	}
	var keys []seqKey
	parts := map[seqKey][]seqPart{}
	seen := map[partKey]bool{}
	for _, h := range hs {
		k := seqKey{h.meta.Start.UTC(), h.meta.ConfigHash, h.meta.Port}
		ps, ok := parts[k]
		if !ok {
			keys = append(keys, k)
		}
		if pk := (partKey{k, h.meta.Part}); !seen[pk] {
			seen[pk] = true
			parts[k] = append(ps, seqPart{h.meta.Part, h})
		}
	}
	out := make([][]seqPart, len(keys))
	for i, k := range keys {
		out[i] = slices.SortedStableFunc(slices.Values(parts[k]), func(a, b seqPart) int { return cmp.Compare(a.part, b.part) })
	}
	return out
}

// begunBySetPolicy reports whether h's file (or stream section) is the
// one a set-policy started, not a rotation after it: its header records
// a set-policy (policy-since) and says its part started its Meta. known
// is false when the header records a set-policy and does not say (a
// capture from before meta-part).
func begunBySetPolicy(h capHeader) (begun, known bool) {
	if !runPolicyOf(h).changed {
		return false, true
	}
	if h.meta.MetaPart < 0 {
		return false, false
	}
	return h.meta.MetaPart == h.meta.Part, true
}

// coverageNotes says when the inputs do not hold the run from its start
// without gaps (a what-if each): a sequence whose first part given is a
// later one (midRunNote), and parts missing between those given
// (gapNote).
func coverageNotes(hs []capHeader, mode hub.Mode) []Note {
	seqs := sequences(hs)
	var notes []Note
	// One note says it, the advice being the same for every sequence,
	// but names the first file of each that starts mid-run (each port's
	// of a per-port capture).
	var mid []capHeader
	for _, seq := range seqs {
		if _, ok := midRunNote(seq[0].h, mode, nil); ok {
			mid = append(mid, seq[0].h)
		}
	}
	if len(mid) > 0 {
		n, _ := midRunNote(mid[0], mode, mid)
		notes = append(notes, n)
	}
	for _, seq := range seqs {
		if n, ok := gapNote(seq); ok {
			notes = append(notes, n)
		}
	}
	return notes
}

// midRunNote says when the first part the inputs hold of a sequence (h's)
// is one the live hub began mid-run: a set-policy's, or a later rotated
// part. In switch mode the live hub had learned MACs by then that the
// replay has not, so it floods frames the live hub forwarded to one port,
// and each flooded copy draws on the rules of the link it reaches; after
// a rotation, the policy's streams and queues had run, and edits had
// been made, too. A set-policy's own file in hub mode starts as the
// policy did: no note. It says how to reproduce the run instead: from
// the first file of each sequence of starts (h's when none).
func midRunNote(h capHeader, mode hub.Mode, starts []capHeader) (Note, bool) {
	if h.meta.Part == 0 {
		return Note{}, false // the run's start, or a port's first file
	}
	rp := runPolicyOf(h)
	begun, known := begunBySetPolicy(h)
	var why []string
	if mode == hub.ModeSwitch {
		why = append(why, "in switch mode the live hub had learned which port each MAC is on, and the replay may flood frames "+
			"the run sent to one port until it learns each MAC again; each flooded copy takes a draw from the rules of the link "+
			"it reaches, shifting their later decisions")
	}
	if !begun && rp.hash != "" {
		since := "the run's start"
		if rp.changed {
			since = "its set-policy at " + rp.since.String()
		}
		text := "the policy's random draws, rate queues and counters had run since " + since + ", and start afresh here; edits made before this file are not made"
		if !known {
			text += " (its header does not say whether its set-policy or a rotation after it began this file: a capture from before l2hub recorded it)"
		}
		why = append(why, text)
	}
	if len(why) == 0 {
		return Note{}, false
	}
	at := []string{fmt.Sprintf("part %d of the run's capture", h.meta.Part)}
	switch {
	case rp.changed && begun:
		at = append(at, fmt.Sprintf("after its set-policy at %s", rp.since))
	case rp.changed && known:
		at = append(at, fmt.Sprintf("a rotation after its set-policy at %s, which began part %d", rp.since, h.meta.MetaPart))
	case rp.changed:
		at = append(at, fmt.Sprintf("after its set-policy at %s", rp.since))
	}
	if len(starts) == 0 {
		starts = []capHeader{h}
	}
	var firsts []string
	for _, st := range starts {
		first := "its first file"
		if st.meta.Port != "" {
			first = "port " + st.meta.Port + "'s first file"
		}
		if name, ok := firstPartName(st.path, st.meta.Part); ok {
			first = name
		}
		firsts = append(firsts, first)
	}
	first := strings.Join(firsts, ", ")
	if len(firsts) > 1 {
		first = "each port's first (" + first + ")"
	}
	how := "with its policy"
	if rp.changed {
		how = "with --policy for each policy it had, the run's first policy first (--policy FIRST.yaml --policy " + cmp.Or(rp.name, "NEXT.yaml") + ")"
	}
	text := fmt.Sprintf("this file starts mid-run (%s) and the replay has not the files before it: %s: a what-if. "+
		"To reproduce the run, replay its files from %s on, in order, %s",
		strings.Join(at, ", "), strings.Join(why, "; "), first, how)
	return newNote(NoteWhatIf, h.path, text), true
}

// gapNote says which parts of a sequence the inputs lack between the
// first and the last they hold: what the run did in them is not
// replayed.
func gapNote(seq []seqPart) (Note, bool) {
	var missing []string
	var after capHeader
	for i := 1; i < len(seq); i++ {
		lo, hi := seq[i-1].part+1, seq[i].part-1
		if lo > hi {
			continue
		}
		if len(missing) == 0 {
			after = seq[i].h
		}
		name := func(n int) string {
			if first, ok := firstPartName(seq[i].h.path, seq[i].part); ok {
				return filepath.Base(capture.RotatedPath(first, n))
			}
			return "part " + strconv.Itoa(n)
		}
		if lo == hi {
			missing = append(missing, name(lo))
		} else {
			missing = append(missing, name(lo)+" to "+name(hi))
		}
	}
	if len(missing) == 0 {
		return Note{}, false
	}
	what := "the run's capture"
	if p := after.meta.Port; p != "" {
		what = "port " + p + "'s capture"
	}
	text := fmt.Sprintf("the inputs lack files of %s before this one (%s): what the run did in them (its frames, edits, set-policies, "+
		"the MACs it learned, the draws its policy took) is not replayed, so the decisions after them are a what-if. "+
		"To reproduce the run, replay every file of it, in order", what, strings.Join(missing, ", "))
	return newNote(NoteWhatIf, after.path, text), true
}
