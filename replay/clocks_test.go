package replay

import (
	"bytes"
	"net"
	"strings"
	"testing"
	"time"

	"l2hub/capture"
	"l2hub/hub/hubtest"
)

// vmEnd is one VM of a TCP exchange.
type vmEnd struct {
	mac  [6]byte
	ip   net.IP
	port uint16
}

var (
	vmA = vmEnd{macA, ipA, 40010}
	vmB = vmEnd{macB, ipB, 34568}
)

// exchange returns the per-VM capture records of a TCP exchange, rounds
// frames each way, x first, each frame stamped by its VM's clock: x's
// reads skewX more than y's. Each frame takes lat to cross, and each VM
// answers a millisecond after a frame arrives. Every frame differs
// (sequence numbers), as a real exchange's do. end is the real time
// after the last frame.
func exchange(t *testing.T, x, y vmEnd, skewX, lat time.Duration, rounds int) (rx, ry []pcapRecord, end time.Duration) {
	t.Helper()
	real := time.Second
	for i := range rounds {
		fx := tcpFrame(t, x.mac, y.mac, x.ip, y.ip, x.port, y.port, uint32(1000+i), i == 0, "")
		rx = append(rx, pcapRecord{real + skewX, fx})
		ry = append(ry, pcapRecord{real + lat, fx})
		real += lat + time.Millisecond
		fy := tcpFrame(t, y.mac, x.mac, y.ip, x.ip, y.port, x.port, uint32(5000+i), i == 0, "")
		ry = append(ry, pcapRecord{real, fy})
		rx = append(rx, pcapRecord{real + lat + skewX, fy})
		real += lat + time.Millisecond
	}
	return rx, ry, real
}

// handshakePair returns the per-VM captures of a TCP exchange between a
// and b (exchange), a's clock reading skewA more than b's.
func handshakePair(t *testing.T, skewA, lat time.Duration, rounds int) (a, b []byte) {
	t.Helper()
	ra, rb, _ := exchange(t, vmA, vmB, skewA, lat, rounds)
	epoch := time.Unix(1000, 0)
	return writePcap(t, epoch, ra), writePcap(t, epoch, rb)
}

// ingressOrder returns the source MAC's last byte of each ingress record
// of a replay's capture, in capture order.
func ingressOrder(t *testing.T, data []byte) []byte {
	t.Helper()
	var order []byte
	for _, p := range readPackets(t, data) {
		if p.Dir == capture.DirIn {
			order = append(order, p.Data[11])
		}
	}
	return order
}

// agreeingPair returns the per-VM captures of a TCP exchange between two
// VMs other than a, b and c (d and e), whose clocks agree: their copies
// bound each other's clock, and no other input's.
func agreeingPair(t *testing.T) (d, e []byte) {
	t.Helper()
	vmD := vmEnd{hubtest.MAC("52:54:00:12:34:0d"), net.IPv4(10, 42, 0, 13), 40020}
	vmE := vmEnd{hubtest.MAC("52:54:00:12:34:0e"), net.IPv4(10, 42, 0, 14), 34570}
	rd, re, _ := exchange(t, vmD, vmE, 0, 100*time.Microsecond, 8)
	epoch := time.Unix(1000, 0)
	return writePcap(t, epoch, rd), writePcap(t, epoch, re)
}

// wantAsStamped fails t unless every input of res was replayed as
// stamped, none shifted.
func wantAsStamped(t *testing.T, res *Result) {
	t.Helper()
	for _, in := range res.Inputs {
		if in.ClockShift != 0 {
			t.Errorf("got %s shifted by %v, want the inputs as stamped", in.Path, in.ClockShift)
		}
	}
}

// clockNotes returns the clock notes Open makes of cfg.
func clockNotes(t *testing.T, cfg Config) []Note {
	t.Helper()
	r, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var out []Note
	for _, n := range r.Notes() {
		if n.Kind == NoteClock {
			out = append(out, n)
		}
	}
	return out
}

// TestPerVMClocksLinedUp: two QEMUs' filter-dump clocks that disagree
// (here a's runs 9 ms ahead, more than the 1 ms between a frame and its
// answer) would, merged by their stamps, put b's answers before a's
// frames. The copies of each frame in both files bound the offset, and
// a's frames are replayed the least earlier that keeps every copy after
// its sending: the exchange comes out in the order it happened, and a
// note says so.
func TestPerVMClocksLinedUp(t *testing.T) {
	const lat = 100 * time.Microsecond
	for _, tc := range []struct {
		name      string
		skewA     time.Duration
		wantShift time.Duration // of a's input
	}{
		// The bound comes from a's frames: b's copy of each is stamped
		// lat later than it left, less the skew.
		{"a-ahead", 9 * time.Millisecond, 9*time.Millisecond - lat},
		// b's clock ahead: b's frames are the ones replayed earlier.
		{"b-ahead", -9 * time.Millisecond, 0},
		// Clocks that agree (or disagree by less than the latency
		// shows) are left as stamped.
		{"agreeing", 0, 0},
		{"within-latency", lat / 2, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := handshakePair(t, tc.skewA, lat, 8)
			cfg := Config{Inputs: []Input{memInput("a.pcap", a), memInput("b.pcap", b)}}
			out, res := replayOnce(t, cfg, "")
			order := ingressOrder(t, out)
			want := bytes.Repeat([]byte{0x0a, 0x0b}, 8)
			if !bytes.Equal(order, want) {
				t.Errorf("got ingress order % x, want a and b in turn (% x)", order, want)
			}
			notes := clockNotes(t, cfg)
			shiftB := time.Duration(0)
			if tc.skewA < -lat {
				shiftB = -tc.skewA - lat
			}
			if got := res.Inputs[0].ClockShift; got != tc.wantShift {
				t.Errorf("got a.pcap's clock shift %v, want %v", got, tc.wantShift)
			}
			if got := res.Inputs[1].ClockShift; got != shiftB {
				t.Errorf("got b.pcap's clock shift %v, want %v", got, shiftB)
			}
			switch {
			case tc.wantShift == 0 && shiftB == 0:
				if len(notes) != 0 {
					t.Errorf("got clock notes %v for clocks that agree, want none", notes)
				}
			case len(notes) != 1 || notes[0].Warning:
				t.Errorf("got clock notes %v, want one, not a warning", notes)
			default:
				moved, other := "a.pcap", "b.pcap"
				shift := tc.wantShift
				if shiftB != 0 {
					moved, other, shift = "b.pcap", "a.pcap", shiftB
				}
				if n := notes[0]; n.Input != moved || !strings.Contains(n.Text, shift.String()+" ahead of "+other) {
					t.Errorf("got note %+v, want one on %s saying it ran %v ahead of %s", n, moved, shift, other)
				}
			}
		})
	}
}

// TestDriftingClocksAreWarned: clocks that drift apart during the sample
// (a's runs 9 ms ahead at first and 9 ms behind later) admit no one
// shift; the inputs are replayed as stamped, and a warning says that a
// frame may come before the one it answers.
func TestDriftingClocksAreWarned(t *testing.T) {
	const lat = 100 * time.Microsecond
	a1, b1 := handshakePair(t, 9*time.Millisecond, lat, 4)
	a2, b2 := handshakePair(t, -9*time.Millisecond, lat, 4)
	// Join them: the second exchange (other sequence numbers, so other
	// frames) a second after the first.
	join := func(x, y []byte) []byte {
		var recs []pcapRecord
		for i, data := range [][]byte{x, y} {
			for _, p := range readPackets(t, data) {
				f := p.Data
				f[len(f)-1] ^= byte(i + 1) // another frame than the first exchange's
				recs = append(recs, pcapRecord{p.Time.Sub(time.Unix(1000, 0)) + time.Duration(i)*time.Second, f})
			}
		}
		return writePcap(t, time.Unix(1000, 0), recs)
	}
	a, b := join(a1, a2), join(b1, b2)
	cfg := Config{Inputs: []Input{memInput("a.pcap", a), memInput("b.pcap", b)}}
	_, res := replayOnce(t, cfg, "")
	notes := clockNotes(t, cfg)
	if len(notes) != 1 || !notes[0].Warning || notes[0].Input != "a.pcap" || !strings.Contains(notes[0].Text, "no constant offset") {
		t.Errorf("got clock notes %v, want one warning on a.pcap that no constant offset explains its and b.pcap's copies", notes)
	}
	wantAsStamped(t, res)
}

// TestClockShiftsThreeInputs: the shifts of three inputs satisfy every
// pair's bounds at once, the least that do: c's clock is 5 ms ahead of
// b's, and a's 3 ms ahead of c's, known only through c (a and b share no
// frame).
func TestClockShiftsThreeInputs(t *testing.T) {
	s := newSampler()
	at := func(d time.Duration) time.Time { return time.Unix(1000, 0).Add(d) }
	const lat = 100 * time.Microsecond
	// Frames sent by c (ch 2) and seen by b (ch 1), and the other way.
	for i := range 3 {
		real := time.Duration(i) * 10 * time.Millisecond
		fc := udpFrame(t, macC, macB, ipC, ipB, 1, 2, uint16(i), "c to b")
		s.add(2, fc, at(real+5*time.Millisecond))
		s.add(1, fc, at(real+lat))
		fb := udpFrame(t, macB, macC, ipB, ipC, 2, 1, uint16(i), "b to c")
		s.add(1, fb, at(real+2*time.Millisecond))
		s.add(2, fb, at(real+2*time.Millisecond+lat+5*time.Millisecond))
		// a (ch 0), 8 ms ahead of b, to c and back.
		fa := udpFrame(t, macA, macC, ipA, ipC, 3, 1, uint16(i), "a to c")
		s.add(0, fa, at(real+4*time.Millisecond+8*time.Millisecond))
		s.add(2, fa, at(real+4*time.Millisecond+lat+5*time.Millisecond))
		fc2 := udpFrame(t, macC, macA, ipC, ipA, 1, 3, uint16(i), "c to a")
		s.add(2, fc2, at(real+6*time.Millisecond+5*time.Millisecond))
		s.add(0, fc2, at(real+6*time.Millisecond+lat+8*time.Millisecond))
	}
	owners := map[[6]byte]owner{
		macA: {ch: 0, how: ownerTiming},
		macB: {ch: 1, how: ownerTiming},
		macC: {ch: 2, how: ownerFlag},
	}
	shift, group, ok, _, _ := s.clockShifts([]int{0, 1, 2}, owners)
	if !ok {
		t.Fatal("got no shifts, want a solution")
	}
	// c moves the least that keeps b's copies of its frames after their
	// sending (5 ms less the latency), and a the least that keeps c's
	// copies of a's frames after theirs, c moved (3 ms less the latency,
	// again): each bound is met with a copy at the instant it was sent.
	want := map[int]time.Duration{0: 8*time.Millisecond - 2*lat, 2: 5*time.Millisecond - lat}
	if len(shift) != 2 || shift[0] != want[0] || shift[2] != want[2] {
		t.Errorf("got shifts %v, want %v (b as stamped)", shift, want)
	}
	if len(group) != 3 || group[0] != 0 || group[1] != 0 || group[2] != 0 {
		t.Errorf("got groups %v, want all three bound together (a through c)", group)
	}
	// A guessed owner bounds nothing: with c's MAC guessed, only a's and
	// b's frames bound the shifts, each from above, and only a has to
	// move (3 ms less the latency behind c, which stays).
	owners[macC] = owner{ch: 2, how: ownerFirst}
	shift, _, ok, _, _ = s.clockShifts([]int{0, 1, 2}, owners)
	if want := 3*time.Millisecond - lat; !ok || len(shift) != 1 || shift[0] != want {
		t.Errorf("with c's owner guessed: got shifts %v (ok %v), want a's only, %v", shift, ok, want)
	}
}

// TestClockBoundsIgnoreFramesSentTwiceAlike: a frame a VM sends twice
// alike (an ARP request retried after the other VM's capture ended) is
// not matched with the other input's one copy, which may be of either
// sending. Clocks that agree stay as stamped, with no clock note:
// matching the later sending would say a's clock ran 1.5 s ahead (or
// that no offset explains the copies).
func TestClockBoundsIgnoreFramesSentTwiceAlike(t *testing.T) {
	const lat = 100 * time.Microsecond
	ra, rb, real := exchange(t, vmA, vmB, 0, lat, 4)
	// a asks for b; b's copy; b's capture ends; a asks again, alike.
	arp := arpFrame(t, macA, ipA, ipB)
	ra = append(ra, pcapRecord{real, arp})
	rb = append(rb, pcapRecord{real + lat, arp})
	ra = append(ra, pcapRecord{real + 1500*time.Millisecond, arp})
	epoch := time.Unix(1000, 0)
	cfg := Config{Inputs: []Input{memInput("a.pcap", writePcap(t, epoch, ra)), memInput("b.pcap", writePcap(t, epoch, rb))}}
	if notes := clockNotes(t, cfg); len(notes) != 0 {
		t.Errorf("got clock notes %v for clocks that agree, want none", notes)
	}
	_, res := replayOnce(t, cfg, "")
	wantAsStamped(t, res)
}

// TestClockCycleWithoutSolutionIsWarned: three inputs whose pairs each
// admit a shift but whose bounds together admit none (b's clock at least
// 5 ms behind a's, c's at least 5 ms behind b's, c's not behind a's) are
// found out within as many passes as there are inputs, not relaxed for
// ever (Open would hang): a warning on one of them (not on d or e, given
// first, whose clocks agree) says no constant offset explains them, and
// the inputs are replayed as stamped.
func TestClockCycleWithoutSolutionIsWarned(t *testing.T) {
	var ra, rb, rc []pcapRecord
	for i := range 3 {
		base := time.Second + time.Duration(i)*100*time.Millisecond
		// b sends; a's copy 5 ms before b's stamp.
		fb := udpFrame(t, macB, macA, ipB, ipA, 1, 2, uint16(i), "b to a")
		ra = append(ra, pcapRecord{base, fb})
		rb = append(rb, pcapRecord{base + 5*time.Millisecond, fb})
		// c sends; b's copy 5 ms before c's stamp.
		fc := udpFrame(t, macC, macB, ipC, ipB, 3, 4, uint16(i), "c to b")
		rb = append(rb, pcapRecord{base + 15*time.Millisecond, fc})
		rc = append(rc, pcapRecord{base + 20*time.Millisecond, fc})
		// a sends; c's copy at a's stamp.
		fa := udpFrame(t, macA, macC, ipA, ipC, 5, 6, uint16(i), "a to c")
		ra = append(ra, pcapRecord{base + 40*time.Millisecond, fa})
		rc = append(rc, pcapRecord{base + 40*time.Millisecond, fa})
	}
	epoch := time.Unix(1000, 0)
	d, e := agreeingPair(t)
	cfg := Config{
		Inputs: []Input{memInput("d.pcap", d), memInput("e.pcap", e),
			memInput("a.pcap", writePcap(t, epoch, ra)), memInput("b.pcap", writePcap(t, epoch, rb)), memInput("c.pcap", writePcap(t, epoch, rc))},
		MACs: []MACPort{{Port: "a", MAC: macA}, {Port: "b", MAC: macB}, {Port: "c", MAC: macC}},
	}
	type opened struct {
		r   *Replayer
		err error
	}
	done := make(chan opened, 1)
	go func() {
		r, err := Open(cfg)
		done <- opened{r, err}
	}()
	var o opened
	select {
	case o = <-done:
	case <-time.After(time.Minute): // a bound on a hang, not on a duration
		t.Fatal("Open has not returned: the clock shifts are relaxed for ever")
	}
	if o.err != nil {
		t.Fatal(o.err)
	}
	var warned int
	for _, n := range o.r.Notes() {
		if n.Kind != NoteClock {
			continue
		}
		if !n.Warning || !strings.Contains(n.Text, "no constant offset") || n.Input == "d.pcap" || n.Input == "e.pcap" {
			t.Errorf("got clock note %+v, want only a warning on a, b or c that no constant offset explains their clocks", n)
		}
		warned++
	}
	if warned != 1 {
		t.Errorf("got %d clock warnings, want one", warned)
	}
	_, res := replayOnce(t, cfg, "")
	wantAsStamped(t, res)
}

// TestClockShiftMovesTheReplaysStart: when the input whose clock ran
// ahead holds the run's first frame (b's capture started after it), the
// replay starts at that frame's shifted time: the frame is not taken for
// one stamped before the start (a clock that ran backwards) and
// replayed late.
func TestClockShiftMovesTheReplaysStart(t *testing.T) {
	const lat, skewA = 100 * time.Microsecond, 9 * time.Millisecond
	ra, rb, _ := exchange(t, vmA, vmB, skewA, lat, 8)
	rb = rb[1:] // b's capture started after a's SYN reached it
	epoch := time.Unix(1000, 0)
	cfg := Config{Inputs: []Input{memInput("a.pcap", writePcap(t, epoch, ra)), memInput("b.pcap", writePcap(t, epoch, rb))}}
	r, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// a's first frame, stamped at 1 s + skewA, shifted by skewA - lat.
	if want := epoch.Add(time.Second + lat); !r.Start().Equal(want) {
		t.Errorf("got the replay's start %v, want a's first frame, shifted (%v)", r.Start(), want)
	}
	out, res := replayOnce(t, cfg, "")
	if got := res.Inputs[0].ClockShift; got != skewA-lat {
		t.Fatalf("got a.pcap's clock shift %v, want %v", got, skewA-lat)
	}
	for _, in := range res.Inputs {
		if in.Back != 0 {
			t.Errorf("got %d frames of %s stamped before the time reached, want none", in.Back, in.Path)
		}
	}
	if order, want := ingressOrder(t, out), bytes.Repeat([]byte{0x0a, 0x0b}, 8); !bytes.Equal(order, want) {
		t.Errorf("got ingress order % x, want a and b in turn (% x)", order, want)
	}
}

// TestClockNoteNamesOnlyTheInputsThatBoundIt: the note on a shifted
// input names, as the clock it ran ahead of, only the inputs left as
// stamped whose copies bound its shift: not an input that shares no frame
// with any (c), nor two that bound only each other's (d and e, whose
// clocks agree), for neither says anything of a's clock.
func TestClockNoteNamesOnlyTheInputsThatBoundIt(t *testing.T) {
	const lat = 100 * time.Microsecond
	epoch := time.Unix(1000, 0)
	a, b := handshakePair(t, 9*time.Millisecond, lat, 8)
	var rc []pcapRecord
	for i := range 4 {
		rc = append(rc, pcapRecord{time.Second + time.Duration(i)*time.Millisecond,
			udpFrame(t, macC, hubtest.MAC("02:00:00:00:00:99"), ipC, ipA, 7, 7, uint16(i), "c alone")})
	}
	d, e := agreeingPair(t)
	cfg := Config{Inputs: []Input{memInput("a.pcap", a), memInput("b.pcap", b), memInput("c.pcap", writePcap(t, epoch, rc)),
		memInput("d.pcap", d), memInput("e.pcap", e)}}
	notes := clockNotes(t, cfg)
	if len(notes) != 1 || notes[0].Input != "a.pcap" || !strings.Contains(notes[0].Text, "ahead of b.pcap's (") {
		t.Errorf("got clock notes %v, want one on a.pcap saying it ran ahead of b.pcap's clock alone", notes)
	}
	for _, tc := range []struct {
		names []string
		want  string
	}{
		{[]string{"b.pcap"}, "b.pcap's"},
		{[]string{"b.pcap", "c.pcap"}, "b.pcap's and c.pcap's"},
		{[]string{"b.pcap", "c.pcap", "d.pcap"}, "b.pcap's, c.pcap's and d.pcap's"},
	} {
		if got := clocksOf(tc.names); got != tc.want {
			t.Errorf("got clocksOf(%q) = %q, want %q", tc.names, got, tc.want)
		}
	}
}
