package report

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

var (
	screenshotTo = flag.String("screenshot", "", "write the browser test's screenshot of the failing run to this PNG (the README's is ../docs/report-failing-run.png)")
	large        = flag.Bool("large", false, "also measure a 100 000-frame report in the browser (file size, time to first paint; logged, not asserted)")
)

// browserStartGuard bounds Chromium's start; reaching it means the browser
// hangs. It decides no pass.
const browserStartGuard = 3 * time.Minute

// chromium returns Debian's Chromium (or another Chrome on PATH), or skips.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("skipped: no Chromium on PATH (apt-get install chromium, as .ci/run does, to run the browser test)")
	return ""
}

// browser is a headless Chromium with a fresh profile, and what the page
// said on its console.
type browser struct {
	ctx context.Context

	mu       sync.Mutex
	problems []string // console errors and warnings, uncaught exceptions, browser log errors
}

func newBrowser(t *testing.T, width, height int) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.NoSandbox, // the tests run as root, which Chromium's sandbox refuses
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(width, height),
		// chromedp waits 20 s by default for Chromium to print its DevTools
		// address, which a loaded machine can take: this bound only
		// catches a browser that never starts.
		chromedp.WSURLReadTimeout(browserStartGuard),
	)
	b := &browser{}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithListener(b.listen))
	t.Cleanup(func() { cancel(); cancelAlloc() })
	b.ctx = ctx
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("starting %s: %v", chromium(t), err)
	}
	return b
}

// listen keeps what the page says that a quiet page does not: console
// errors and warnings, uncaught exceptions and the browser's own errors
// (a blocked load, a Content-Security-Policy violation).
func (b *browser) listen(ev any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeWarning || ev.Type == runtime.ConsoleAPICalledTypeAssert {
			var args []string
			for _, a := range ev.Args {
				args = append(args, string(a.Value)+a.Description)
			}
			b.problems = append(b.problems, fmt.Sprintf("console.%s: %s", ev.Type, strings.Join(args, " ")))
		}
	case *runtime.EventExceptionThrown:
		what := ev.ExceptionDetails.Text
		if ex := ev.ExceptionDetails.Exception; ex != nil {
			what += " " + ex.Description
		}
		b.problems = append(b.problems, fmt.Sprintf("uncaught at %d:%d: %s", ev.ExceptionDetails.LineNumber+1, ev.ExceptionDetails.ColumnNumber+1, what))
	case *cdplog.EventEntryAdded:
		if ev.Entry.Level == cdplog.EntryLevelError || ev.Entry.Level == cdplog.EntryLevelWarning {
			b.problems = append(b.problems, fmt.Sprintf("browser log %s (%s): %s %s", ev.Entry.Level, ev.Entry.Source, ev.Entry.Text, ev.Entry.URL))
		}
	}
}

// open loads a page and waits until its script has drawn it.
func (b *browser) open(t *testing.T, path string) {
	t.Helper()
	abs, err := filepath.Abs(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(b.ctx, chromedp.Navigate("file://"+abs)); err != nil {
		t.Fatalf("opening %s: %v (the page said: %q)", path, err, b.said())
	}
	// A script that throws never marks the page ready: stop waiting once
	// the page has said something, rather than until the test times out.
	deadline := time.Now().Add(pageReadyGuard)
	for {
		ready, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](`document.body !== null && document.body.getAttribute('data-ready') === '1'`))
		switch {
		case err != nil:
			t.Fatalf("opening %s: %v (the page said: %q)", path, err, b.said())
		case ready:
			return
		case len(b.said()) > 0 || time.Now().After(deadline):
			t.Fatalf("opening %s: the page's script did not finish drawing (the page said: %q)", path, b.said())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// pageReadyGuard bounds the wait for a page's script to draw; reaching it
// means the script hangs or died quietly.
const pageReadyGuard = time.Minute

// eval evaluates js in the page and decodes its value.
func eval[T any](t *testing.T, b *browser, js string) T {
	t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("evaluating %s: %v (the page said: %q)", js, err, b.said())
	}
	return v
}

func (b *browser) said() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.problems)
}

// shown is what a person sees of the page, read from its DOM.
type shown struct {
	Lifelines   []string
	Heads       []string
	Hub         int
	FindingRows int
	Verdict     string
	Bands       int
	BandLabels  []string
	Crosses     int
	Markers     int
	MarkerTexts []string
	Labels      []string
	Reasons     []string
	Pins        []string
	Drawn       int
	Title       string
	Images      int
	FirstPaint  float64 // ms after navigation started; -1 if the browser reports none
	Rendered    float64 // ms when the script had drawn the first view
}

const readPage = `(() => {
  const all = s => Array.from(document.querySelectorAll(s));
  const texts = s => all(s).map(e => e.textContent);
  const paint = performance.getEntriesByName('first-contentful-paint')[0];
  return {
    Lifelines: all('#svg line.lifeline').map(e => e.getAttribute('data-port')),
    Heads: all('#heads .head').map(e => e.getAttribute('data-port')),
    Hub: all('#svg line.hubline').length,
    FindingRows: all('#findings tbody tr').length,
    Verdict: document.getElementById('verdict').textContent,
    Bands: all('#svg rect.band').length,
    BandLabels: texts('#svg text.bandlbl'),
    Crosses: all('#svg path.cross').length,
    Markers: all('#svg path.marker').length,
    MarkerTexts: texts('#svg text.mtext'),
    Labels: texts('#svg text.lbl'),
    Reasons: texts('#svg text.reason'),
    Pins: texts('#svg .pin text'),
    Drawn: +document.body.getAttribute('data-drawn'),
    Title: document.title,
    Images: all('img').length,
    FirstPaint: paint ? paint.startTime : -1,
    Rendered: +document.body.getAttribute('data-render-ms'),
  };
})()`

func (b *browser) shown(t *testing.T) shown {
	t.Helper()
	return eval[shown](t, b, readPage)
}

func (b *browser) screenshot(t *testing.T) []byte {
	t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	return png
}

func writePage(t *testing.T, opts Options) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "run.html")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := Write(f, opts); err != nil {
		t.Fatal(err)
	}
	return path
}

func anyContains(list []string, sub string) bool {
	return slices.ContainsFunc(list, func(s string) bool { return strings.Contains(s, sub) })
}

// TestBrowserFailingRun opens the report of the e2e suite's failing nexus
// run in headless Chromium: it must draw its lifelines, the findings
// table, the announces, the SYN, the partition band, the drops with their
// reason and the VMs' markers, and say nothing on its console.
func TestBrowserFailingRun(t *testing.T) {
	path := writePage(t, Options{Capture: failingRun, Check: "nexus-v1", Title: "e2e: the failing nexus run (partition a|b from the first SYN)",
		Consoles: []Console{{Port: "a", Path: "testdata/failing-run-node-a.log"}, {Port: "b", Path: "testdata/failing-run-node-b.log"}}})
	m := build(t, Options{Capture: failingRun, Check: "nexus-v1"})
	b := newBrowser(t, 1400, 1350)
	b.open(t, path)
	png := b.screenshot(t)
	if len(png) < 8 || string(png[1:4]) != "PNG" {
		t.Fatalf("got a screenshot of %d bytes that is not a PNG", len(png))
	}
	if *screenshotTo != "" {
		if err := os.WriteFile(*screenshotTo, png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s := b.shown(t)
	if !slices.Equal(s.Lifelines, []string{"a", "b"}) || s.Hub != 1 || !slices.Equal(s.Heads, []string{"a", "hub", "b"}) {
		t.Errorf("got lifelines %q, hub %d, heads %q, want a and b on either side of the hub", s.Lifelines, s.Hub, s.Heads)
	}
	if s.FindingRows != len(m.Findings) || !strings.Contains(s.Verdict, "FAIL") {
		t.Errorf("got %d finding rows, verdict %q, want %d rows and FAIL", s.FindingRows, s.Verdict, len(m.Findings))
	}
	if s.Bands == 0 || !anyContains(s.BandLabels, "partition split a|b") {
		t.Errorf("got %d bands labelled %q, want the partition split a|b", s.Bands, s.BandLabels)
	}
	if s.Crosses == 0 || !anyContains(s.Reasons, "rule split: partition (a|b)") {
		t.Errorf("got %d crosses, reasons %q, want drops with the partition's reason", s.Crosses, s.Reasons)
	}
	for _, want := range []string{"NXSB announce ×", "TCP SYN", "TCP SYN-ACK"} {
		if !anyContains(s.Labels, want) {
			t.Errorf("got labels %q, want one with %q", s.Labels, want)
		}
	}
	if s.Markers == 0 || !anyContains(s.MarkerTexts, "GUEST: nexus FAIL") || !anyContains(s.MarkerTexts, "GUEST: nexus discovery ok node-b") {
		t.Errorf("got %d markers %q, want node-a's FAIL and node-b's discovery", s.Markers, s.MarkerTexts)
	}
	if !slices.Contains(s.Pins, "SESS-001") {
		t.Errorf("got pins %q, want SESS-001 on the SYN", s.Pins)
	}
	t.Logf("drawn %d rows; first contentful paint %.0f ms, drawn at %.0f ms", s.Drawn, s.FirstPaint, s.Rendered)

	// A click on a frame number shows its bytes and decoded headers.
	detail := eval[struct{ Head, Hex, Layers string }](t, b, `(() => { window.l2hubReport.gotoFrame(161); const d = document.getElementById('detail');
		return {Head: d.querySelector('h3').textContent, Hex: (d.querySelector('pre.hex')||{}).textContent || '',
			Layers: Array.from(d.querySelectorAll('.layer b')).map(e => e.textContent).join(',')}; })()`)
	if detail.Head != "Frame 161: TCP SYN" || !strings.HasPrefix(detail.Hex, "0000  52 54 00 12 34 0b") || detail.Layers != "Ethernet II,IPv4,TCP" {
		t.Errorf("got detail %+v, want frame 161's SYN with its hex dump and Ethernet, IPv4, TCP headers", detail)
	}
	// A group opens on a click; the protocol filter hides what it names.
	rows := eval[[2]int](t, b, `(() => { const before = +document.body.getAttribute('data-drawn');
		document.querySelector('#svg g[data-k="g"] line.hit').dispatchEvent(new MouseEvent('click', {bubbles: true}));
		return [before, +document.body.getAttribute('data-drawn')]; })()`)
	if rows[1] <= rows[0] {
		t.Errorf("got %d rows drawn after opening a group, %d before, want more", rows[1], rows[0])
	}
	labels := eval[[]string](t, b, `(() => { const cb = document.querySelector('#proto-filter input[data-proto="NXSB"]'); cb.checked = false;
		cb.dispatchEvent(new Event('change')); return Array.from(document.querySelectorAll('#svg text.lbl')).map(e => e.textContent); })()`)
	if anyContains(labels, "NXSB") || !anyContains(labels, "TCP SYN") {
		t.Errorf("got labels %q with announces filtered out, want no announce and the SYN", labels)
	}
	// Every other control once: a marker, the band, a pin, a finding row,
	// time mode, zoom, fit, a port filtered out, expanding every group.
	heads := eval[string](t, b, `(() => {
		const click = (sel) => { const e = document.querySelector(sel); if (!e) throw new Error('no ' + sel);
			e.dispatchEvent(new MouseEvent('click', {bubbles: true})); return document.querySelector('#detail h3').textContent; };
		const out = [];
		out.push(click('#svg g[data-k="m"] path.marker'));
		out.push(click('#svg g[data-k="b"] rect'));
		out.push(click('#findings tbody tr'));
		const mode = document.getElementById('mode'); mode.value = 'time'; mode.dispatchEvent(new Event('change'));
		document.getElementById('zoom-in').click(); document.getElementById('zoom-out').click(); document.getElementById('zoom-fit').click();
		document.dispatchEvent(new KeyboardEvent('keydown', {key: '+'}));
		const cb = document.querySelector('#port-filter input[data-port="1"]'); cb.checked = false; cb.dispatchEvent(new Event('change'));
		document.getElementById('expand').click();
		out.push(Array.from(document.querySelectorAll('#heads .head')).map(e => e.getAttribute('data-port')).join(','));
		return out.join(' | '); })()`)
	if want := "Console of a | Partition split | FAIL SESS-002 | a,hub"; heads != want && !strings.HasPrefix(heads, "Console of b | Partition split | FAIL SESS-002 | a,hub") {
		t.Errorf("got %q after using the controls, want %q", heads, want)
	}
	if p := b.said(); len(p) > 0 {
		t.Errorf("got the page saying %q, want a quiet console", p)
	}
}

// TestBrowserHostileText opens a report whose port name, comment, frame
// bytes and console line try to run a script: the page shows them as text.
func TestBrowserHostileText(t *testing.T) {
	capture := hostileCapture(t)
	m := build(t, Options{Capture: capture})
	log := writeTemp(t, "a.log", []byte("  1.5 "+hostile+"\n"))
	path := writePage(t, Options{Capture: capture, Title: hostile, Consoles: []Console{{Port: m.Ports[0].Name, Path: log}}})
	b := newBrowser(t, 1200, 800)
	b.open(t, path)
	s := b.shown(t)
	// The hostile script would set the title to "pwned"; the img would be an element.
	if !strings.HasPrefix(s.Title, "</script><script>document.title=") || s.Images != 0 {
		t.Errorf("got title %q and %d images, want the hostile text inert, shown as text", s.Title, s.Images)
	}
	if !anyContains(s.Heads, "</script><script>") || !anyContains(s.MarkerTexts, "</script><script>") {
		t.Errorf("got heads %q, markers %q, want the hostile text shown as text", s.Heads, s.MarkerTexts)
	}
	if p := b.said(); len(p) > 0 {
		t.Errorf("got the page saying %q, want a quiet console", p)
	}
}

// TestBrowserHostileTextInPanels: text only a click shows (the detail panel's rows, a delivery's comment, a drop's reason, a band's rule name) stays text.
func TestBrowserHostileTextInPanels(t *testing.T) {
	const img = `<img/src=x>` // an element if parsed as HTML, whatever the CSP lets it do
	frame := udpFrame("a", "b", 37020, 1, 0)
	capture := writeTemp(t, "hostile-panels.pcapng", pcapngFile([]string{"a", "b", "c"}, []string{"", "", ""}, []rec{
		{0, 1e9, true, frame, "dropped: a->b: rule " + img + ": partition (a|b,c)"}, // a band, and a drop's reason
		{0, 2e9, true, frame, hostile},                                              // the frame's comment
		{1, 2e9, false, frame, "rule x: delay (" + hostile + ")"},                   // a delivery's comment
	}))
	if m := build(t, Options{Capture: capture}); len(m.Bands) != 1 || !strings.Contains(m.Bands[0].Name+m.Bands[0].Spec, img) {
		t.Fatalf("got bands %+v, want one whose rule name is %q", m.Bands, img)
	}
	b := newBrowser(t, 1200, 800)
	b.open(t, writePage(t, Options{Capture: capture}))
	// Images in the page after each view, and what the panel shows last.
	got := eval[[]string](t, b, `(() => {
		const imgs = () => String(document.querySelectorAll('img').length);
		const out = ['notes ' + imgs()];
		for (const n of [1, 2, 3]) { window.l2hubReport.gotoFrame(n); out.push('frame ' + n + ' ' + imgs()); }
		document.querySelectorAll('#notes li.band a.fn').forEach(a => a.click());
		out.push('band ' + imgs(), 'panel ' + document.getElementById('detail').textContent.includes('<img'));
		return out; })()`)
	if want := []string{"notes 0", "frame 1 0", "frame 2 0", "frame 3 0", "band 0", "panel true"}; !slices.Equal(got, want) {
		t.Errorf("got %q after each view, want %q: no image anywhere, the hostile text shown as text", got, want)
	}
	if p := b.said(); len(p) > 0 {
		t.Errorf("got the page saying %q, want a quiet console", p)
	}
}

// TestBrowserLarge measures a report of a 100 000-frame capture: its size,
// the time to build it, and the browser's first paint. It asserts only
// that the page draws without errors; the figures go to the README.
// Run: go test ./report -run TestBrowserLarge -large -v
func TestBrowserLarge(t *testing.T) {
	if !*large {
		t.Skip("skipped: a measurement; run with -large")
	}
	capture := largeCapture(t, 100_000)
	began := time.Now()
	path := writePage(t, Options{Capture: capture, Check: "nexus-v1"})
	built := time.Since(began)
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	m := build(t, Options{Capture: capture})
	b := newBrowser(t, 1400, 1000)
	began = time.Now()
	b.open(t, path)
	opened := time.Since(began)
	s := b.shown(t)
	scroll := eval[float64](t, b, `(() => { const t0 = performance.now(); const el = document.getElementById('scroll');
		for (let i = 1; i <= 20; i++) { el.scrollTop = i * el.scrollHeight / 21; el.dispatchEvent(new Event('scroll')); window.l2hubReport.relayout(); }
		return (performance.now() - t0) / 20; })()`)
	expand := eval[float64](t, b, `(() => { const t0 = performance.now(); document.getElementById('expand').click(); return performance.now() - t0; })()`)
	expanded := b.shown(t)
	info, _ := json.Marshal(map[string]any{
		"records": m.Records, "frames": len(m.Frames), "groups": len(m.Groups), "page_bytes": st.Size(),
		"build_ms": built.Milliseconds(), "first_contentful_paint_ms": s.FirstPaint, "drawn_at_ms": s.Rendered,
		"open_to_ready_ms": opened.Milliseconds(), "relayout_and_draw_ms": scroll, "rows_drawn": s.Drawn,
		"expand_all_ms": expand, "rows_drawn_expanded": expanded.Drawn,
	})
	t.Logf("100 000-frame report: %s", info)
	if len(s.Lifelines) == 0 || s.Drawn == 0 {
		t.Errorf("got %d lifelines and %d rows drawn, want a drawn page", len(s.Lifelines), s.Drawn)
	}
	if p := b.said(); len(p) > 0 {
		t.Errorf("got the page saying %q, want a quiet console", p)
	}
}
