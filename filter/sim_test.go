package filter_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"l2hub/filter"
	"l2hub/hub"
	"l2hub/hub/hubtest"
)

// These tests run policies through hubtest, the real core in virtual time.

var (
	macOf = map[string][6]byte{
		"a": {0x52, 0x54, 0, 0, 0, 0x0a},
		"b": {0x52, 0x54, 0, 0, 0, 0x0b},
		"c": {0x52, 0x54, 0, 0, 0, 0x0c},
	}
	ipOf = map[string][4]byte{"a": {10, 42, 0, 10}, "b": {10, 42, 0, 11}, "c": {10, 42, 0, 12}}
)

// frame builds a UDP frame from one port's host to another's, with a payload
// of prefix then a 4-byte sequence number then pad bytes of zeros.
func frame(from, to string, dport uint16, prefix string, seq uint32, pad int) []byte {
	payload := make([]byte, len(prefix)+4+pad)
	copy(payload, prefix)
	binary.BigEndian.PutUint32(payload[len(prefix):], seq)
	f := make([]byte, 14+20+8+len(payload))
	dst, src := macOf[to], macOf[from]
	copy(f[0:6], dst[:])
	copy(f[6:12], src[:])
	binary.BigEndian.PutUint16(f[12:], 0x0800)
	ip := f[14:]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(20+8+len(payload)))
	ip[8], ip[9] = 64, 17
	sip, dip := ipOf[from], ipOf[to]
	copy(ip[12:], sip[:])
	copy(ip[16:], dip[:])
	u := ip[20:]
	binary.BigEndian.PutUint16(u[0:], 40000)
	binary.BigEndian.PutUint16(u[2:], dport)
	binary.BigEndian.PutUint16(u[4:], uint16(8+len(payload)))
	copy(u[8:], payload)
	return f
}

// seqOf reads the sequence number written by frame.
func seqOf(f []byte, prefix string) uint32 {
	return binary.BigEndian.Uint32(f[42+len(prefix):])
}

func policy(t *testing.T, src string) *filter.Policy {
	t.Helper()
	p, err := filter.Parse([]byte(src), "sim.yaml", []string{"a", "b", "c"})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func newSim(t *testing.T, mode hub.Mode, p *filter.Policy) *hubtest.Sim {
	return hubtest.New(t, hubtest.Config{Mode: mode, Ports: []string{"a", "b", "c"}, Policy: p})
}

// transcript renders deliveries for exact comparison.
func transcript(ds []hubtest.Delivery) string {
	var b strings.Builder
	for _, d := range ds {
		fmt.Fprintf(&b, "%v %s %x %s\n", d.At, d.Port, d.Frame, hub.FormatNotes(d.Notes))
	}
	return b.String()
}

func TestSimDoneWhen(t *testing.T) {
	run := func() (*hubtest.Sim, *filter.Policy) {
		p, err := filter.Load("../testdata/policies/done-when.yaml", []string{"a", "b", "c"})
		if err != nil {
			t.Fatal(err)
		}
		sim := newSim(t, hub.ModeHub, p)
		for i := range 5 {
			sim.SendAt(time.Duration(i)*64*time.Millisecond, "a", frame("a", "b", 37020, "NXSB", uint32(i), 0))
		}
		for i := range 20000 {
			sim.SendAt(time.Second+time.Duration(i)*100*time.Microsecond, "a", frame("a", "b", 9, "", uint32(i), 0))
		}
		for _, at := range []time.Duration{4900, 5000, 6000, 7999, 8000} {
			sim.SendAt(at*time.Millisecond, "b", frame("b", "a", 9, "PING", uint32(at), 0))
		}
		sim.Drain()
		return sim, p
	}
	sim, p := run()

	var announces []uint32
	bulk := 0
	for _, d := range sim.Received("b") {
		if bytes.Contains(d.Frame, []byte("NXSB")) {
			announces = append(announces, seqOf(d.Frame, "NXSB"))
		} else {
			bulk++
		}
	}
	if fmt.Sprint(announces) != "[3 4]" {
		t.Errorf("b got announces %v, want [3 4] (the first 3 dropped)", announces)
	}
	// 5% loss over 20 000 frames: 19 000 ± 5 sd (sd = 30.8) arrive.
	if sd := math.Sqrt(20000 * 0.05 * 0.95); math.Abs(float64(bulk)-19000) > 5*sd {
		t.Errorf("b got %d of 20000 bulk frames, want 19000 ± %.0f", bulk, 5*sd)
	}
	fromA := 0
	for _, d := range sim.Received("c") {
		if d.Frame[11] == 0x0a {
			fromA++
		}
	}
	if fromA != 5+20000-3 {
		t.Errorf("c got %d frames from a, want %d (no loss on a->c, 3 announces dropped)", fromA, 5+20000-3)
	}
	var pings []uint32
	for _, d := range sim.Received("a") {
		pings = append(pings, seqOf(d.Frame, "PING"))
	}
	if fmt.Sprint(pings) != "[4900 8000]" {
		t.Errorf("a got pings sent at %v ms, want [4900 8000] (5s-8s partitioned)", pings)
	}
	st := p.Stats()
	if r := st.Rules[0]; r.Matched != 6 || r.Dropped != 6 {
		t.Errorf("first-announces counters %+v, want 6 matched and dropped (3 per link)", r)
	}
	if r := st.Rules[1]; r.Matched != 20002 || r.Dropped != uint64(20000-bulk) {
		t.Errorf("loss-a-b counters %+v, want 20002 matched, %d dropped", r, 20000-bulk)
	}
	if pt := st.Partitions[0]; pt.Dropped != 3 {
		t.Errorf("partition counters %+v, want 3 dropped", pt)
	}

	// D2: the same policy, seed and input give the same output, byte for byte.
	again, _ := run()
	if a, b := transcript(sim.Deliveries()), transcript(again.Deliveries()); a != b {
		t.Error("two runs with the same seed delivered different frames")
	}
}

func TestSimDelayFIFOAndIsolation(t *testing.T) {
	p := policy(t, "rules:\n  - {name: slow, match: {link: a->b}, delay: 50ms±20ms}\n")
	sim := newSim(t, hub.ModeHub, p)
	const gap = 10 * time.Millisecond
	for i := range 1000 {
		sim.SendAt(time.Duration(i)*gap, "a", frame("a", "b", 9, "", uint32(i), 0))
	}
	sim.Drain()
	got := sim.Received("b")
	if len(got) != 1000 {
		t.Fatalf("b got %d frames, want 1000", len(got))
	}
	var sum time.Duration
	for i, d := range got {
		seq := seqOf(d.Frame, "")
		if seq != uint32(i) {
			t.Fatalf("b's frame %d is seq %d: FIFO broken", i, seq)
		}
		lat := d.At - time.Duration(seq)*gap
		if lat < 30*time.Millisecond {
			t.Fatalf("frame %d latency %v, want at least 30ms", seq, lat)
		}
		sum += lat
	}
	if mean := sum / 1000; mean < 49*time.Millisecond || mean > 56*time.Millisecond {
		t.Errorf("mean latency %v, want 50ms plus a little (FIFO holds)", mean)
	}
	// The a->c copies of the same frames were not delayed at all.
	for _, d := range sim.Received("c") {
		if d.At != time.Duration(seqOf(d.Frame, ""))*gap {
			t.Fatalf("c got seq %d at %v: held up by a->b's delay", seqOf(d.Frame, ""), d.At)
		}
	}
}

func TestSimReorder(t *testing.T) {
	p := policy(t, "rules:\n  - {name: r, match: {link: a->b}, delay: 10ms, reorder: {probability: 100%, gap: 5}}\n")
	sim := newSim(t, hub.ModeHub, p)
	for i := range 20 {
		sim.SendAt(time.Duration(i)*time.Millisecond, "a", frame("a", "b", 9, "", uint32(i), 0))
	}
	sim.Drain()
	var order []uint32
	for _, d := range sim.Received("b") {
		order = append(order, seqOf(d.Frame, ""))
	}
	// Frames 5, 10, 15, 20 (seq 4, 9, 14, 19, sent at seq ms) skip the 10ms
	// delay and overtake the ones sent up to 10ms before them.
	want := "[4 9 0 1 2 3 14 5 6 7 8 19 10 11 12 13 15 16 17 18]"
	if fmt.Sprint(order) != want {
		t.Errorf("b got order %v, want %s", order, want)
	}
}

func TestSimLossBursts(t *testing.T) {
	p := policy(t, "seed: 3\nrules:\n  - {name: ge, match: {link: a->b}, loss: {gemodel: {p: 2%, r: 20%}}}\n")
	sim := newSim(t, hub.ModeHub, p)
	const n = 100_000
	for i := range n {
		sim.SendAt(time.Duration(i)*10*time.Microsecond, "a", frame("a", "b", 9, "", uint32(i), 0))
	}
	var gaps []int
	next := uint32(0)
	for _, d := range sim.Received("b") {
		if s := seqOf(d.Frame, ""); s != next {
			gaps = append(gaps, int(s-next))
			next = s + 1
		} else {
			next++
		}
	}
	lost := 0
	for _, g := range gaps {
		lost += g
	}
	mean := float64(lost) / float64(len(gaps))
	// Geometric bursts, mean 1/r = 5, sd sqrt(1-r)/r = 4.47.
	if tol := 5 * 4.47 / math.Sqrt(float64(len(gaps))); math.Abs(mean-5) > tol {
		t.Errorf("mean loss burst %.2f over %d bursts, want 5 ± %.2f", mean, len(gaps), tol)
	}
}

func TestSimDuplicateCorrupt(t *testing.T) {
	p := policy(t, `rules:
  - {name: dup, match: {link: a->b}, duplicate: {probability: 100%, copies: 1}}
  - {name: bad, match: {link: a->b}, corrupt: {probability: 100%, bits: 2, skip: transport}}
`)
	sim := newSim(t, hub.ModeHub, p)
	orig := frame("a", "b", 9, "DATA", 7, 32)
	sim.Send("a", orig)
	got := sim.Received("b")
	if len(got) != 2 {
		t.Fatalf("b got %d frames, want 2 (original and duplicate)", len(got))
	}
	for i, d := range got {
		if bytes.Equal(d.Frame, orig) || !bytes.Equal(d.Frame[:42], orig[:42]) {
			t.Errorf("delivery %d: headers changed or payload intact:\n%x\n%x", i, d.Frame, orig)
		}
		if !strings.Contains(hub.FormatNotes(d.Notes), "rule bad: corrupt") {
			t.Errorf("delivery %d notes %q, want the corrupt note", i, hub.FormatNotes(d.Notes))
		}
	}
	if bytes.Equal(got[0].Frame, got[1].Frame) {
		t.Error("both copies corrupted identically: draws are not per copy")
	}
}

func TestSimRate(t *testing.T) {
	// 1250-byte frames at 10 Mbit/s take 1ms each: of a back-to-back train
	// of 20, two leave at once (the 2500-byte burst), then one per
	// millisecond while the wait stays within the queue (8 KiB = 6.55ms at
	// the rate): frames 3 to 8 wait 1 to 6ms, the other 12 overflow.
	p := policy(t, "rules:\n  - {name: r, match: {link: a->b}, rate: {rate: 10Mbit, burst: 2500B, queue: 8KiB}}\n")
	sim := newSim(t, hub.ModeHub, p)
	for i := range 20 {
		sim.Send("a", frame("a", "b", 9, "", uint32(i), 1250-46))
	}
	sim.Drain()
	var at []time.Duration
	for _, d := range sim.Received("b") {
		at = append(at, d.At)
	}
	want := "[0s 0s 1ms 2ms 3ms 4ms 5ms 6ms]"
	if fmt.Sprint(at) != want {
		t.Errorf("b got frames at %v, want %s", at, want)
	}
	if st := p.Stats().Rules[0]; st.Overflowed != 12 || st.Queued != 6 {
		t.Errorf("counters %+v, want 12 overflowed, 6 queued", st)
	}
}

func TestSimMTUAndFlap(t *testing.T) {
	p := policy(t, `rules:
  - {name: m, match: {link: a->b}, mtu: 576}
schedules:
  - {name: flap, port: c, at: 1s, down_for: 1s}
`)
	sim := newSim(t, hub.ModeHub, p)
	sim.Send("a", frame("a", "b", 9, "", 1, 500))
	sim.Send("a", frame("a", "b", 9, "", 2, 600))
	sim.SendAt(1500*time.Millisecond, "a", frame("a", "b", 9, "", 3, 10))
	sim.SendAt(2*time.Second, "a", frame("a", "b", 9, "", 4, 10))
	var b, c []uint32
	for _, d := range sim.Received("b") {
		b = append(b, seqOf(d.Frame, ""))
	}
	for _, d := range sim.Received("c") {
		c = append(c, seqOf(d.Frame, ""))
	}
	if fmt.Sprint(b) != "[1 3 4]" || fmt.Sprint(c) != "[1 2 4]" {
		t.Errorf("b got %v, c got %v; want [1 3 4] (mtu) and [1 2 4] (down 1s-2s)", b, c)
	}
}

func TestSimLivePartition(t *testing.T) {
	p := policy(t, "")
	sim := newSim(t, hub.ModeHub, p)
	if _, err := p.AddPartition(sim.Now(), "", [][]string{{"a"}, {"b", "c"}}); err != nil {
		t.Fatal(err)
	}
	sim.Send("b", frame("b", "c", 9, "", 1, 0))
	sim.Send("a", frame("a", "b", 9, "", 2, 0))
	if len(sim.Received("a")) != 0 || len(sim.Received("b")) != 0 || len(sim.Received("c")) != 1 {
		t.Errorf("under a|b,c: a %d b %d c %d frames, want 0 0 1",
			len(sim.Received("a")), len(sim.Received("b")), len(sim.Received("c")))
	}
	p.HealAll(sim.Now())
	sim.Send("a", frame("a", "b", 9, "", 3, 0))
	if len(sim.Received("b")) != 1 {
		t.Errorf("after heal b got %d frames, want 1", len(sim.Received("b")))
	}
}

// TestSimThirdPortChangesNothing is D1: traffic from c (its own links) does
// not change a single decision on a->b.
func TestSimThirdPortChangesNothing(t *testing.T) {
	src := `seed: 99
rules:
  - {name: lossy, loss: 10%}
  - {name: jitter, delay: {fixed: 5ms, jitter: 4ms, order: reorder}}
  - {name: dup, duplicate: 5%}
  - {name: bits, corrupt: 5%}
`
	run := func(withC bool) string {
		sim := newSim(t, hub.ModeSwitch, policy(t, src))
		for i := range 3000 {
			at := time.Duration(i) * time.Millisecond
			sim.SendAt(at, "a", frame("a", "b", 9, "A", uint32(i), 0))
			if withC {
				sim.SendAt(at+300*time.Microsecond, "c", frame("c", "b", 9, "C", uint32(i), 0))
				sim.SendAt(at+600*time.Microsecond, "c", frame("c", "a", 9, "C", uint32(i), 0))
			}
		}
		sim.Drain()
		var fromA []hubtest.Delivery
		for _, d := range sim.Received("b") {
			if d.Frame[11] == 0x0a { // source MAC a
				fromA = append(fromA, d)
			}
		}
		return transcript(fromA)
	}
	alone, crowded := run(false), run(true)
	if alone == "" {
		t.Fatal("nothing reached b from a")
	}
	if alone != crowded {
		t.Error("c's traffic changed what b received from a")
	}
}

// TestSimSeedMatters is D2's converse: another seed gives other decisions.
func TestSimSeedMatters(t *testing.T) {
	run := func(seed string) string {
		sim := newSim(t, hub.ModeHub, policy(t, "seed: "+seed+"\nrules:\n  - {name: l, loss: 30%}\n"))
		for i := range 200 {
			sim.Send("a", frame("a", "b", 9, "", uint32(i), 0))
		}
		return transcript(sim.Deliveries())
	}
	one, two, oneAgain := run("1"), run("2"), run("1")
	if one == two {
		t.Error("seeds 1 and 2 gave the same deliveries")
	}
	if one != oneAgain {
		t.Error("seed 1 twice gave different deliveries")
	}
}

// A delayed copy is asked again when its delay runs out: a link cut at any
// time while it waited (a port's down schedule or flap, a partition, by
// schedule, trigger or control call) loses it, as a cut wire loses what is
// on it, even when the link is whole again by the time it is due; the drop
// counts against what cut it. A cut wholly before the copy was sent, or
// after it was due, does not.
func TestDelayedCopyIsLostIfItsLinkWasCutWhileItWaited(t *testing.T) {
	type call struct {
		at time.Duration
		do func(p *filter.Policy, now time.Duration) error
	}
	linkB := func(up bool) func(*filter.Policy, time.Duration) error {
		return func(p *filter.Policy, now time.Duration) error { return p.SetLink(now, "b", up) }
	}
	const wan = "rules: [{name: wan, match: {link: a->b}, delay: 100ms}]\n"
	for _, tc := range []struct {
		name, src string
		sendAt    time.Duration // the frame a->b, due 100ms later
		calls     []call        // control calls, in time order; those at sendAt come before the frame
		want      string        // the action of the note on the dropped copy; "" for delivered
	}{
		{"down-while-waiting", wan + "schedules: [{name: b-down, port: b, at: 50ms, down_for: 200ms}]\n", 0, nil, "down"},
		{"partition-while-waiting", wan + "partitions: [{name: split, groups: a|b, start: 50ms, end: 2s}]\n", 0, nil, "partition"},
		{"partition-came-and-went", wan + "partitions: [{name: blip, groups: a|b, start: 20ms, end: 60ms}]\n", 0, nil, "partition"},
		{"flap-came-and-went", wan + "schedules: [{name: flap, port: b, at: 30ms, down_for: 10ms, every: 1s}]\n", 0, nil, "down"},
		{"flap-in-a-later-period", wan + "schedules: [{name: flap, port: b, at: 30ms, down_for: 10ms, every: 1s, count: 3}]\n", 950 * time.Millisecond, nil, "down"},
		{"partition-starts-as-due", wan + "partitions: [{name: split, groups: a|b, start: 100ms, end: 2s}]\n", 0, nil, "partition"},
		{"partition-ended-as-sent", wan + "partitions: [{name: blip, groups: a|b, start: 20ms, end: 60ms}]\n", 60 * time.Millisecond, nil, ""},
		{"partition-after-due", wan + "partitions: [{name: split, groups: a|b, start: 101ms, end: 2s}]\n", 0, nil, ""},
		{"flap-between-periods", wan + "schedules: [{name: flap, port: b, at: 30ms, down_for: 10ms, every: 150ms}]\n", 40 * time.Millisecond, nil, ""},
		{"flap-schedule-over", wan + "schedules: [{name: flap, port: b, at: 10ms, down_for: 10ms, every: 20ms, count: 2}]\n", 40 * time.Millisecond, nil, ""},
		{"partition-elsewhere", wan + "partitions: [{name: split, groups: a|c, start: 50ms, end: 2s}]\n", 0, nil, ""},
		{"link-down-and-up-while-waiting", wan, 0, []call{{30 * time.Millisecond, linkB(false)}, {40 * time.Millisecond, linkB(true)}}, "down"},
		{"link-down-and-up-before-sent", wan, 20 * time.Millisecond, []call{{10 * time.Millisecond, linkB(false)}, {20 * time.Millisecond, linkB(true)}}, ""},
		// ctl link b up at 32ms ends the flap early: a frame sent then
		// never saw the link down.
		{"flap-ended-early-as-sent", wan + "schedules: [{name: flap, port: b, at: 30ms, down_for: 10ms, every: 1s}]\n", 32 * time.Millisecond,
			[]call{{32 * time.Millisecond, linkB(true)}}, ""},
		{"link-down-before-a-flap-ends", wan + "schedules: [{name: flap, port: b, at: 30ms, down_for: 10ms, every: 1s}]\n", 0,
			[]call{{35 * time.Millisecond, linkB(false)}, {45 * time.Millisecond, linkB(true)}}, "down"},
		{"control-partition-while-waiting", wan, 0, []call{
			{30 * time.Millisecond, func(p *filter.Policy, now time.Duration) error {
				_, err := p.AddPartition(now, "", [][]string{{"a"}, {"b"}})
				return err
			}},
			{50 * time.Millisecond, func(p *filter.Policy, now time.Duration) error { p.HealAll(now); return nil }},
		}, "partition"},
		{"triggered-partition-while-waiting", `rules:
  - {name: wan, match: {link: a->b}, delay: 100ms}
  - {name: ping, match: {link: c->a}}
partitions: [{name: after-ping, groups: a|b, start: {rule: ping, matches: 1}, duration: 20ms}]
`, 0, []call{{30 * time.Millisecond, nil}}, "partition"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := policy(t, tc.src)
			s := newSim(t, hub.ModeSwitch, p)
			sent := false
			for _, c := range tc.calls {
				if c.at > tc.sendAt && !sent {
					s.SendAt(tc.sendAt, "a", frame("a", "b", 9, "x", 1, 0))
					sent = true
				}
				s.AdvanceTo(c.at)
				if c.do == nil { // a ping on c->a, which the partition leaves alone
					s.Send("c", frame("c", "a", 9, "ping", 1, 0))
					continue
				}
				if err := c.do(p, s.Now()); err != nil {
					t.Fatal(err)
				}
			}
			if !sent {
				s.SendAt(tc.sendAt, "a", frame("a", "b", 9, "x", 1, 0))
			}
			s.Drain()
			due := tc.sendAt + 100*time.Millisecond
			got := s.Received("b")
			var dropped []hub.Event
			for _, ev := range s.Events() {
				if ev.Dir == hub.Egress && ev.Dropped && ev.PortName == "b" {
					dropped = append(dropped, ev)
				}
			}
			if tc.want == "" {
				if len(got) != 1 || got[0].At != due || len(dropped) != 0 {
					t.Fatalf("got %d deliveries to b (%v), %d dropped; want the copy at %v", len(got), got, len(dropped), due)
				}
				return
			}
			if len(got) != 0 || len(dropped) != 1 {
				t.Fatalf("got %d deliveries to b and %d dropped egress events; want the copy dropped at %v", len(got), len(dropped), due)
			}
			ev := dropped[0]
			last := ev.Notes[len(ev.Notes)-1]
			if ev.Time.Sub(s.Core().Start()) != due || last.Action != tc.want {
				t.Errorf("dropped at %v with notes %s; want at %v with a %s note", ev.Time.Sub(s.Core().Start()), hub.FormatNotes(ev.Notes), due, tc.want)
			}
			if n := s.Stats("b").Drops(hub.DropPolicy); n != 1 {
				t.Errorf("b counted %d policy drops, want 1", n)
			}
			st := p.Stats()
			if st.Rules[0].Matched != 1 {
				t.Errorf("rule wan matched %d frames, want 1 (the check at delivery is not a match)", st.Rules[0].Matched)
			}
			var cutDrops uint64
			for _, pt := range st.Partitions {
				cutDrops += pt.Dropped
			}
			for _, ps := range st.Ports {
				cutDrops += ps.Dropped
			}
			if cutDrops != 1 {
				t.Errorf("partitions and port links counted %d drops, want 1 (%+v, %+v)", cutDrops, st.Partitions, st.Ports)
			}
		})
	}
}

// TestReplacedPolicyCountsItsCutAtTheSwitch: a replaced policy is asked
// about the copies waiting when it is replaced: a copy its partition cut
// counts against that partition then, though the copy is dropped only
// when due, and the new policy is not asked about it.
func TestReplacedPolicyCountsItsCutAtTheSwitch(t *testing.T) {
	const wan = "rules: [{name: wan, match: {link: a->b}, delay: 500ms}]\n"
	p1 := policy(t, wan+"partitions: [{name: blip, groups: a|b, start: 100ms, end: 200ms}]\n")
	p2 := policy(t, wan+"partitions: [{name: later, groups: a|b, start: 450ms, end: 460ms}]\n")
	s := newSim(t, hub.ModeSwitch, p1)
	s.SendAt(0, "a", frame("a", "b", 9, "x", 1, 0))
	s.AdvanceTo(400 * time.Millisecond)
	s.Core().SetPolicy(p2)
	if got := p1.Stats().Partitions[0].Dropped; got != 1 {
		t.Errorf("got blip's drops at the switch %d, want 1", got)
	}
	if got := len(droppedTo(s, "b")); got != 0 {
		t.Errorf("got %d copies to b dropped at the switch, want none before it is due", got)
	}
	s.Drain()
	dropped := droppedTo(s, "b")
	if len(dropped) != 1 || dropped[0].Time.Sub(s.Core().Start()) != 500*time.Millisecond {
		t.Fatalf("got %d copies to b dropped, want one at 500ms", len(dropped))
	}
	if last := dropped[0].Notes[len(dropped[0].Notes)-1]; last.Rule != "blip" {
		t.Errorf("got the copy dropped with notes %s, want blip's", hub.FormatNotes(dropped[0].Notes))
	}
	if got := p2.Stats().Partitions[0].Dropped; got != 0 {
		t.Errorf("got later's drops %d, want 0 (the copy was cut before it)", got)
	}
}

// droppedTo returns the egress events the hub dropped on port name.
func droppedTo(s *hubtest.Sim, name string) []hub.Event {
	var evs []hub.Event
	for _, ev := range s.Events() {
		if ev.Dir == hub.Egress && ev.Dropped && ev.PortName == name {
			evs = append(evs, ev)
		}
	}
	return evs
}

// TestDelayedCopyAcrossSetPolicy: a copy that waits across a set-policy is
// judged by each policy for the part of its wait that policy was in force:
// the new one cuts it for no partition or flap of its own that came before
// it was in force, and a cut the old one made while it waited still loses
// it, counted against the old one's partition.
func TestDelayedCopyAcrossSetPolicy(t *testing.T) {
	const wan = "rules: [{name: wan, match: {link: a->b}, delay: 500ms}]\n"
	for _, tc := range []struct {
		name, old, new string
		want           string // the rule of the note on the dropped copy; "" for delivered
	}{
		{"new-policy-window-before-it", wan, wan + "partitions: [{name: past, groups: a|b, start: 100ms, end: 200ms}]\n", ""},
		{"new-policy-flap-before-it", wan, wan + "schedules: [{name: flap, port: b, at: 50ms, down_for: 100ms, every: 10s}]\n", ""},
		{"new-policy-window-over-it", wan, wan + "partitions: [{name: now, groups: a|b, start: 100ms, end: 450ms}]\n", "now"},
		{"new-policy-window-after-it", wan, wan + "partitions: [{name: later, groups: a|b, start: 450ms, end: 460ms}]\n", "later"},
		{"old-policy-window-before-it", wan + "partitions: [{name: blip, groups: a|b, start: 100ms, end: 200ms}]\n", wan, "blip"},
		{"old-policy-window-over-it", wan + "partitions: [{name: long, groups: a|b, start: 300ms, end: 2s}]\n", wan, "long"},
		{"old-policy-window-after-it", wan + "partitions: [{name: late, groups: a|b, start: 401ms, end: 2s}]\n", wan, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p1, p2 := policy(t, tc.old), policy(t, tc.new)
			s := newSim(t, hub.ModeSwitch, p1)
			s.SendAt(0, "a", frame("a", "b", 9, "x", 1, 0))
			s.AdvanceTo(400 * time.Millisecond)
			s.Core().SetPolicy(p2)
			s.Drain()
			got, dropped := s.Received("b"), droppedTo(s, "b")
			var partDrops uint64
			for _, p := range []*filter.Policy{p1, p2} {
				for _, pt := range p.Stats().Partitions {
					partDrops += pt.Dropped
				}
			}
			if tc.want == "" {
				if len(got) != 1 || len(dropped) != 0 || partDrops != 0 {
					t.Errorf("got %d deliveries to b, %d dropped, partitions counted %d drops; want the copy delivered", len(got), len(dropped), partDrops)
				}
				return
			}
			if len(got) != 0 || len(dropped) != 1 || partDrops != 1 {
				t.Fatalf("got %d deliveries to b, %d dropped, partitions counted %d drops; want the copy dropped", len(got), len(dropped), partDrops)
			}
			if last := dropped[0].Notes[len(dropped[0].Notes)-1]; last.Rule != tc.want || last.Action != "partition" {
				t.Errorf("got the copy dropped with notes %s, want a partition note for %s", hub.FormatNotes(dropped[0].Notes), tc.want)
			}
		})
	}
}

// TestDelayedCopyDueBeforeALateControlCall: a live hub from before
// hub.Hub.Do fired due timers first, busy past a copy's due time, could
// make control calls before it fired the copy's timer; a replay of its
// capture makes them just before the copy is due. The policy counts them as
// made by then, so the copy meets them in both: a link taken down and up
// again before the timer fired loses it.
func TestDelayedCopyDueBeforeALateControlCall(t *testing.T) {
	const wan = "rules: [{name: wan, match: {link: a->b}, delay: 100ms}]\n"
	for _, tc := range []struct {
		name  string
		calls []bool // b's link set down (false) or up, 10ms apart from 120ms
		want  bool   // dropped
	}{
		{"down-and-up", []bool{false, true}, true},
		{"down", []bool{false}, true},
		{"up", []bool{true}, false},
		{"none", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := policy(t, wan)
			s := newSim(t, hub.ModeSwitch, p)
			s.Send("a", frame("a", "b", 9, "x", 1, 0)) // due at 100ms
			for i, up := range tc.calls {
				at := 120*time.Millisecond + time.Duration(i)*10*time.Millisecond
				s.Clock.Set(s.Core().Start().Add(at)) // the timer not fired
				if err := p.SetLink(at, "b", up); err != nil {
					t.Fatal(err)
				}
			}
			s.Clock.Set(s.Core().Start().Add(150 * time.Millisecond))
			s.Core().RunDue()
			s.Drain()
			dropped := droppedTo(s, "b")
			if len(dropped) != 1 && tc.want || len(dropped) != 0 && !tc.want {
				t.Fatalf("got %d copies to b dropped, want dropped %v", len(dropped), tc.want)
			}
			if tc.want {
				if last := dropped[0].Notes[len(dropped[0].Notes)-1]; last.Action != "down" || dropped[0].Time.Sub(s.Core().Start()) != 100*time.Millisecond {
					t.Errorf("got the copy dropped at %v with notes %s, want at 100ms with a down note", dropped[0].Time.Sub(s.Core().Start()), hub.FormatNotes(dropped[0].Notes))
				}
			}
		})
	}
}
