package report

import (
	"fmt"
	"slices"
	"strings"
)

// What a report keeps of untrusted input, within Limits: the texts it
// keeps (comments, drop reasons, rule names, band and marker texts, charged
// to Limits.MaxText as the page's JSON spells them), the bytes kept for the
// hex views (Limits.MaxHexTotal), and the deliveries and drops drawn
// (maxPerFrame per frame, Limits.MaxArrows in all). What does not fit is
// counted, and the warnings say so (cutWarnings, shortWarnings).

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
