package report

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"l2hub/capture"
	"l2hub/conformance/checker"
	"l2hub/hub/hubtest"
)

// TestLayoutGoldens pins the layout model of every capture in the
// repository: which arrows (sender, receivers, labels, drops, delays,
// duplicates), groups, bands, markers and pins each gives.
// Regenerate with: go test ./report -run TestLayoutGoldens -update
func TestLayoutGoldens(t *testing.T) {
	failingConsoles := []Console{
		{Port: "a", Path: "testdata/failing-run-node-a.log"},
		{Port: "b", Path: "testdata/failing-run-node-b.log"},
	}
	tests := []struct {
		name string
		opts Options
	}{
		{"capture-scenario", Options{Capture: scenario}},
		{"hubtest-scenario", Options{Capture: hubScenario}},
		{"replay-l2hub-capture", Options{Capture: replayRun}},
		{"per-vm-pcap", Options{Capture: perVMPcap}},
		{"healthy-nexus", Options{Capture: healthyNexus, Check: "nexus-v1"}},
		{"wrong-key", Options{Capture: wrongKey, Check: "nexus-v1"}},
		{"failing-run", Options{Capture: failingRun, Check: "nexus-v1", Consoles: failingConsoles}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := build(t, tt.opts)
			everyRecordDrawn(t, m)
			golden(t, tt.name+".layout", describe(m))
		})
	}
}

// everyRecordDrawn checks that each record of the capture is somewhere in
// the diagram, under its own number.
func everyRecordDrawn(t *testing.T, m *Model) {
	t.Helper()
	for n := 1; n <= m.Records; n++ {
		fi, di, ok := m.FrameAt(n)
		if !ok {
			t.Errorf("got record %d not drawn, want every record in the diagram", n)
			continue
		}
		f := m.Frames[fi]
		switch {
		case di >= 0 && f.Deliveries[di].Number != n:
			t.Errorf("got record %d drawn as delivery %d numbered %d", n, di, f.Deliveries[di].Number)
		case di < 0 && f.Number != n && !slices.Contains(f.Copies, n) && !slices.ContainsFunc(f.Drops, func(d Drop) bool { return d.Number == n }) && f.More == 0:
			t.Errorf("got record %d drawn as frame %d numbered %d", n, fi, f.Number)
		}
	}
}

// TestFailingRun is issue 17's picture of the e2e suite's failing nexus
// run: the ports, the announces, the SYN that started the partition, the
// partition band, the drops with their reason and the VMs' markers.
func TestFailingRun(t *testing.T) {
	m := build(t, Options{Capture: failingRun, Check: "nexus-v1", Consoles: []Console{
		{Port: "a", Path: "testdata/failing-run-node-a.log"},
		{Port: "b", Path: "testdata/failing-run-node-b.log"},
	}})
	if got := []string{m.Ports[0].Name, m.Ports[1].Name}; len(m.Ports) != 2 || got[0] != "a" || got[1] != "b" {
		t.Fatalf("got ports %v, want a and b", m.Ports)
	}
	a, b := 0, 1
	// node-a's SYN reaches node-b; the partition starts with it, and the
	// SYN-ACK is the first frame it drops.
	syn := slices.IndexFunc(m.Frames, func(f Frame) bool { return f.Label.Text == "TCP SYN" })
	if syn < 0 {
		t.Fatal("got no frame labelled TCP SYN")
	}
	if f := m.Frames[syn]; f.From != a || len(f.Deliveries) != 1 || f.Deliveries[0].To != b || len(f.Drops) != 0 {
		t.Errorf("got SYN %+v, want it sent by a and delivered to b", f)
	}
	if len(m.Bands) != 1 {
		t.Fatalf("got %d bands, want the one partition", len(m.Bands))
	}
	band := m.Bands[0]
	synAck := m.Frames[syn+1]
	if band.Kind != "partition" || band.Name != "split" || band.Spec != "a|b" || !slices.Equal(band.Ports, []int{a, b}) {
		t.Errorf("got band %+v, want partition split a|b across a and b", band)
	}
	if synAck.Label.Text != "TCP SYN-ACK" || band.First != synAck.Number || band.Start != synAck.Time {
		t.Errorf("got band from frame %d at %v, want from the SYN-ACK (frame %d %q at %v)", band.First, band.Start, synAck.Number, synAck.Label.Text, synAck.Time)
	}
	if band.Healed != 0 || band.Last != m.Records {
		t.Errorf("got band healed by %d, last drop %d, want never healed, dropping to the last record %d", band.Healed, band.Last, m.Records)
	}
	drops := 0
	for _, f := range m.Frames {
		for _, d := range f.Drops {
			drops++
			if d.Reason != "rule split: partition (a|b)" || d.To == f.From || d.To < 0 {
				t.Errorf("got frame %d dropped for %q towards %d, want the partition's reason towards the other port", f.Number, d.Reason, d.To)
			}
		}
	}
	if drops != band.Drops || drops < 300 {
		t.Errorf("got %d drops and a band of %d, want the same, hundreds", drops, band.Drops)
	}
	// Announces are drawn as groups with a count, before and inside the band.
	var before, inside int
	for _, g := range m.Groups {
		if g.Label != "NXSB announce" {
			t.Errorf("got a group of %q, want only announces grouped", g.Label)
		}
		if g.Drop == "" {
			before += len(g.Frames)
		} else {
			inside += len(g.Frames)
		}
	}
	if before < 50 || inside < 300 {
		t.Errorf("got %d grouped announces delivered and %d dropped, want dozens and hundreds", before, inside)
	}
	// The markers sit on their VM's lifeline at their time: node-a is up
	// before it sends its first frame, and fails after the partition began.
	first := func(port int) time.Duration {
		for _, f := range m.Frames {
			if f.From == port {
				return f.Time
			}
		}
		return -1
	}
	marker := func(text string) Marker {
		i := slices.IndexFunc(m.Markers, func(mk Marker) bool { return strings.Contains(mk.Text, text) })
		if i < 0 {
			t.Fatalf("got no marker %q", text)
		}
		return m.Markers[i]
	}
	up, fail := marker("GUEST: up ip=10.42.0.10"), marker("GUEST: nexus FAIL node-a")
	if up.Port != a || up.Time > first(a) || up.Time < first(a)-time.Second {
		t.Errorf("got node-a up on port %d at %v, want on a within a second before its first frame at %v", up.Port, up.Time, first(a))
	}
	if fail.Port != a || fail.Time < band.Start || fail.Class != "fail" {
		t.Errorf("got node-a's FAIL on port %d at %v (%q), want on a after the partition began at %v", fail.Port, fail.Time, fail.Class, band.Start)
	}
	// The checker fails SESS-002 for the whole run, and its pass for the
	// connection is pinned to the SYN.
	if m.Check == nil || m.Check.OK || m.Check.Fail != 1 {
		t.Fatalf("got check %+v, want one failure", m.Check)
	}
	if f := m.Findings[0]; f.ID != "SESS-002" || f.Verdict != "fail" || len(f.Pins) != 0 {
		t.Errorf("got first finding %+v, want SESS-002 failing without frames", f)
	}
	i := slices.IndexFunc(m.Findings, func(f Finding) bool { return f.ID == "SESS-001" })
	if i < 0 || !slices.Equal(m.Findings[i].Pins, []int{syn}) {
		t.Errorf("got SESS-001 %+v, want it pinned to the SYN (frame index %d)", m.Findings, syn)
	}
}

// TestEveryImpairment draws the README's one-rule-per-impairment policy,
// run through the real core, policy and capture sink in virtual time.
func TestEveryImpairment(t *testing.T) {
	m := build(t, Options{Capture: everyImpairment(t)})
	everyRecordDrawn(t, m)
	port := map[string]int{}
	for i, p := range m.Ports {
		port[p.Name] = i
	}
	// Five windows of port c down, 200 ms each from 1 s every 2 s; the
	// partition a|b from 5 s to 8 s. Each ends with the first frame across.
	var down []Band
	var split *Band
	for i, b := range m.Bands {
		switch {
		case b.Kind == "down" && b.Name == "flap-c" && b.Spec == "port c":
			down = append(down, b)
		case b.Kind == "partition" && b.Name == "split":
			split = &m.Bands[i]
		default:
			t.Errorf("got band %+v, want only flap-c and split", b)
		}
	}
	if len(down) != 5 {
		t.Fatalf("got %d link-down bands, want 5", len(down))
	}
	for k, b := range down {
		start := time.Second + time.Duration(k)*2*time.Second
		if b.Start != start || b.End >= start+200*time.Millisecond || b.End < start+180*time.Millisecond || b.Healed == 0 || !slices.Equal(b.Ports, []int{port["c"]}) {
			t.Errorf("got down band %d %+v, want port c from %v for just under 200ms, then healed", k, b, start)
		}
	}
	if split == nil || split.Start != 5*time.Second || split.End >= 8*time.Second || split.End < 7900*time.Millisecond ||
		split.Healed == 0 || split.HealedAt < 8*time.Second || !slices.Equal(split.Ports, []int{port["a"], port["b"]}) {
		t.Errorf("got partition band %+v, want a|b from 5s to 8s, healed", split)
	}
	// Every kind of delivery and every rule's drop is drawn as such.
	kinds := map[DeliveryKind]int{}
	rules := map[string]int{}
	for _, f := range m.Frames {
		to := map[int]int{}
		for _, d := range f.Deliveries {
			to[d.To]++
			for _, k := range []DeliveryKind{Delayed, Duplicate, Reordered, Corrupted} {
				if d.Kind&k != 0 {
					kinds[k]++
				}
			}
			if d.Kind&Delayed != 0 && d.Time <= f.Time {
				t.Errorf("got frame %d delayed to %v, sent at %v: want two ends", f.Number, d.Time, f.Time)
			}
			if d.Kind&Corrupted != 0 && slices.Equal(d.Data, f.Data) {
				t.Errorf("got frame %d corrupted as %d with the same bytes", f.Number, d.Number)
			}
			if d.Kind&Reordered != 0 && d.Overtook > 0 && d.Overtook >= f.Number {
				t.Errorf("got frame %d overtaking %d, want a frame sent before it", f.Number, d.Overtook)
			}
		}
		for p, n := range to {
			if n > 1 && !slices.ContainsFunc(f.Deliveries, func(d Delivery) bool { return d.To == p && d.Kind&Duplicate != 0 }) {
				t.Errorf("got frame %d delivered %d times to %s, none marked duplicate", f.Number, n, m.Ports[p].Name)
			}
		}
		for _, d := range f.Drops {
			rules[d.Rule+" "+d.Action]++
		}
	}
	for _, k := range []DeliveryKind{Delayed, Duplicate, Reordered, Corrupted} {
		if kinds[k] == 0 {
			t.Errorf("got no delivery marked %v", kindNames[bitIndex(k)])
		}
	}
	overtook := 0
	for _, f := range m.Frames {
		for _, d := range f.Deliveries {
			if d.Overtook > 0 {
				overtook++
			}
		}
	}
	if overtook == 0 {
		t.Error("got no delivery that overtook an earlier frame, want the reorder rule's")
	}
	for _, want := range []string{"syn-drop drop", "lossy drop", "bursty drop", "thin overflow", "small mtu", "split partition", "flap-c down"} {
		if rules[want] == 0 {
			t.Errorf("got no drop by %q (drops by rule: %v)", want, rules)
		}
	}
}

func bitIndex(k DeliveryKind) int {
	for i := range kindNames {
		if k == 1<<i {
			return i
		}
	}
	return -1
}

func TestHandshakeLabels(t *testing.T) {
	tests := []struct {
		check string
		want  []string
	}{
		{"nexus-v1", []string{"handshake msg1", "handshake msg2", "handshake msg3", "record", "record (retransmission)", "record"}},
		// noise-xk frames its messages (4+48, 4+48, 4+64): the OS's
		// unframed 32-byte msg1 then covers only part of "msg1".
		{"noise-xk", []string{"handshake msg1", "handshake msg2", "handshake msg1", "handshake msg3", "handshake msg3 (retransmission)", "record"}},
	}
	for _, tt := range tests {
		t.Run(tt.check, func(t *testing.T) {
			m := build(t, Options{Capture: healthyNexus, Check: tt.check})
			var got []string
			for _, f := range m.Frames {
				if f.Label.Proto == ProtoNexus && f.Len > 60 && len(got) < len(tt.want) {
					got = append(got, f.Label.Text)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got session labels %q, want %q", got, tt.want)
			}
		})
	}
}

func TestGroups(t *testing.T) {
	announces := func(m *Model) []Group {
		var gs []Group
		for _, g := range m.Groups {
			if g.Label == "NXSB announce" {
				gs = append(gs, g)
			}
		}
		return gs
	}
	t.Run("announces-of-one-sender", func(t *testing.T) {
		m := build(t, Options{Capture: healthyNexus})
		gs := announces(m)
		if len(gs) != 2 {
			t.Fatalf("got %d groups of announces, want node-a's and node-b's", len(gs))
		}
		for _, g := range gs {
			if len(g.Frames) != 4 || len(g.To) != 1 || g.To[0] == g.From {
				t.Errorf("got group %+v, want 4 announces to the other port", g)
			}
		}
	})
	t.Run("never", func(t *testing.T) {
		if m := build(t, Options{Capture: healthyNexus, MinGroup: -1}); len(m.Groups) != 0 {
			t.Errorf("got %d groups with MinGroup -1, want none", len(m.Groups))
		}
	})
	t.Run("longer-runs-only", func(t *testing.T) {
		if gs := announces(build(t, Options{Capture: healthyNexus, MinGroup: 5})); len(gs) != 0 {
			t.Errorf("got %d groups of at least 5 announces, want none (runs of 4)", len(gs))
		}
	})
	t.Run("min-one-means-two", func(t *testing.T) {
		for _, g := range build(t, Options{Capture: healthyNexus, MinGroup: 1}).Groups {
			if len(g.Frames) < 2 {
				t.Errorf("got group %+v of one frame with MinGroup 1, want every group of 2 or more", g)
			}
		}
	})
	t.Run("members-at-most-the-window-apart", func(t *testing.T) {
		for _, tc := range []struct {
			gap    time.Duration
			groups int
		}{{groupWindow, 1}, {groupWindow + 1, 0}} {
			var recs []rec
			for i, at := range []uint64{1e9, 1e9 + uint64(tc.gap)} {
				f := udpFrame("a", "b", 9, uint32(i), 0)
				recs = append(recs, rec{0, at, true, f, ""}, rec{1, at, false, f, ""})
			}
			m := build(t, Options{Capture: writeTemp(t, "window.pcapng", pcapngFile([]string{"a", "b"}, []string{"", ""}, recs)), MinGroup: 2})
			if len(m.Groups) != tc.groups {
				t.Errorf("got %d groups of two alike frames %v apart, want %d", len(m.Groups), tc.gap, tc.groups)
			}
		}
	})
	t.Run("a-failing-frame-stands-alone", func(t *testing.T) {
		// wrong-key: DISC-005 fails on node-b's announces 5, 7, 13, 15.
		m := build(t, Options{Capture: wrongKey, Check: "nexus-v1"})
		for _, n := range []int{5, 7, 13, 15} {
			fi, _, ok := m.FrameAt(n)
			if !ok || m.Frames[fi].Group >= 0 {
				t.Errorf("got frame %d in group %d, want it drawn alone with its failing finding", n, m.Frames[fi].Group)
			}
		}
	})
	t.Run("records-only-when-nothing-cites-them", func(t *testing.T) {
		// healthy: the checker's passes cite the session's records.
		records := func(m *Model) (grouped, all int) {
			for _, f := range m.Frames {
				if f.Label.Text == "record" && len(f.Drops) == 0 { // one record was lost: alone
					all++
					if f.Group >= 0 {
						grouped++
					}
				}
			}
			return grouped, all
		}
		if g, n := records(build(t, Options{Capture: healthyNexus, Check: "nexus-v1"})); n == 0 || g != 0 {
			t.Errorf("with the check, got %d of %d records grouped, want none: findings cite them", g, n)
		}
		if g, n := records(build(t, Options{Capture: healthyNexus})); n == 0 || g != n {
			t.Errorf("without the check, got %d of %d records grouped, want all", g, n)
		}
	})
}

// TestGroupsInterleaved: a sender's announces share an arrow while it
// sends records between them; its records share one, and so do the
// partition's drops of each kind; a pause longer than groupWindow starts a
// new group, and every frame keeps its capture number.
func TestGroupsInterleaved(t *testing.T) {
	policy := writeTemp(t, "split.yaml", []byte(`partitions:
  - {name: split, groups: a|b, start: 1s, end: 1500ms}
`))
	capture := simCapture(t, policy, []string{"a", "b"}, func(s *hubtest.Sim) {
		s.Send("a", withChecksums(tcpSegment("a", "b", 40000, nexusSessionPort, 999, 0, 0x02, 0)))
		seq := uint32(2000) // past the handshake's offsets: records
		at := time.Duration(0)
		for ; at < 2*time.Second; at += 8 * time.Millisecond {
			if at%(64*time.Millisecond) == 0 {
				s.SendAt(at, "a", announceFrame(t, "a", 34567))
			}
			s.SendAt(at+time.Millisecond, "a", withChecksums(tcpSegment("a", "b", 40000, nexusSessionPort, seq, 1, 0x18, 100)))
			seq += 100
		}
		// after a pause longer than groupWindow: a new group
		for i := range 4 {
			s.SendAt(at+groupWindow+time.Second+time.Duration(i)*64*time.Millisecond, "a", announceFrame(t, "a", 34567))
		}
	})
	m := build(t, Options{Capture: capture})
	var got []string
	for _, g := range m.Groups {
		got = append(got, fmt.Sprintf("%s %s to %v drop %q", g.Label, m.Ports[g.From].Name, g.To, g.Drop))
		for k, fi := range g.Frames {
			f := m.Frames[fi]
			if f.Label.Text != g.Label || f.Group < 0 || m.Groups[f.Group].First != g.First {
				t.Errorf("group %d holds frame %d (%q in group %d)", g.First, f.Number, f.Label.Text, f.Group)
			}
			if k > 0 && f.Time-m.Frames[g.Frames[k-1]].Time > groupWindow {
				t.Errorf("group %d: frames %d and %d are more than %v apart", g.First, m.Frames[g.Frames[k-1]].Number, f.Number, groupWindow)
			}
		}
	}
	want := []string{
		`NXSB announce a to [1] drop ""`,
		`record a to [1] drop ""`,
		`record a to [] drop "rule split: partition"`,
		`NXSB announce a to [] drop "rule split: partition"`,
		`record a to [1] drop ""`,
		`NXSB announce a to [1] drop ""`,
		`NXSB announce a to [1] drop ""`, // after the pause
	}
	if !slices.Equal(got, want) {
		t.Errorf("got groups\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Every record number still names the frame it did.
	for n := 1; n <= m.Records; n++ {
		fi, di, ok := m.FrameAt(n)
		if !ok {
			t.Fatalf("record %d is not drawn", n)
		}
		f := m.Frames[fi]
		if di < 0 && f.Number != n || di >= 0 && f.Deliveries[di].Number != n {
			t.Fatalf("record %d is drawn as frame %d", n, f.Number)
		}
	}
}

func TestMACMode(t *testing.T) {
	m := build(t, Options{Capture: perVMPcap})
	if !m.Inferred {
		t.Error("got Inferred false for a pcap without directions")
	}
	names := make([]string, len(m.Ports))
	for i, p := range m.Ports {
		names[i] = p.Name
	}
	if !slices.Contains(names, "m52540012340a") || !slices.Contains(names, "m52540012340b") {
		t.Errorf("got ports %v, want one per source MAC, named as replay names them", names)
	}
	copies := 0
	for _, f := range m.Frames {
		copies += len(f.Copies)
		for _, d := range f.Deliveries {
			if d.Kind != Inferred || d.To == f.From {
				t.Errorf("got delivery %+v of frame %d, want inferred, to another port", d, f.Number)
			}
		}
	}
	if copies == 0 {
		t.Error("got no multicast echo recognised as a copy")
	}
}

// TestInferWithoutDeclaredPoints: an l2hub capture whose header declares no points has its ingress records' deliveries inferred.
func TestInferWithoutDeclaredPoints(t *testing.T) {
	path := writeTemp(t, "nopoints.pcapng", pcapngSection("l2hub capture\nversion=test", []string{"a", "b"}, []string{"", ""}, []rec{
		{1, 1e9, true, udpFrame("b", "a", 9, 1, 0), ""}, // b's MAC is b's
		{0, 2e9, true, udpFrame("a", "b", 9, 2, 0), ""},
	}))
	m := build(t, Options{Capture: path})
	if !m.Inferred || len(m.Frames) != 2 || len(m.Frames[1].Deliveries) != 1 || m.Frames[1].Deliveries[0].To != 1 {
		t.Errorf("got inferred %v, frames %s, want a's frame inferred to b", m.Inferred, describe(m))
	}
}

// TestInferSkipsHubDrops: a frame dropped on no link in particular (the hub's drop, Drop.To -1) is inferred to go nowhere.
func TestInferSkipsHubDrops(t *testing.T) {
	const drop = "dropped: rule x: drop (p=1)"
	m := build(t, Options{Capture: writeTemp(t, "hubdrops.pcapng", pcapngFile([]string{"a", "b", "c"}, []string{"", "", ""}, []rec{
		{1, 1e9, true, udpFrame("b", "a", 9, 1, 0), ""}, // b's MAC is b's
		{0, 2e9, true, udpFrame("a", "b", 9, 2, 0), drop},
		{0, 3e9, true, broadcastFrame("a", 3), drop},
		{0, 4e9, true, udpFrame("a", "b", 9, 4, 0), ""},
	}))})
	if !m.Inferred || len(m.Frames) != 4 {
		t.Fatalf("got inferred %v, frames %s, want 4 frames inferred", m.Inferred, describe(m))
	}
	for _, f := range m.Frames[1:3] {
		if len(f.Deliveries) != 0 || len(f.Drops) != 1 || f.Drops[0].To != -1 {
			t.Errorf("got frame %d with deliveries %+v and drops %+v, want none and one on no link (-1)", f.Number, f.Deliveries, f.Drops)
		}
	}
	if d := m.Frames[3].Deliveries; len(d) != 1 || d[0].To != 1 {
		t.Errorf("got frame 4's deliveries %+v, want one inferred to b", d)
	}
}

func TestLimits(t *testing.T) {
	t.Run("max-frames", func(t *testing.T) {
		m := build(t, Options{Capture: failingRun, Limits: Limits{MaxFrames: 100}})
		if m.Records != 100 || len(m.Warnings) == 0 || !strings.Contains(m.Warnings[0], "first 100 frames") {
			t.Errorf("got %d records, warnings %q, want 100 and a warning", m.Records, m.Warnings)
		}
	})
	t.Run("max-ports", func(t *testing.T) {
		_, err := Build(Options{Capture: replayRun, Limits: Limits{MaxPorts: 2}})
		if !errors.Is(err, ErrTooManyPorts) {
			t.Errorf("got Build() = %v with 3 ports and MaxPorts 2, want ErrTooManyPorts", err)
		}
	})
	t.Run("hex-bytes", func(t *testing.T) {
		m := build(t, Options{Capture: healthyNexus, Limits: Limits{HexBytes: 20}})
		for _, f := range m.Frames {
			if len(f.Data) > 20 {
				t.Fatalf("got %d bytes kept of frame %d, want at most 20", len(f.Data), f.Number)
			}
		}
	})
	t.Run("negative", func(t *testing.T) {
		_, err := Build(Options{Capture: healthyNexus, Limits: Limits{HexBytes: -1}})
		if want := "report.Limits.HexBytes -1: must not be negative (0 means the default 256)"; err == nil || err.Error() != want {
			t.Errorf("got Build() = %v, want %q", err, want)
		}
	})
	t.Run("no-capture", func(t *testing.T) {
		if _, err := Build(Options{}); !errors.Is(err, ErrNoCapture) {
			t.Errorf("got Build() = %v, want ErrNoCapture", err)
		}
	})
	t.Run("bad-profile", func(t *testing.T) {
		if _, err := Build(Options{Capture: healthyNexus, Check: "nexus-v9"}); err == nil || !strings.Contains(err.Error(), "nexus-v9") {
			t.Errorf("got Build() = %v, want an error naming the profile", err)
		}
	})
}

func TestTruncatedCapture(t *testing.T) {
	data := readFile(t, failingRun)
	path := writeTemp(t, "cut.pcapng", data[:len(data)-100])
	m := build(t, Options{Capture: path})
	if m.Records == 0 || len(m.Warnings) == 0 || !strings.Contains(m.Warnings[0], "cut short") {
		t.Errorf("got %d records, warnings %q, want the frames before the cut and a warning", m.Records, m.Warnings)
	}
	if !errors.Is(m.Stopped, capture.ErrTruncated) {
		t.Errorf("Stopped = %v, want the cut (capture.ErrTruncated)", m.Stopped)
	}
	if whole := build(t, Options{Capture: failingRun}); whole.Stopped != nil {
		t.Errorf("the whole capture: Stopped = %v", whole.Stopped)
	}
	if _, err := Build(Options{Capture: writeTemp(t, "junk.pcapng", []byte("not a capture at all"))}); err == nil {
		t.Error("got no error for a file that is not a capture")
	}
}

// rawPcap writes a microsecond classic pcap of frames stamped at epoch
// plus each time, as any tool might: the times are not checked.
func rawPcap(t *testing.T, epoch time.Time, times []time.Time, frames [][]byte) string {
	t.Helper()
	b := binary.LittleEndian.AppendUint32(nil, 0xa1b2c3d4)
	b = binary.LittleEndian.AppendUint16(b, 2)
	b = binary.LittleEndian.AppendUint16(b, 4)
	b = append(b, make([]byte, 8)...)
	b = binary.LittleEndian.AppendUint32(b, 65535)
	b = binary.LittleEndian.AppendUint32(b, 1) // Ethernet
	for i, at := range times {
		b = binary.LittleEndian.AppendUint32(b, uint32(at.Unix()))
		b = binary.LittleEndian.AppendUint32(b, uint32(at.Nanosecond()/1000))
		b = binary.LittleEndian.AppendUint32(b, uint32(len(frames[i])))
		b = binary.LittleEndian.AppendUint32(b, uint32(len(frames[i])))
		b = append(b, frames[i]...)
	}
	return writeTemp(t, "raw.pcap", b)
}

// A capture whose clock runs backwards (10s, 1s, 5s) is drawn as replay
// replays it: no record before the one ahead of it, so no frame before the
// page's start and no group that ends before it starts; a warning counts
// them.
func TestClockRunningBackwards(t *testing.T) {
	epoch := time.Unix(1000, 0)
	var times []time.Time
	var frames [][]byte
	for i, s := range []int{10, 1, 5, 12} {
		times = append(times, epoch.Add(time.Duration(s)*time.Second))
		frames = append(frames, announceFrame(t, "a", uint16(i)))
	}
	m := build(t, Options{Capture: rawPcap(t, epoch, times, frames), MinGroup: 2})
	var got []time.Duration
	for _, f := range m.Frames {
		got = append(got, f.Time)
	}
	if want := []time.Duration{0, 0, 0, 2 * time.Second}; !slices.Equal(got, want) {
		t.Errorf("got frames at %v, want %v", got, want)
	}
	if len(m.Groups) != 1 || m.Groups[0].Start != 0 || m.Groups[0].End != 2*time.Second {
		t.Errorf("got groups %+v, want one of the four announces from 0s to 2s", m.Groups)
	}
	const want = "2 records are stamped before a record ahead of them, by up to 9s (the capture's clock ran backwards): they are drawn at that record's time"
	if !slices.Contains(m.Warnings, want) {
		t.Errorf("got warnings %q, want %q", m.Warnings, want)
	}
}

// TestManyDropsOfOneFrame: a broadcast into a partition is dropped on
// every link across it, one note per link, far more than the 1 KiB of the
// comment the page shows: every drop is drawn, with its reason, and the
// band counts them all.
func TestManyDropsOfOneFrame(t *testing.T) {
	var ports, rest []string
	for i := range 40 {
		ports = append(ports, fmt.Sprintf("p%02d", i))
	}
	rest = ports[1:]
	spec := "p00|" + strings.Join(rest, ",")
	policy := writeTemp(t, "split.yaml", []byte("seed: 1\npartitions:\n  - {name: split, groups: '"+spec+"', start: 0s}\n"))
	bcast := udpFrame("a", "b", 9, 1, 20)
	copy(bcast[0:6], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	path := simCapture(t, policy, ports, func(s *hubtest.Sim) {
		for i := range 3 {
			s.SendAt(time.Duration(i)*time.Second, "p00", bcast)
		}
	})
	m := build(t, Options{Capture: path})
	if len(m.Frames) != 3 {
		t.Fatalf("got %d frames, want 3", len(m.Frames))
	}
	want := "rule split: partition (" + spec + ")"
	for _, f := range m.Frames {
		if len(f.Comment) > DefaultMaxComment+len("…") {
			t.Errorf("got frame %d's comment of %d bytes shown, want at most %d and an ellipsis", f.Number, len(f.Comment), DefaultMaxComment)
		}
		var to []string
		for _, d := range f.Drops {
			if d.Reason != want {
				t.Errorf("got frame %d dropped towards %d for %q, want %q", f.Number, d.To, d.Reason, want)
			}
			if d.To >= 0 {
				to = append(to, m.Ports[d.To].Name)
			}
		}
		if !slices.Equal(to, rest) {
			t.Errorf("got frame %d dropped towards %q, want every port across the partition: %q", f.Number, to, rest)
		}
	}
	if len(m.Bands) != 1 || m.Bands[0].Drops != 3*len(rest) {
		t.Errorf("got bands %+v, want one of %d drops", m.Bands, 3*len(rest))
	}
	for _, w := range m.Warnings {
		t.Errorf("got warning %q, want none", w)
	}
}

// TestTooManyNotes: a comment with more notes than a report reads draws
// the first maxNotes of them and says so.
func TestTooManyNotes(t *testing.T) {
	var notes []string
	for i := range maxNotes + 10 {
		notes = append(notes, fmt.Sprintf("a->b: rule r%d: drop", i))
	}
	frame := udpFrame("a", "b", 9, 1, 0)
	path := writeTemp(t, "notes.pcapng", pcapngFile([]string{"a", "b"}, []string{"", ""},
		[]rec{{0, 1e9, true, frame, "dropped: " + strings.Join(notes, "; ")}}))
	m := build(t, Options{Capture: path})
	if len(m.Frames) != 1 || len(m.Frames[0].Drops) != maxNotes {
		t.Fatalf("got %d frames, the first with %d drops; want 1 with %d", len(m.Frames), len(m.Frames[0].Drops), maxNotes)
	}
	want := fmt.Sprintf("1 comments hold more than %d notes: the drops and marks past them are not drawn", maxNotes)
	if !slices.Contains(m.Warnings, want) {
		t.Errorf("got warnings %q, want %q", m.Warnings, want)
	}
}

// TestWarnedFrameStandsAlone: a frame with a warning pinned to it is drawn
// alone, as one with a failure is, and ends the group before it.
func TestWarnedFrameStandsAlone(t *testing.T) {
	var recs []rec
	for i := range 5 {
		f := announceFrame(t, "a", 34567)
		ns := uint64(1e9 + i*64e6)
		recs = append(recs, rec{0, ns, true, f, ""}, rec{1, ns, false, f, ""})
	}
	m := build(t, Options{Capture: writeTemp(t, "announces.pcapng", pcapngFile([]string{"a", "b"}, []string{"", ""}, recs)), MinGroup: -1})
	b := &builder{m: m, opts: Options{MinGroup: 2}}
	b.findings(checkResult{report: checker.Report{Warn: 1, Findings: []checker.Finding{
		{ID: "W1", Verdict: checker.Warn, Frames: []int{5}, Message: "odd"},
	}}})
	b.groups()
	var got []int
	for _, f := range m.Frames {
		got = append(got, f.Group)
	}
	if want := []int{0, 0, -1, 1, 1}; !slices.Equal(got, want) {
		t.Errorf("got the announces' groups %v, want %v (the third warned)", got, want)
	}
}
