package replay

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"l2hub/capture"
)

// handshakePair returns the per-VM captures of a TCP exchange between a
// and b, each frame stamped by its VM's clock: a's reads skewA more than
// b's. Each frame takes lat to cross. Every frame differs (sequence
// numbers), as a real exchange's do.
func handshakePair(t *testing.T, skewA, lat time.Duration, rounds int) (a, b []byte) {
	t.Helper()
	var ra, rb []pcapRecord
	real := time.Second
	for i := range rounds {
		// a sends; b answers a millisecond after it arrives.
		fa := tcpFrame(t, macA, macB, ipA, ipB, 40010, 34568, uint32(1000+i), i == 0, "")
		ra = append(ra, pcapRecord{real + skewA, fa})
		rb = append(rb, pcapRecord{real + lat, fa})
		real += lat + time.Millisecond
		fb := tcpFrame(t, macB, macA, ipB, ipA, 34568, 40010, uint32(5000+i), i == 0, "")
		rb = append(rb, pcapRecord{real, fb})
		ra = append(ra, pcapRecord{real + lat + skewA, fb})
		real += lat + time.Millisecond
	}
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
	for _, in := range res.Inputs {
		if in.ClockShift != 0 {
			t.Errorf("got %s shifted by %v, want the inputs as stamped", in.Path, in.ClockShift)
		}
	}
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
	shift, bound, ok, _, _ := s.clockShifts([]int{0, 1, 2}, owners)
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
	if !bound[0] || !bound[1] || !bound[2] {
		t.Errorf("got bound channels %v, want all three", bound)
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
