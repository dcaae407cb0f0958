package report

import (
	"fmt"
	"strings"
	"testing"
)

// failingRunPage writes the failing run's report as TestBrowserFailingRun
// draws it.
func failingRunPage(t *testing.T) string {
	return writePage(t, Options{Capture: failingRun, Check: "nexus-v1",
		Consoles: []Console{{Port: "a", Path: "testdata/failing-run-node-a.log"}, {Port: "b", Path: "testdata/failing-run-node-b.log"}}})
}

// selShown is JS that says whether the selected item is drawn and inside
// the diagram's window.
const selShown = `(() => { const s = document.querySelector('#svg g.item.sel'); if (!s) return false;
	const r = s.getBoundingClientRect(), w = document.getElementById('scroll').getBoundingClientRect();
	return r.bottom > w.top && r.top < w.bottom; })()`

// TestBrowserJumpToFrame: a jump to a frame (the frame box, a finding's
// link, a link in the panel) always draws it, highlighted: it is never
// thinned out, the view zooms in where rows are too dense to tell apart,
// the ports it went to are shown again, and a receiver's copy says so.
func TestBrowserJumpToFrame(t *testing.T) {
	m := build(t, Options{Capture: failingRun})
	fi, _, _ := m.FrameAt(161)
	syn := m.Frames[fi]
	if syn.Label.Text != "TCP SYN" || len(syn.Deliveries) != 1 {
		t.Fatalf("frame 161 is %+v, want the SYN a->b", syn)
	}
	b := newBrowser(t, 1400, 1000)
	b.open(t, failingRunPage(t))

	t.Run("receiver-filtered-out", func(t *testing.T) {
		got := eval[[]any](t, b, `(() => { const cb = document.querySelector('#port-filter input[data-port="1"]'); cb.checked = false;
			cb.dispatchEvent(new Event('change')); window.l2hubReport.gotoFrame(161);
			return [document.querySelector('#detail h3').textContent, `+selShown+`, cb.checked]; })()`)
		if fmt.Sprint(got) != "[Frame 161: TCP SYN true true]" {
			t.Errorf("got [heading, drawn, b shown] %v after a jump to 161 with b filtered out, want the SYN drawn and b shown", got)
		}
	})
	t.Run("dense-time-mode", func(t *testing.T) {
		// In time mode at fit, frames 161-164 are well under a pixel apart.
		got := eval[[]any](t, b, `(() => { const mode = document.getElementById('mode'); mode.value = 'time'; mode.dispatchEvent(new Event('change'));
			document.getElementById('zoom-fit').click(); const S = window.l2hubReport.state, out = [];
			for (const n of [161, 164, 226]) { window.l2hubReport.gotoFrame(n); out.push(n + ':' + `+selShown+`); }
			out.push(S.zoom.time > 1);
			return out; })()`)
		if fmt.Sprint(got) != "[161:true 164:true 226:true true]" {
			t.Errorf("got %v, want each frame drawn after its jump, zoomed in", got)
		}
	})
	t.Run("never-thinned", func(t *testing.T) {
		// Back at fit, rows are thinned; the selected one stays.
		// 164 is under a pixel after 163, also b's and also dropped: thinned but for being selected.
		got := eval[bool](t, b, `(() => { window.l2hubReport.gotoFrame(164); document.getElementById('zoom-fit').click();
			return `+selShown+`; })()`)
		if !got {
			t.Error("got the selected frame 164 not drawn at fit, want it drawn though under a pixel from 163")
		}
	})
	t.Run("zoomed-in-far", func(t *testing.T) {
		// Zoomed in as far as it goes, the page stays short enough for the
		// browser to scroll to the run's last frame.
		got := eval[[]any](t, b, `(() => { for (let i = 0; i < 60; i++) document.getElementById('zoom-in').click();
			window.l2hubReport.gotoFrame(530); return [document.getElementById('spacer').offsetHeight <= 2.5e7 + 200, `+selShown+`]; })()`)
		if fmt.Sprint(got) != "[true true]" {
			t.Errorf("got [page short enough, last frame drawn] %v, want both", got)
		}
	})
	t.Run("a-receivers-copy", func(t *testing.T) {
		n := syn.Deliveries[0].Number
		got := eval[[]string](t, b, fmt.Sprintf(`(() => { window.l2hubReport.gotoFrame(%d);
			return [document.querySelector('#detail h3').textContent, (document.querySelector('#detail p.sel') || {}).textContent || '']; })()`, n))
		if want := fmt.Sprintf("Frame %d (b's copy of frame 161): TCP SYN", n); got[0] != want || !strings.Contains(got[1], fmt.Sprint(n)) {
			t.Errorf("got heading %q, highlighted %q, want %q and its delivery highlighted", got[0], got[1], want)
		}
	})
	if p := b.said(); len(p) > 0 {
		t.Errorf("got the page saying %q, want a quiet console", p)
	}
}

// TestBrowserLongArrows: zoomed in on a delayed delivery, its arrow stays
// drawn while the window is anywhere along it, however far above the
// window it starts.
func TestBrowserLongArrows(t *testing.T) {
	b := newBrowser(t, 1200, 800)
	b.open(t, writePage(t, Options{Capture: "../capture/testdata/scenario.pcapng"}))
	got := eval[[]any](t, b, `(() => { const mode = document.getElementById('mode'); mode.value = 'time'; mode.dispatchEvent(new Event('change'));
		const S = window.l2hubReport.state, sc = document.getElementById('scroll');
		S.zoom.time = 20; window.l2hubReport.relayout(0);
		let line = null;
		for (let top = 0; top < sc.scrollHeight && !line; top += 200) { sc.scrollTop = top; window.l2hubReport.relayout(); line = document.querySelector('#svg line.arrow.delayed'); }
		if (!line) return ['no delayed arrow'];
		const y1 = +line.getAttribute('y1'), y2 = +line.getAttribute('y2'), out = [y2 - y1 > 2 * sc.clientHeight + 800];
		for (const f of [0.3, 0.5, 0.7]) { sc.scrollTop = y1 + f * (y2 - y1) - sc.clientHeight / 2; window.l2hubReport.relayout();
			out.push(document.querySelectorAll('#svg line.arrow.delayed').length); }
		return out; })()`)
	if fmt.Sprint(got) != "[true 1 1 1]" {
		t.Errorf("got [long enough, arrows drawn at 30%%, 50%%, 70%% along] %v, want the delayed arrow drawn all along", got)
	}
	if p := b.said(); len(p) > 0 {
		t.Errorf("got the page saying %q, want a quiet console", p)
	}
}

// reasonOverlaps is JS that lists the drop reasons a label, a marker's
// text or a pin covers (a frame number, in small grey, may run under one).
const reasonOverlaps = `(() => { const boxes = s => Array.from(document.querySelectorAll(s)).map(e => ({t: e.textContent, r: e.getBBox()}));
	const R = boxes('#svg text.reason'), O = boxes('#svg text.lbl, #svg text.mtext, #svg .pin rect');
	const out = [];
	for (const a of R) for (const b of O) {
		const x = Math.min(a.r.x + a.r.width, b.r.x + b.r.width) - Math.max(a.r.x, b.r.x), y = Math.min(a.r.y + a.r.height, b.r.y + b.r.height) - Math.max(a.r.y, b.r.y);
		if (x > 2 && y > 2) out.push(a.t + ' X ' + b.t); }
	return [R.length, out]; })()`

// TestBrowserDropReasons: at the first view, a drop's reason is not
// covered by the next row's label (nor by any other text).
func TestBrowserDropReasons(t *testing.T) {
	for _, tt := range []struct {
		name string
		opts Options
	}{
		{"failing-run", Options{Capture: failingRun, Check: "nexus-v1",
			Consoles: []Console{{Port: "a", Path: "testdata/failing-run-node-a.log"}, {Port: "b", Path: "testdata/failing-run-node-b.log"}}}},
		{"healthy", Options{Capture: healthyNexus, Check: "nexus-v1"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := newBrowser(t, 1400, 1000)
			b.open(t, writePage(t, tt.opts))
			if tt.name == "failing-run" { // to the partition
				eval[any](t, b, `(() => { window.l2hubReport.gotoFrame(163); return null; })()`)
			}
			got := eval[[]any](t, b, reasonOverlaps)
			if n, _ := got[0].(float64); n == 0 || len(got[1].([]any)) > 0 {
				t.Errorf("got %v reasons, covered: %q; want reasons, none covered", got[0], got[1])
			}
		})
	}
}

// TestBrowserFindingsAtAGlance: on a laptop's window the verdict and the
// failing and warning findings show without scrolling.
func TestBrowserFindingsAtAGlance(t *testing.T) {
	b := newBrowser(t, 1024, 640)
	b.open(t, failingRunPage(t))
	got := eval[[]any](t, b, `(() => { const h = document.getElementById('top').getBoundingClientRect();
		return ['#verdict', '#findings tr.v-fail', '#findings tr.v-warn'].map(s => { const e = document.querySelector(s); if (!e) return s + ' missing';
			const r = e.getBoundingClientRect(); return r.top >= h.top && r.bottom <= h.bottom; }); })()`)
	if fmt.Sprint(got) != "[true true true]" {
		t.Errorf("got [verdict, fail row, warn row] in view: %v, want all three", got)
	}
}

// TestBrowserLongNames: a long port name is cut to its column (the whole
// name in its title), and a long partition's label to the room left of
// its band.
func TestBrowserLongNames(t *testing.T) {
	long := "a-very-long-port-name-of-the-left-vm-0001"
	rule := "a-partition-with-a-rather-long-name-indeed-and-more"
	frame := udpFrame("a", "b", 9, 1, 0)
	capture := writeTemp(t, "long.pcapng", pcapngFile([]string{long, "b"}, []string{"tcp", "tcp"}, []rec{
		{0, 1e9, true, frame, ""},
		{1, 1e9, false, frame, ""},
		{0, 2e9, true, frame, "dropped: " + long + "->b: rule " + rule + ": partition (" + long + "|b)"},
		{0, 3e9, true, frame, "dropped: " + long + "->b: rule " + rule + ": partition (" + long + "|b)"},
	}))
	b := newBrowser(t, 1024, 700)
	b.open(t, writePage(t, Options{Capture: capture}))
	got := eval[[]any](t, b, `(() => { const heads = Array.from(document.querySelectorAll('#heads .head'));
		const r = heads.map(h => h.querySelector('b').getBoundingClientRect());
		let apart = true; for (let i = 1; i < r.length; i++) if (r[i - 1].right > r[i].left) apart = false;
		const band = Array.from(document.querySelectorAll('#svg text.bandlbl')).map(e => e.getBBox().x);
		return [apart, heads[0].title.indexOf('`+long+`') === 0, band.length > 0 && Math.min(...band) >= 0]; })()`)
	if fmt.Sprint(got) != "[true true true]" {
		t.Errorf("got [heads apart, full name in title, band label on the page] %v, want all", got)
	}
	if p := b.said(); len(p) > 0 {
		t.Errorf("got the page saying %q, want a quiet console", p)
	}
}
