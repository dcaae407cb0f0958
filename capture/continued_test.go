package capture

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"
	"unicode/utf8"

	"l2hub/hub"
)

// cutAll runs commentCuts over text as appendComments does, and fails the
// test if a cut makes no progress (text that is not UTF-8 once did).
func cutAll(t *testing.T, prefix string, text []byte) (pieces [][]byte) {
	t.Helper()
	cc := commentCuts{text: text}
	for n := 0; ; n++ {
		if n > len(text)/(maxOption/2)+4 {
			t.Fatalf("%d cuts of %d bytes and %d still left: a cut makes no progress", n, len(text), len(cc.text))
		}
		_, piece, ok := cc.next(len(prefix))
		if !ok {
			return pieces
		}
		pieces = append(pieces, piece)
	}
}

// joinOptions reads the opt_comments appendComments wrote back as a Reader
// joins them, and returns the option values too.
func joinOptions(prefix string, b []byte) (string, [][]byte) {
	it := optIter{b: b, order: binary.LittleEndian}
	var j commentJoin
	var vals [][]byte
	for it.next() {
		vals = append(vals, it.val)
		j.add(it.val[len(prefix):], len(it.val))
	}
	return string(j.b), vals
}

// TestCommentsRoundTrip: whatever the text, appendComments writes options
// that a Reader joins back into it, byte for byte (a newline that starts
// the text or ends it at a cut included), commentsLen says how long they
// are, and only an option cut inside a line fills it to fullOption, never
// the last. Text that is not UTF-8 is cut as bytes, not forever.
func TestCommentsRoundTrip(t *testing.T) {
	x := func(n int) string { return strings.Repeat("x", n) }
	cases := map[string]string{
		"one line":              "abc",
		"leading newline":       "\nabc",
		"leading newline, long": "\n" + x(70000),
		"newline at the cut":    x(maxOption) + "\n",
		"newline near the cut":  x(fullOption-2) + "\n",
		// The last newline that leaves an option short of full: with no
		// prefix, and after trailerPrefix.
		"newline ends a whole option":         x(fullOption-1) + "\n",
		"newline ends a whole trailer option": x(fullOption-1-len(trailerPrefix)) + "\n",
		"newline after the cut":               x(maxOption) + "\ny",
		"empty line at the cut":               x(maxOption) + "\n\ntail",
		"newlines":                            "\n\n",
		"a full option's worth":               x(fullOption),
		"just short of full":                  x(fullOption - 1),
		"exactly maxOption":                   x(maxOption),
		"one past maxOption":                  x(maxOption + 1),
		"three options' worth":                x(3 * maxOption),
		"2-byte runes, odd":                   "a" + strings.Repeat("é", 40000),
		"4-byte runes, +1":                    "a" + strings.Repeat("𝄞", 20000),
		"4-byte runes, +2":                    "ab" + strings.Repeat("𝄞", 20000),
		"4-byte runes, +3":                    "abc" + strings.Repeat("𝄞", 20000),
		"not UTF-8":                           strings.Repeat("\x80", 70000),
		"lines":                               strings.Repeat(x(999)+"\n", 200),
	}
	for name, text := range cases {
		for _, prefix := range []string{"", trailerPrefix} {
			t.Run(name+"/prefix-"+strings.TrimSpace(prefix[:min(5, len(prefix))]), func(t *testing.T) {
				cutAll(t, prefix, []byte(text)) // before appendComments, which would not return
				b := appendComments(nil, prefix, []byte(text))
				if n := commentsLen(prefix, []byte(text)); n != len(b) {
					t.Errorf("got commentsLen = %d, want %d (what appendComments wrote)", n, len(b))
				}
				got, vals := joinOptions(prefix, b)
				if got != text {
					t.Errorf("got %d bytes back (starting %.20q, ending %.20q), want the %d written", len(got), got, got[max(0, len(got)-20):], len(text))
				}
				for i, v := range vals {
					if len(v) > maxOption {
						t.Errorf("option %d holds %d bytes, over %d", i, len(v), maxOption)
					}
					// pcapng options are UTF-8 each on its own, as
					// Wireshark shows them: a cut never splits a character.
					if utf8.ValidString(text) && !utf8.Valid(v) {
						t.Errorf("option %d of %d is not UTF-8 (ends % x): the cut split a character", i, len(vals), v[max(0, len(v)-4):])
					}
					full := len(v) >= fullOption
					if full && (i == len(vals)-1 || !bytes.HasPrefix(vals[i+1][len(prefix):], []byte(continuedPrefix))) {
						t.Errorf("option %d of %d holds %d bytes (full) and no continuation follows it", i, len(vals), len(v))
					}
				}
			})
		}
	}
}

// epbWithComments is a pcapng file of one packet whose block holds text as
// appendComments writes it, then the comments extra (as editcap -a or
// Wireshark add them), and a statistics block whose trailer is text too,
// followed by the same extra comments, each after trailerPrefix.
func epbWithComments(text string, extra ...string) []byte {
	var f []byte
	f = appendSHB(f, "", "", "", "")
	f = appendIDB(f, "a", "", 1500)
	f, start := beginBlock(f, blockEPB)
	for _, v := range []uint32{0, 0, 0, 4, 4} { // interface, time high and low, lengths
		f = le.AppendUint32(f, v)
	}
	f = append(f, "data"...)
	f = appendComments(f, "", []byte(text))
	for _, c := range extra {
		f = appendOption(f, optComment, c)
	}
	f = endBlock(appendEndOfOptions(f), start)
	f, start = beginBlock(f, blockISB)
	f = le.AppendUint32(f, 0)
	f = le.AppendUint64(f, 0)
	f = appendComments(f, trailerPrefix, []byte(text))
	for _, c := range extra {
		f = appendOption(f, optComment, trailerPrefix+c)
	}
	return endBlock(appendEndOfOptions(f), start)
}

// TestAddedCommentIsALineOfItsOwn: a comment added to a frame l2hub wrote
// (editcap -a "1:l2hub: continued: checked by bob") is read as a line of
// its own, whatever it starts with: the records a replay reads (a VM
// attach, an edit) stay whole, whether they end the frame's comments or
// were cut across several.
func TestAddedCommentIsALineOfItsOwn(t *testing.T) {
	peer := `l2hub-peer {"port":"b","attached":true,"at":1000000000}`
	edit := `l2hub-edit {"at":1000000000,"op":"rule-add","name":"big","rule":"name: big\nloss: 5%\n#` + strings.Repeat("é", 40000) + `"}`
	added := continuedPrefix + "checked by bob"
	for name, text := range map[string]string{
		"a peer record last":          "control at 1s: rule r0 added\n" + peer,
		"a long edit last":            "control at 1s: rule big added\n" + edit,
		"a long edit, then a peer":    edit + "\n" + peer,
		"a line of a full option":     strings.Repeat("x", fullOption),
		"a line that fills an option": strings.Repeat("x", maxOption),
	} {
		t.Run(name, func(t *testing.T) {
			got, r := readAll(t, epbWithComments(text, added))
			want := text + "\n" + added
			if len(got) != 1 || got[0].Comment != want {
				c := ""
				if len(got) == 1 {
					c = got[0].Comment
				}
				t.Errorf("got a comment ending %.80q, want %.80q", c[max(0, len(c)-80):], want[max(0, len(want)-80):])
			}
			if tr := r.Trailer(); tr != want {
				t.Errorf("got a trailer ending %.80q, want %.80q", tr[max(0, len(tr)-80):], want[max(0, len(want)-80):])
			}
		})
	}
}

// TestAnnotateEscapesContinuedPrefix: an annotation line that starts with
// continuedPrefix is written with a backslash before it, so that l2hub
// never writes a line that reads as the rest of the one before it.
func TestAnnotateEscapesContinuedPrefix(t *testing.T) {
	fs := newMemFS()
	cfg := memConfig(fs)
	s := mustOpen(t, cfg)
	run(s, []step{addPort(0, "a", "")})
	edit := `l2hub-edit {"at":1000000000,"op":"rule-add","name":"r1","rule":"name: r1\nloss: 5%"}`
	s.Annotate("control at 1s: rule r0 added\n" + strings.Repeat("p", 65400) + "\n" + edit)
	s.Annotate(continuedPrefix + "anything\nsecond\n" + continuedPrefix + "more")
	run(s, []step{event(0, 0, "a", hub.Ingress, frame(60, 1, 2, 1), false)})
	mustClose(t, s)
	got, _ := readAll(t, fs.file(t, cfg.Path))
	want := edit + "\n\\" + continuedPrefix + "anything\nsecond\n\\" + continuedPrefix + "more"
	if len(got) != 1 || !strings.HasSuffix(got[0].Comment, want) {
		t.Errorf("got packets %d, comment ending %q; want one, ending %q", len(got), got[0].Comment[max(0, len(got[0].Comment)-len(want)):], want)
	}
}

// TestTrailerPastBoundCountsWhatItLeavesOut: a file whose trailers hold
// more than a Reader keeps (maxTrailer) ends its Trailer with how many
// lines it left out, and the events their gap lines said were missing,
// rather than dropping them silently; a line the bound would cut is left
// out whole.
func TestTrailerPastBoundCountsWhatItLeavesOut(t *testing.T) {
	line := strings.Repeat("e", 1000)
	long := strings.Repeat("é", maxOption) // a line across three options
	var f []byte
	f = appendSHB(f, "", "", "", "")
	f = appendIDB(f, "a", "", 1500)
	isb := func(text string) {
		var start int
		f, start = beginBlock(f, blockISB)
		f = le.AppendUint32(f, 0)
		f = le.AppendUint64(f, 0)
		f = appendComments(f, trailerPrefix, []byte(text))
		f = endBlock(appendEndOfOptions(f), start)
	}
	kept, joined := 0, 0 // lines and bytes a Reader joins
	for joined < maxTrailer-maxNotes {
		isb(strings.TrimSuffix(strings.Repeat(line+"\n", 500), "\n"))
		kept, joined = kept+500, joined+500*(len(line)+1)
	}
	for joined < maxTrailer-len(line) {
		isb(line)
		kept, joined = kept+1, joined+len(line)+1
	}
	isb(long + "\n" + line)                                               // its second option goes past the bound: the long line is left out whole, with the next
	isb(line + "\n" + string(appendGap(nil, 7, "after the last record"))) // two lines, a gap of 7 events
	isb(string(appendLost(nil, 5)))                                       // one line, which said 5 more were left out
	_, r := readAll(t, f)
	tr := r.Trailer()
	if n := strings.Count(tr, line); n != kept {
		t.Errorf("got %d lines kept, want %d", n, kept)
	}
	if strings.Contains(tr, "é") {
		t.Errorf("got part of the long line, want it left out whole")
	}
	if got, want := LinesLeftOut(tr), uint64(2+2+1+5); got != want {
		t.Errorf("got LinesLeftOut(Trailer()) = %d, want %d", got, want)
	}
	if got := Gaps(tr); got != 7 {
		t.Errorf("got Gaps(Trailer()) = %d, want 7", got)
	}
}
