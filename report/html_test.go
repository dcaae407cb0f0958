package report

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"l2hub/conformance/checker"
)

// A tiny pcapng writer for hostile captures: whatever a name or a comment
// holds, the reader hands it over as is.
type rec struct {
	iface   int
	ns      uint64
	in      bool
	data    []byte
	comment string
}

func pcapngFile(ports, descs []string, recs []rec) []byte {
	return pcapngSection("", ports, descs, recs)
}

// pcapngSection is pcapngFile with a section comment (an l2hub header).
func pcapngSection(comment string, ports, descs []string, recs []rec) []byte {
	var b []byte
	le := binary.LittleEndian
	block := func(typ uint32, body []byte) {
		for len(body)%4 != 0 {
			body = append(body, 0)
		}
		n := uint32(12 + len(body))
		b = le.AppendUint32(b, typ)
		b = le.AppendUint32(b, n)
		b = append(b, body...)
		b = le.AppendUint32(b, n)
	}
	opt := func(body []byte, code uint16, v []byte) []byte {
		body = le.AppendUint16(body, code)
		body = le.AppendUint16(body, uint16(len(v)))
		body = append(body, v...)
		for len(body)%4 != 0 {
			body = append(body, 0)
		}
		return body
	}
	shb := le.AppendUint32(nil, 0x1a2b3c4d)
	shb = le.AppendUint16(shb, 1)
	shb = le.AppendUint16(shb, 0)
	shb = le.AppendUint64(shb, ^uint64(0))
	if comment != "" {
		shb = le.AppendUint32(opt(shb, 1, []byte(comment)), 0)
	}
	block(0x0a0d0d0a, shb)
	for i, p := range ports {
		idb := le.AppendUint16(nil, 1) // Ethernet
		idb = le.AppendUint16(idb, 0)
		idb = le.AppendUint32(idb, 0)
		idb = opt(idb, 2, []byte(p))
		idb = opt(idb, 3, []byte(descs[i]))
		idb = opt(idb, 9, []byte{9}) // nanoseconds
		block(1, le.AppendUint32(idb, 0))
	}
	for _, r := range recs {
		epb := le.AppendUint32(nil, uint32(r.iface))
		epb = le.AppendUint32(epb, uint32(r.ns>>32))
		epb = le.AppendUint32(epb, uint32(r.ns))
		epb = le.AppendUint32(epb, uint32(len(r.data)))
		epb = le.AppendUint32(epb, uint32(len(r.data)))
		epb = append(epb, r.data...)
		for len(epb)%4 != 0 {
			epb = append(epb, 0)
		}
		dir := uint32(2)
		if r.in {
			dir = 1
		}
		epb = opt(epb, 2, le.AppendUint32(nil, dir))
		if r.comment != "" {
			epb = opt(epb, 1, []byte(r.comment))
		}
		block(6, le.AppendUint32(epb, 0))
	}
	return b
}

const hostile = `</script><script>document.title="pwned"</script><img src=x onerror=alert(1)>&amp;"'` + "\u2028"

// hostileCapture has a port name, a port description, a frame's bytes and
// a comment that each try to end the data and run a script.
func hostileCapture(t *testing.T) string {
	frame := udpFrame("a", "b", 37020, 1, 0)
	frame = append(frame, []byte(hostile)...)
	return writeTemp(t, "hostile.pcapng", pcapngFile(
		[]string{"a" + hostile, "b"}, []string{hostile, "tcp"},
		[]rec{
			{0, 1e9, true, frame, "dropped: a" + hostile + "->b: rule " + hostile + ": drop (" + hostile + ")"},
			{0, 2e9, true, frame, ""},
			{1, 2e9, false, frame, "rule x: delay (" + hostile + ")"},
		}))
}

func page(t *testing.T, opts Options) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, opts); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// pageJSON returns the page's data as the page's script parses it.
func pageJSON(t *testing.T, html []byte) map[string]any {
	t.Helper()
	const open = `<script type="application/json" id="l2hub-data">`
	i := bytes.Index(html, []byte(open))
	if i < 0 {
		t.Fatal("got no data script in the page")
	}
	j := bytes.Index(html[i:], []byte("</script>"))
	if j < 0 {
		t.Fatal("the page's data script is not closed")
	}
	var v map[string]any
	if err := json.Unmarshal(html[i+len(open):i+j], &v); err != nil {
		t.Fatalf("page data: %v", err)
	}
	return v
}

func TestPageIsDeterministic(t *testing.T) {
	opts := Options{Capture: failingRun, Check: "nexus-v1", Consoles: []Console{{Port: "a", Path: "testdata/failing-run-node-a.log"}}}
	first, second := page(t, opts), page(t, opts)
	if !bytes.Equal(first, second) {
		i := 0
		for i < min(len(first), len(second)) && first[i] == second[i] {
			i++
		}
		t.Fatalf("got two pages of the same inputs that differ at byte %d: %q vs %q", i, first[i:min(i+60, len(first))], second[i:min(i+60, len(second))])
	}
}

func TestPageIsSelfContained(t *testing.T) {
	html := string(page(t, Options{Capture: failingRun, Check: "nexus-v1"}))
	// The SVG namespace is a name, not something to fetch; nothing else
	// may look like an address.
	rest := strings.ReplaceAll(html, "http://www.w3.org/2000/svg", "")
	for _, bad := range []*regexp.Regexp{
		regexp.MustCompile(`(?i)https?:`), regexp.MustCompile(`(?i)\bsrc\s*=`), regexp.MustCompile(`(?i)<link\b`),
		regexp.MustCompile(`(?i)@import`), regexp.MustCompile(`(?i)url\(`), regexp.MustCompile(`(?i)@font-face`),
		regexp.MustCompile(`(?i)<iframe|<object|<embed`), regexp.MustCompile(`(?i)\bfetch\(|XMLHttpRequest|WebSocket|EventSource`),
		regexp.MustCompile(`(?i)//[a-z0-9.-]+\.[a-z]{2,}`),
	} {
		if m := bad.FindString(rest); m != "" {
			t.Errorf("got %q in the page, want nothing that loads from elsewhere", m)
		}
	}
	// The CSP allows exactly the page's own style and script, by hash: no
	// 'unsafe-inline' that would run markup a capture smuggled in.
	csp := regexp.MustCompile(`<meta http-equiv="Content-Security-Policy" content="([^"]*)">`).FindStringSubmatch(html)
	want := "default-src 'none'; img-src data:; style-src '" + hashOf(pageCSS) + "'; script-src '" + hashOf(pageJS) + "'"
	if csp == nil || csp[1] != want {
		t.Errorf("got Content-Security-Policy %q, want %q", csp, want)
	}
	if strings.Count(html, "Content-Security-Policy") != 1 || strings.Contains(html, "unsafe-") {
		t.Error("got a second Content-Security-Policy or an unsafe- source in the page, want the one above alone")
	}
	if !strings.Contains(html, "<style>"+pageCSS+"</style>") || !strings.Contains(html, "<script>"+pageJS+"</script>") {
		t.Error("got the style or script changed on the way into the page: their hashes would not match")
	}
}

func TestPageEscapesWhatItRead(t *testing.T) {
	path := hostileCapture(t)
	log := writeTemp(t, "a.log", []byte("  1.5 "+hostile+"\n"))
	m := build(t, Options{Capture: path})
	if len(m.Frames) != 2 {
		t.Fatalf("got %d frames, want 2", len(m.Frames))
	}
	opts := Options{Capture: path, Title: hostile, Consoles: []Console{{Port: m.Ports[0].Name, Path: log}}}
	html := page(t, opts)
	if n := bytes.Count(bytes.ToLower(html), []byte("<script")); n != 2 {
		t.Errorf("got %d script elements, want the page's own 2", n)
	}
	for _, bad := range []string{"pwned\"</script>", "<img", "\u2028"} {
		if bytes.Contains(html, []byte(bad)) {
			t.Errorf("got %q in the page, want it escaped", bad)
		}
	}
	// ... and the text is all still there, for the page to show as text.
	data := pageJSON(t, html)
	if data["title"] != cleanText(hostile, 1<<10) {
		t.Errorf("got title %q, want the hostile text as text", data["title"])
	}
	ports := data["ports"].([]any)
	if name := ports[0].(map[string]any)["name"].(string); !strings.HasPrefix(name, "a</script><script>") {
		t.Errorf("got port name %q, want the hostile name kept as text", name)
	}
	strs := data["strs"].([]any)
	if !slices.ContainsFunc(strs, func(s any) bool { return strings.Contains(s.(string), `<img src=x onerror=alert(1)>`) }) {
		t.Errorf("got strings %q, want the hostile comment kept as text", strs)
	}
	markers := data["markers"].([]any)
	if len(markers) != 1 || !strings.Contains(markers[0].([]any)[2].(string), "</script>") {
		t.Errorf("got markers %v, want the hostile console line kept as text", markers)
	}
}

// writeSizes records the size of each Write.
type writeSizes struct {
	n, largest int
	sum        int64
}

func (w *writeSizes) Write(p []byte) (int, error) {
	w.n++
	w.largest = max(w.largest, len(p))
	w.sum += int64(len(p))
	return len(p), nil
}

// TestPageIsStreamed: the page goes to its writer in pieces of at most
// pageBuffer bytes, however large it is: it is never held whole (the
// audit's 100 000 records of 1 KiB comments took 2.5 GB to write a 327 MB
// page). WriteFile writes the same bytes to the file, and says how many.
func TestPageIsStreamed(t *testing.T) {
	capture := largeCapture(t, 20_000)
	m := build(t, Options{Capture: capture})
	var w writeSizes
	if err := m.WriteHTML(&w); err != nil {
		t.Fatal(err)
	}
	if w.sum < 10*pageBuffer || w.largest > pageBuffer {
		t.Errorf("got a %d-byte page in %d writes of up to %d bytes, want a page of many buffers in writes of at most %d", w.sum, w.n, w.largest, pageBuffer)
	}
	path := filepath.Join(t.TempDir(), "run.html")
	n, err := m.WriteFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(path); err != nil || int64(len(b)) != w.sum || int64(n) != w.sum {
		t.Errorf("got WriteFile of %d bytes (%d in the file, %v), want the %d WriteHTML writes", n, len(b), err, w.sum)
	}
}

// TestFindingPinsAFrameOnce: a finding that cites a frame's record and its
// delivery's (as the checker cites both copies of one frame) is pinned to
// the frame once, and the frame lists the finding once.
func TestFindingPinsAFrameOnce(t *testing.T) {
	f := udpFrame("a", "b", 9, 1, 0)
	m := build(t, Options{Capture: writeTemp(t, "one.pcapng", pcapngFile([]string{"a", "b"}, []string{"", ""}, []rec{
		{0, 1e9, true, f, ""}, {1, 1e9, false, f, ""},
	}))})
	b := &builder{m: m}
	b.findings(checkResult{report: checker.Report{Fail: 1, Findings: []checker.Finding{
		{ID: "X1", Verdict: checker.Fail, Frames: []int{1, 2, 1}, Message: "twice"},
	}}})
	if fd := m.Findings[0]; !slices.Equal(fd.Pins, []int{0}) || !slices.Equal(fd.Frames, []int{1, 2, 1}) {
		t.Errorf("got finding pins %v frames %v, want pins [0] and the frames as cited", fd.Pins, fd.Frames)
	}
	if got := m.Frames[0].Findings; !slices.Equal(got, []int{0}) {
		t.Errorf("got frame 0's findings %v, want [0]", got)
	}
}

// TestPageGroupNumbers: a group's "nums" in the page are its first and last frames' capture numbers.
func TestPageGroupNumbers(t *testing.T) {
	var recs []rec // records 1, 3, ... 9 sent by a, each followed by b's copy
	for i := range 5 {
		f := udpFrame("a", "b", 9, uint32(i), 0)
		recs = append(recs, rec{0, uint64(1e9 + i*1e6), true, f, ""}, rec{1, uint64(1e9 + i*1e6), false, f, ""})
	}
	path := writeTemp(t, "group.pcapng", pcapngFile([]string{"a", "b"}, []string{"", ""}, recs))
	if gs := build(t, Options{Capture: path}).Groups; len(gs) != 1 || gs[0].First != 1 || gs[0].Last != 9 {
		t.Fatalf("got groups %+v, want one of frames 1 to 9", gs)
	}
	gs := pageJSON(t, page(t, Options{Capture: path}))["groups"].([]any)
	if nums := gs[0].(map[string]any)["nums"].([]any); len(nums) != 2 || nums[0] != 1.0 || nums[1] != 9.0 {
		t.Errorf("got the page's group nums %v, want [1 9]", nums)
	}
}
