package report

import (
	"fmt"
	"strings"
	"testing"
)

// flip returns f with the given bits flipped, counted as a corrupt rule
// counts them (bit 0 is the first byte's top bit).
func flip(f []byte, bits ...int) []byte {
	out := append([]byte(nil), f...)
	for _, b := range bits {
		out[b/8] ^= 0x80 >> (b % 8)
	}
	return out
}

// TestCorruptedCopyByItsBits: a corrupted copy whose note says which bits
// were flipped belongs to the frame those bits flip back to, even when
// another frame of the same length differs from it by fewer bits.
func TestCorruptedCopyByItsBits(t *testing.T) {
	f1 := udpFrame("a", "b", 9, 1, 20)
	f2 := flip(f1, 400)         // one bit from f1
	copy1 := flip(f1, 400, 403) // f1 corrupted: one bit from f2, two from f1
	note := "rule bitrot: corrupt (p=1 draw=0 bits=400,403)"
	path := writeTemp(t, "corrupt.pcapng", pcapngFile([]string{"a", "b"}, []string{"", ""}, []rec{
		{0, 1e9, true, f1, ""}, {0, 2e9, true, f2, ""}, {1, 3e9, false, copy1, note},
	}))
	m := build(t, Options{Capture: path})
	everyRecordDrawn(t, m)
	if len(m.Frames) != 2 || len(m.Frames[0].Deliveries) != 1 || len(m.Frames[1].Deliveries) != 0 ||
		m.Frames[0].Deliveries[0].Kind&Corrupted == 0 {
		t.Errorf("got %s, want the corrupted copy (#3) delivered from frame #1, whose bits it flips back to", describe(m))
	}
}

// TestCorruptedCopiesWithoutBits: corrupted copies whose notes do not say
// which bits were flipped each find their own frame among 2 000 of the
// same length. The count of comparisons holds by construction (the
// frames of a length a copy is compared with are the corruptRecent
// newest): it guards that bound, which the audit's capture (4096
// comparisons each, 11 s for 40 000 records) lacked, against a matcher
// that goes back to every frame of the length.
func TestCorruptedCopiesWithoutBits(t *testing.T) {
	const n = 2000
	var recs []rec
	for i := range n {
		f := udpFrame("a", "b", 9, uint32(i), 20)
		recs = append(recs, rec{0, uint64(1e9 + i*1e6), true, f, ""}, rec{1, uint64(1e9 + i*1e6), false, flip(f, 8*40+i%8, 8*44), "rule bitrot: corrupt"})
	}
	m := build(t, Options{Capture: writeTemp(t, "corrupt.pcapng", pcapngFile([]string{"a", "b"}, []string{"", ""}, recs))})
	everyRecordDrawn(t, m)
	if len(m.Frames) != n {
		t.Fatalf("got %d frames, want %d: every copy matched to its frame", len(m.Frames), n)
	}
	for i, f := range m.Frames {
		if len(f.Deliveries) != 1 || f.Deliveries[0].Number != 2*i+2 || f.Deliveries[0].Kind&Corrupted == 0 {
			t.Fatalf("got frame %d delivered as %+v, want its corrupted copy #%d", f.Number, f.Deliveries, 2*i+2)
		}
	}
	if max := n * corruptRecent; m.corruptCompares > max {
		t.Errorf("got %d comparisons for %d corrupted copies, want at most %d (%d each)", m.corruptCompares, n, max, corruptRecent)
	}
}

// copiedFrame is a capture's records of one frame a sent to b, and copies
// duplicates of it at b.
func copiedFrame(copies int) []rec {
	f := udpFrame("a", "b", 9, 1, 20)
	recs := []rec{{0, 1e9, true, f, ""}}
	for range copies {
		recs = append(recs, rec{1, 1e9, false, f, "rule twice: duplicate (p=1 draw=0 copies=2)"})
	}
	return recs
}

// TestCopiesPerFrame: a frame copied thousands of times (a crafted
// capture's duplicates) keeps maxPerFrame deliveries and counts the rest;
// every record is still found, and the page carries the count.
func TestCopiesPerFrame(t *testing.T) {
	const copies = 2000
	recs := copiedFrame(copies)
	path := writeTemp(t, "dup.pcapng", pcapngFile([]string{"a", "b"}, []string{"", ""}, recs))
	m := build(t, Options{Capture: path})
	everyRecordDrawn(t, m)
	if len(m.Frames) != 1 || len(m.Frames[0].Deliveries) != maxPerFrame || m.Frames[0].More != copies-maxPerFrame {
		t.Fatalf("got %d frames, the first with %d deliveries and %d more; want 1 with %d and %d more",
			len(m.Frames), len(m.Frames[0].Deliveries), m.Frames[0].More, maxPerFrame, copies-maxPerFrame)
	}
	data := pageJSON(t, page(t, Options{Capture: path}))
	row := data["frames"].([]any)[0].([]any)
	if len(row) != 13 || fmt.Sprint(row[12]) != fmt.Sprint(copies-maxPerFrame) {
		t.Errorf("got the page's frame row ending %v, want the %d more", row[len(row)-1], copies-maxPerFrame)
	}
}

// TestBrowserCopiesPerFrame: the row of a frame copied thousands of times
// draws at most MAX_ARROWS of its arrows (the audit's 20 000 copies made
// 80 000 SVG elements and a 0.6 s redraw per scroll) and says how many
// more there are, in the row and in its details.
func TestBrowserCopiesPerFrame(t *testing.T) {
	const copies = 2000
	recs := copiedFrame(copies)
	path := writePage(t, Options{Capture: writeTemp(t, "dup.pcapng", pcapngFile([]string{"a", "b"}, []string{"", ""}, recs))})
	b := newBrowser(t, 1200, 800)
	b.open(t, path)
	const maxArrows = 64 // page.js's MAX_ARROWS
	n := eval[int](t, b, `document.querySelectorAll('#svg g.item[data-k="f"][data-i="0"] line.arrow').length`)
	if n != maxArrows {
		t.Errorf("got %d arrows drawn for the frame, want %d", n, maxArrows)
	}
	more := eval[[]string](t, b, `Array.from(document.querySelectorAll('#svg g.item[data-k="f"] text.more')).map(e => e.textContent)`)
	if want := fmt.Sprintf("+%d more", copies-maxArrows); len(more) != 1 || more[0] != want {
		t.Errorf("got %q in the row, want %q", more, want)
	}
	eval[bool](t, b, `(document.querySelector('#svg g.item[data-k="f"][data-i="0"] line.hit').dispatchEvent(new MouseEvent('click', {bubbles: true})), true)`)
	detail := eval[string](t, b, `document.getElementById('detail').textContent`)
	if want := fmt.Sprintf("%d more records of this frame", copies-maxPerFrame); !strings.Contains(detail, want) {
		t.Errorf("got details %q…, want them to say %q", detail[:min(len(detail), 200)], want)
	}
	if said := b.said(); len(said) > 0 {
		t.Errorf("the page said %q, want nothing", said)
	}
}

// TestCorruptedCopiesPastMaxHexTotal: once Limits.MaxHexTotal is spent a
// frame keeps only its first minHex bytes, and a corrupted copy whose
// note does not say which bits were flipped is still matched to its
// frame, over the bytes both keep, whether its flips fall in them or
// past them (the review: 18 of 20 became phantom frames from the hub).
func TestCorruptedCopiesPastMaxHexTotal(t *testing.T) {
	const n = 20
	var recs []rec
	for i := range n {
		f := udpFrame("a", "b", 9, uint32(i), 300)
		bit := 8*40 + i // in the headers a cut frame keeps
		if i%2 == 1 {
			bit = 8 * (200 + i) // past them
		}
		recs = append(recs, rec{0, uint64(1e9 + i*1e6), true, f, ""}, rec{1, uint64(1e9 + i*1e6), false, flip(f, bit), "rule bitrot: corrupt"})
	}
	m := build(t, Options{Capture: writeTemp(t, "corrupt.pcapng", pcapngFile([]string{"a", "b"}, []string{"", ""}, recs)), Limits: Limits{MaxHexTotal: 1000}})
	everyRecordDrawn(t, m)
	if len(m.Frames) != n {
		t.Fatalf("got %d frames, want %d: every copy matched to its frame, none from the hub", len(m.Frames), n)
	}
	for i, f := range m.Frames {
		if f.From != 0 || len(f.Deliveries) != 1 || f.Deliveries[0].Number != 2*i+2 || f.Deliveries[0].Kind&Corrupted == 0 {
			t.Errorf("got frame %d from %d delivered as %+v, want from a with its corrupted copy #%d", f.Number, f.From, f.Deliveries, 2*i+2)
		}
	}
	if !hasWarning(m, "frames keep only their first") {
		t.Errorf("got warnings %q, want one about the bytes left out", m.Warnings)
	}
}
