package lab

import (
	"encoding/binary"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"l2hub/capture"
	"l2hub/conformance/checker"
	"l2hub/hub"
)

// A capture made by hand: a's ARP requests and SYNs, b's ARP reply, some
// dropped by a partition; the hint counts what falls in its window only.
func TestWireHintCounts(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	path := filepath.Join(t.TempDir(), "capture.pcapng")
	sink, err := capture.Open(capture.Config{Path: path, Overflow: capture.OverflowBlock, Meta: capture.Meta{Version: "test", Start: t0}})
	if err != nil {
		t.Fatal(err)
	}
	sink.PortAdded(hub.PortInfo{ID: 0, Name: "a"})
	sink.PortAdded(hub.PortInfo{ID: 1, Name: "b"})
	split := []hub.Note{{Link: "a->b", Rule: "split", Action: "partition", Detail: "a|b"}}
	down := []hub.Note{{Link: "b->a", Action: "down", Detail: "port a"}}
	events := []struct {
		at      time.Duration
		port    hub.PortID
		frame   []byte
		dropped bool
		notes   []hub.Note
	}{
		{1 * time.Second, 0, arpFrame(1), false, nil}, // before the window
		{3 * time.Second, 0, arpFrame(1), true, split},
		{4 * time.Second, 0, arpFrame(1), true, split},
		{5 * time.Second, 1, arpFrame(2), true, down}, // the reply, dropped
		{6 * time.Second, 0, tcpFrame(0x02), true, split},
		{7 * time.Second, 1, tcpFrame(0x04), false, nil},
		{20 * time.Second, 0, tcpFrame(0x02), false, nil}, // after the window
	}
	for _, e := range events {
		name := "a"
		if e.port == 1 {
			name = "b"
		}
		switch e.at {
		case 4 * time.Second: // a gap the capture's writer left, in the window
			sink.Annotate("capture: 6 events missing before this one (the writer fell behind)")
		case 20 * time.Second: // and one after it
			sink.Annotate("capture: 9 events missing before this one (the writer fell behind)")
		}
		sink.Observe(&hub.Event{Time: t0.Add(e.at), Port: e.port, PortName: name, Dir: hub.Ingress, Frame: e.frame, Dropped: e.dropped, Notes: e.notes})
		// What a port received is not counted: only what its VM sent.
		sink.Observe(&hub.Event{Time: t0.Add(e.at), Port: 1 - e.port, PortName: "x", Dir: hub.Egress, Frame: e.frame})
	}
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
	report := &checker.Report{Findings: []checker.Finding{
		{ID: "DISC-001", Verdict: checker.Pass},
		{ID: "SESS-001", Verdict: checker.Fail, Frames: []int{9}, Message: "no TCP connection to a session port"},
	}}
	h := wireHint(path, t0, &Failure{Since: 2 * time.Second, At: 10 * time.Second}, []string{"a", "b", "c"}, report, false)
	want := []PortCounts{
		{Port: "a", Frames: 3, ARP: 2, SYN: 1, Dropped: 3},
		{Port: "b", Frames: 2, ARP: 1, RST: 1, Dropped: 1},
		{Port: "c"},
	}
	if !slices.Equal(h.Ports, want) {
		t.Errorf("got ports %+v, want %+v", h.Ports, want)
	}
	wantDrops := []RuleDrops{{Rule: "partition split", From: "a", Frames: 3, SYN: 1, First: 3}, {Rule: "link down", From: "b", Frames: 1, First: 7}}
	if !slices.Equal(h.Drops, wantDrops) {
		t.Errorf("got drops %+v, want %+v", h.Drops, wantDrops)
	}
	if h.Lost != 6 {
		t.Errorf("got %d events lost in the window, want 6", h.Lost)
	}
	if h.Finding == nil || h.Finding.ID != "SESS-001" {
		t.Errorf("got finding %+v, want the first failing one, SESS-001", h.Finding)
	}
	for _, w := range []string{
		"no frame from c in 2.0s-10.0s",
		"every SYN from a (1) was dropped by partition split",
		"3 frames from a dropped by partition split (1 SYN), the first at frame 3",
		"1 frame from b dropped by link down, the first at frame 7",
		"checker: FAIL SESS-001 frame 9: no TCP connection to a session port",
		"the capture lost 6 events in 2.0s-10.0s (its writer fell behind): these counts may be short",
	} {
		if !strings.Contains(h.Text, w) {
			t.Errorf("got hint %q, want it to say %q", h.Text, w)
		}
	}

	// The SYN reached no listener: nothing is said of one.
	if strings.Contains(h.Text, "listener") {
		t.Errorf("got hint %q, want no word of the listener: no SYN reached it", h.Text)
	}
	// A window with a SYN that got through (at 20s), and no SYN-ACK: the
	// listener did not answer.
	if h := wireHint(path, t0, &Failure{Since: 2 * time.Second, At: 25 * time.Second}, []string{"a", "b"}, nil, false); !strings.Contains(h.Text, "SYN from a without a SYN-ACK: the listener did not answer") ||
		strings.Contains(h.Text, "every SYN") {
		t.Errorf("got hint %q, want the listener blamed, one of a's two SYNs delivered", h.Text)
	}

	// The partition that dropped every frame a sent is said first, as a
	// partition.
	if w := "every frame a sent in 2.0s-10.0s was dropped by partition split; "; !strings.HasPrefix(h.Text, w) {
		t.Errorf("got hint %q, want it to begin %q", h.Text, w)
	}

	// Without the SYN, in a lab whose hub checks a protocol over TCP: the
	// unanswered ARP requests explain why none left.
	h = wireHint(path, t0, &Failure{Since: 2 * time.Second, At: 5500 * time.Millisecond}, []string{"a", "b"}, nil, true)
	if w := "no SYN seen: ARP requests from a got no reply, and without its peer's MAC a VM sends no SYN"; !strings.Contains(h.Text, w) {
		t.Errorf("got hint %q, want it to say %q", h.Text, w)
	}
	// Without a check, and no TCP in the window: nothing of SYNs.
	h = wireHint(path, t0, &Failure{Since: 2 * time.Second, At: 5500 * time.Millisecond}, []string{"a", "b"}, nil, false)
	for _, w := range []string{"every frame a sent in 2.0s-5.5s was dropped by partition split; every frame b sent in 2.0s-5.5s was dropped by link down; ARP requests from a got no reply; "} {
		if !strings.HasPrefix(h.Text, w) {
			t.Errorf("got hint %q, want it to begin %q", h.Text, w)
		}
	}
	if strings.Contains(h.Text, "SYN seen") || strings.Contains(h.Text, "connection") {
		t.Errorf("got hint %q, want no word of SYNs in a window without TCP, the hub checking nothing", h.Text)
	}
}

// A window too short for a guest to have sent anything (a failure in the
// first moments of a phase) is no sign of a broken NIC; a second is; one
// announce is one.
func TestWireHintQuietWindow(t *testing.T) {
	h := &Hint{Ports: []PortCounts{{Port: "a"}, {Port: "b"}}, From: ms(5 * time.Second), To: ms(5*time.Second + 5*time.Millisecond)}
	if got := h.describe(); !strings.HasPrefix(got, "no frame from any VM in 5.0s-5.0s; ") {
		t.Errorf("got hint %q for a 5 ms window, want no frame and no blame of the NICs", got)
	}
	h.To = ms(6 * time.Second)
	if got := h.describe(); !strings.HasPrefix(got, "no frame from any VM in 5.0s-6.0s: inspect the VMs' NICs and netdevs; ") {
		t.Errorf("got hint %q for a 1 s window, want the NICs blamed", got)
	}
	h = &Hint{Ports: []PortCounts{{Port: "a", Frames: 1, Announces: 1, Dropped: 1}}, Drops: []RuleDrops{{Rule: "rule x", From: "a", Frames: 1, Announces: 1, First: 2}}}
	if got, want := h.describe(), "1 frame from a dropped by rule x (1 announce), the first at frame 2"; !strings.Contains(got, want) {
		t.Errorf("got hint %q, want %q in it", got, want)
	}
}

// A ping lab (no TCP, no check) whose VMs talked: no "no SYN seen: no
// connection was attempted", as no connection was meant to be made.
func TestWireHintNoTCP(t *testing.T) {
	h := &Hint{Ports: []PortCounts{{Port: "a", Frames: 16, ARP: 1}, {Port: "b", Frames: 17, ARP: 2}}, arpAsked: []string{"a"}, arpAnswered: 1}
	if got := h.describe(); strings.Contains(got, "SYN seen") || !strings.HasPrefix(got, "in 0.0s-0.0s: a sent 16") {
		t.Errorf("got hint %q, want only the counts", got)
	}
	h.checked = true
	if got := h.describe(); !strings.HasPrefix(got, "no SYN seen: no connection was attempted in the window; ") {
		t.Errorf("got hint %q with the hub checking a protocol over TCP, want it to begin with no SYN seen", got)
	}
}

// The unanswered ARP requests read as a sentence, whoever sent them
// ("no ARP request from b, a was answered" read as if a's were).
func TestWireHintUnansweredARP(t *testing.T) {
	for _, tc := range []struct {
		asked []string
		want  string
	}{
		{[]string{"a"}, "no SYN seen: ARP requests from a got no reply, and without its peer's MAC a VM sends no SYN"},
		{[]string{"b", "a"}, "no SYN seen: ARP requests from b and a got no reply, and without its peer's MAC a VM sends no SYN"},
		{[]string{"a", "b", "c"}, "no SYN seen: ARP requests from a, b and c got no reply, and without its peer's MAC a VM sends no SYN"},
	} {
		t.Run(strings.Join(tc.asked, "-"), func(t *testing.T) {
			h := &Hint{arpAsked: tc.asked, checked: true}
			for _, p := range tc.asked {
				h.Ports = append(h.Ports, PortCounts{Port: p, Frames: 1, ARP: 1})
			}
			if got := h.describe(); !strings.HasPrefix(got, tc.want+"; ") {
				t.Errorf("got hint %q, want it to begin %q", got, tc.want)
			}
		})
	}
}

// dropRules reads what dropped a frame from any comment a capture holds.
func TestDropRules(t *testing.T) {
	tests := []struct {
		comment string
		dropped bool
		rules   []string
	}{
		{"", false, nil},
		{"dropped: a->b: rule split: partition (a|b)", true, []string{"partition split"}},
		{"dropped: a->b: rule loss-a: drop (p=0.05 draw=0.0213); a->c: down (port c)", true, []string{"rule loss-a", "link down"}},
		{"a->b: rule slow: delay (10ms)", false, nil},
		{"a->b: rule x: drop (p=0.5; draw=0.1)\ncontrol at 1s: partition x started: a|b", false, []string{"rule x"}},
		{"dropped", true, nil},
		{"dropped: queue-full (64 frames)", true, []string{"queue-full"}},
	}
	for _, tt := range tests {
		dropped, rules := dropRules(tt.comment)
		if dropped != tt.dropped || !slices.Equal(rules, tt.rules) {
			t.Errorf("got dropRules(%q) = %v, %q, want %v, %q", tt.comment, dropped, rules, tt.dropped, tt.rules)
		}
	}
}

func arpFrame(op byte) []byte {
	f := make([]byte, 42)
	copy(f, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x52, 0x54, 0, 0, 0, 1})
	binary.BigEndian.PutUint16(f[12:], 0x0806)
	copy(f[14:], []byte{0, 1, 8, 0, 6, 4, 0, op})
	return f
}

func tcpFrame(flags byte) []byte {
	f := make([]byte, 54)
	copy(f, []byte{0x52, 0x54, 0, 0, 0, 2, 0x52, 0x54, 0, 0, 0, 1})
	binary.BigEndian.PutUint16(f[12:], 0x0800)
	ip := f[14:]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], 40)
	ip[8], ip[9] = 64, 6
	copy(ip[12:], []byte{10, 42, 0, 10, 10, 42, 0, 11})
	tcp := ip[20:]
	binary.BigEndian.PutUint16(tcp[0:], 40000)
	binary.BigEndian.PutUint16(tcp[2:], 34568)
	tcp[12], tcp[13] = 5<<4, flags
	return f
}
