package report

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"l2hub/capture"
	"l2hub/filter"
	"l2hub/hub"
)

// A change made through the control API after the last frame (a link taken
// down just before the hub stopped) is in the capture's trailer: the
// report draws its marker and its band all the same.
func TestChangeAfterTheLastFrame(t *testing.T) {
	path, s := openRun(t)
	frame := udpFrame("a", "b", 37020, 1, 0)
	s.Observe(&hub.Event{Time: t0, Port: 0, PortName: "a", Dir: hub.Ingress, Frame: frame})
	s.Observe(&hub.Event{Time: t0, Port: 1, PortName: "b", Dir: hub.Egress, Frame: frame})
	down := filter.Edit{At: 2 * time.Second, Op: filter.EditLinkDown, Name: "b"}
	s.Annotate("control at 2s: " + down.String() + "\n" + down.Line())
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	m := build(t, Options{Capture: path})
	var marks []string
	for _, mk := range m.Markers {
		if mk.Class == "control" {
			marks = append(marks, mk.Text)
			if mk.Port != -1 || mk.Line != 2 {
				t.Errorf("marker %+v: want it on the hub's line (-1), noted after frame 2", mk)
			}
		}
	}
	if len(marks) != 1 || marks[0] != "control: "+down.String() {
		t.Errorf("got control markers %q, want the link going down", marks)
	}
	var bands []string
	for _, b := range m.Bands {
		bands = append(bands, b.Kind+" "+b.Spec)
	}
	if len(bands) != 1 || bands[0] != "down port b" {
		t.Errorf("got bands %q, want the link down on port b", bands)
	}
	if m.Duration < down.At {
		t.Errorf("the time axis ends at %v, before the change at %v", m.Duration, down.At)
	}
}

// A capture that lost events (its writer fell behind) says so, and the
// report warns that it does not draw them.
func TestLostEventsAreWarned(t *testing.T) {
	path, s := openRun(t)
	s.Annotate("capture: 5 events missing before this one (the writer fell behind)")
	s.Observe(&hub.Event{Time: t0, Port: 0, PortName: "a", Dir: hub.Ingress, Frame: udpFrame("a", "b", 37020, 1, 0)})
	s.Annotate("capture: 2 events missing after the last record (the writer fell behind)")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	m := build(t, Options{Capture: path})
	if !slices.ContainsFunc(m.Warnings, func(w string) bool { return strings.Contains(w, "the capture lost 7 events") }) {
		t.Errorf("got warnings %q, want the 7 lost events", m.Warnings)
	}
}

// A capture that had no room for a burst of annotations says how many
// lines it left out, on the next frame and in the trailer; the report
// warns that it does not draw what they made.
func TestLeftOutLinesAreWarned(t *testing.T) {
	path, s := openRun(t)
	line := strings.Repeat("x", 1000)
	for range 600 { // past what waits for a frame: some are left out
		s.Annotate(line)
	}
	s.Observe(&hub.Event{Time: t0, Port: 0, PortName: "a", Dir: hub.Ingress, Frame: udpFrame("a", "b", 37020, 1, 0)})
	for range 600 { // after the last frame: the trailer
		s.Annotate(line)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := capture.NewReader(f, capture.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var want uint64
	for p, err := range r.All() {
		if err != nil {
			t.Fatal(err)
		}
		want += capture.LinesLeftOut(p.Comment)
	}
	want += capture.LinesLeftOut(r.Trailer())
	if want == 0 {
		t.Fatal("the capture left no line out: the test needs more annotations")
	}
	m := build(t, Options{Capture: path})
	if w := fmt.Sprintf("the capture left out %d comment lines", want); !slices.ContainsFunc(m.Warnings, func(s string) bool { return strings.HasPrefix(s, w) }) {
		t.Errorf("got warnings %q, want one that starts %q", m.Warnings, w)
	}
}

// t0 is when openRun's captures start.
var t0 = time.Unix(1000, 0)

// openRun opens a capture of ports a and b in a temporary directory.
func openRun(t *testing.T) (string, *capture.Sink) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "run.pcapng")
	s, err := capture.Open(capture.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	s.PortAdded(hub.PortInfo{ID: 0, Name: "a"})
	s.PortAdded(hub.PortInfo{ID: 1, Name: "b"})
	return path, s
}

// Console lines and control changes stamped far from the capture (a year
// 9999, a year 1, a clock that was never set) would leave the page's time
// axis empty but for them: those more than a day before its start or
// after its last frame are left out, and a warning counts them.
func TestFarMarkersAreLeftOut(t *testing.T) {
	path, s := openRun(t)
	frame := udpFrame("a", "b", 37020, 1, 0)
	s.Observe(&hub.Event{Time: t0, Port: 0, PortName: "a", Dir: hub.Ingress, Frame: frame})
	s.Observe(&hub.Event{Time: t0.Add(time.Second), Port: 1, PortName: "b", Dir: hub.Egress, Frame: frame})
	late := filter.Edit{At: 99 * 365 * 24 * time.Hour, Op: filter.EditLinkDown, Name: "b"}
	s.Annotate("control: " + late.String() + "\n" + late.Line())
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	log := writeTemp(t, "a.log", []byte("9999-12-31T23:59:59Z far future\n0001-01-01T00:00:00Z far past\n  0.5 booted\n"+
		"  86000.0 nearly a day after the last frame\n  200000.0 two days on\n"))
	m := build(t, Options{Capture: path, Consoles: []Console{{Port: "a", Path: log}}})
	var got []string
	for _, mk := range m.Markers {
		got = append(got, mk.Text)
	}
	if want := []string{"booted", "nearly a day after the last frame"}; !slices.Equal(got, want) {
		t.Errorf("got markers %q, want %q", got, want)
	}
	if want := 86000 * time.Second; m.Duration != want {
		t.Errorf("got the time axis ending at %v, want %v", m.Duration, want)
	}
	for _, want := range []string{
		"console a.log: 3 lines stamped more than 24h0m0s before the capture's start or after its last frame are not drawn (the first: line 1)",
		"1 changes made through the control API are stamped more than 24h0m0s before the capture's start or after its last frame and are not drawn (the first: on record 2)",
	} {
		if !slices.Contains(m.Warnings, want) {
			t.Errorf("got warnings %q, want %q", m.Warnings, want)
		}
	}
}

// A capture notes each VM's attaching and leaving: the report puts them on
// the port's lifeline at their times, the detach noted after the last
// frame included, and draws no marker for a port it does not describe.
func TestPeerChangesAreMarked(t *testing.T) {
	path, s := openRun(t)
	s.PeerChanged(hub.PeerEvent{At: 0, Port: 0, PortName: "a", Peer: "tcp 127.0.0.1:7001 from 127.0.0.1:4000", Attached: true})
	s.PeerChanged(hub.PeerEvent{At: 0, Port: 5, PortName: "nosuch", Attached: true})
	frame := udpFrame("a", "b", 37020, 1, 0)
	s.Observe(&hub.Event{Time: t0, Port: 0, PortName: "a", Dir: hub.Ingress, Frame: frame})
	s.Observe(&hub.Event{Time: t0, Port: 1, PortName: "b", Dir: hub.Egress, Frame: frame, Dropped: true,
		Notes: []hub.Note{{Action: "port-down", Detail: "no VM attached to the port"}}})
	s.PeerChanged(hub.PeerEvent{At: time.Second, Port: 0, PortName: "a", Attached: false, Reason: "read: EOF"})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	m := build(t, Options{Capture: path})
	var got []string
	for _, mk := range m.Markers {
		got = append(got, fmt.Sprintf("%d %s %s line %d", mk.Port, mk.Time, mk.Text, mk.Line))
	}
	want := []string{"0 0s VM attached (tcp 127.0.0.1:7001 from 127.0.0.1:4000) line 1", "0 1s VM detached (read: EOF) line 2"}
	if !slices.Equal(got, want) {
		t.Errorf("got markers %q, want %q", got, want)
	}
	for _, f := range m.Frames {
		if strings.Contains(f.Comment, hub.PeerPrefix) {
			t.Errorf("frame %d's comment shows the peer record: %q", f.Number, f.Comment)
		}
	}
}

// A capture whose header says the hub started far before its first
// record (a crafted start=1700-01-01, past what a Duration spans) has time
// zero at its first record and says so: the audit's put every frame and
// group at 292 years. A capture that starts days into a run (a later part
// of a rotated capture, a hub idle for days) keeps the run's time, which
// policies' windows count from (the review: three days in, its time zero
// was moved and its header called crafted).
func TestFarHeaderStart(t *testing.T) {
	for _, tt := range []struct {
		name  string
		start time.Time
		zero  time.Time // the page's time zero
		times []string
	}{
		{"crafted", time.Date(1700, 1, 1, 0, 0, 0, 0, time.UTC), t0, []string{"0.000s", "1.000s", "2.000s"}},
		{"three-days-in", t0.Add(-72 * time.Hour), t0.Add(-72 * time.Hour), []string{"259200.000s", "259201.000s", "259202.000s"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "run.pcapng")
			s, err := capture.Open(capture.Config{Path: path, Meta: capture.Meta{Version: "test", Start: tt.start}})
			if err != nil {
				t.Fatal(err)
			}
			s.PortAdded(hub.PortInfo{ID: 0, Name: "a"})
			s.PortAdded(hub.PortInfo{ID: 1, Name: "b"})
			frame := udpFrame("a", "b", 37020, 1, 0)
			for i := range 3 {
				at := t0.Add(time.Duration(i) * time.Second)
				s.Observe(&hub.Event{Time: at, Port: 0, PortName: "a", Dir: hub.Ingress, Frame: frame})
				s.Observe(&hub.Event{Time: at, Port: 1, PortName: "b", Dir: hub.Egress, Frame: frame})
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			m := build(t, Options{Capture: path})
			var times []string
			for _, f := range m.Frames {
				times = append(times, fmtDur(f.Time))
			}
			if !m.Start.Equal(tt.zero) || !slices.Equal(times, tt.times) {
				t.Errorf("got start %s, frames at %q; want %s and %q", m.Start, times, tt.zero, tt.times)
			}
			warned := hasWarning(m, "more than 100 days before the capture's first record: time zero is that record's time")
			if want := tt.zero.Equal(t0); warned != want {
				t.Errorf("got warnings %q, want one about the header's start: %v", m.Warnings, want)
			}
		})
	}
}

// A plain QEMU console (-serial stdio, no stamps but the kernel's): the
// lines without a stamp are counted in a warning, not dropped in silence,
// and the kernel's [seconds] stamps, which count from the guest's boot,
// are said to need offset= (or a # t0= line); with offset= they are not.
func TestPlainConsoleWarns(t *testing.T) {
	path, s := openRun(t)
	frame := udpFrame("a", "b", 37020, 1, 0)
	s.Observe(&hub.Event{Time: t0, Port: 0, PortName: "a", Dir: hub.Ingress, Frame: frame})
	s.Observe(&hub.Event{Time: t0.Add(5 * time.Second), Port: 1, PortName: "b", Dir: hub.Egress, Frame: frame})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	log := writeTemp(t, "a.log", []byte("GUEST: up ip=10.0.0.1/24\n\n# a comment\nGUEST: ping ok\n[    3.889950] reboot: Power down\n"))
	m := build(t, Options{Capture: path, Consoles: []Console{{Port: "a", Path: log}}})
	for _, want := range []string{
		"console a.log: 2 of 3 lines have no time stamp and are not drawn",
		"console a.log: 1 line carries the kernel's [seconds] stamps, which count from the guest's boot",
	} {
		if !hasWarning(m, want) {
			t.Errorf("got warnings %q, want one saying %q", m.Warnings, want)
		}
	}
	m = build(t, Options{Capture: path, Consoles: []Console{{Port: "a", Path: log, Match: regexp.MustCompile("GUEST:")}}})
	if hasWarning(m, "kernel's [seconds] stamps") {
		t.Errorf("got warnings %q, want none about the kernel's stamps: match= leaves out the line that has them", m.Warnings)
	}
	m = build(t, Options{Capture: path, Consoles: []Console{{Port: "a", Path: log, Offset: ptr(time.Second)}}})
	if hasWarning(m, "kernel's [seconds] stamps") {
		t.Errorf("got warnings %q, want none about the kernel's stamps: offset= places them", m.Warnings)
	}
}
