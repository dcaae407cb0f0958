package replay

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"l2hub/capture"
	"l2hub/hub"
	"l2hub/hub/hubtest"
)

// replayPolicy is the what-if policy of the goldens: five rules and a
// partition, each of which acts on the scenarios' traffic.
const replayPolicy = `seed: 42
rules:
  - {name: loss-a-b, match: {link: a->b}, loss: 10%}
  - {name: slow-b-a, match: {link: b->a}, delay: 5ms±2ms}
  - {name: dup-udp, match: {protocol: udp}, duplicate: 5%}
  - {name: corrupt-c, match: {from: c}, corrupt: {probability: 20%, bits: 2, skip: ip}}
  - {name: no-syn, match: {protocol: tcp, tcp_flags: syn, first: 2}, drop: true}
partitions:
  - {name: split, groups: a|b, start: 1s, end: 1200ms}
`

// liveScenario is the traffic of a three-port switch: ARP, then UDP both
// ways between a and b, TCP SYNs from a, broadcasts and pings from c.
func liveScenario(tb testing.TB, sim *hubtest.Sim, frames int) {
	at := time.Duration(0)
	step := func() time.Duration { at += 7 * time.Millisecond; return at }
	sim.SendAt(step(), "a", arpFrame(tb, macA, ipA, ipB))
	sim.SendAt(step(), "b", arpFrame(tb, macB, ipB, ipA))
	sim.SendAt(step(), "c", arpFrame(tb, macC, ipC, ipA))
	for i := range frames {
		t := step()
		switch i % 6 {
		case 0, 2:
			sim.SendAt(t, "a", udpFrame(tb, macA, macB, ipA, ipB, 37020, 37020, uint16(i), "NXSB announce"))
		case 1, 3:
			sim.SendAt(t, "b", udpFrame(tb, macB, macA, ipB, ipA, 34568, 40010, uint16(i), "reply"))
		case 4:
			sim.SendAt(t, "a", tcpFrame(tb, macA, macB, ipA, ipB, 40010, 34568, uint32(i), i%12 == 4, "hello"))
		case 5:
			if i%2 == 1 {
				sim.SendAt(t, "c", icmpFrame(tb, macC, macA, ipC, ipA, uint16(i)))
			} else {
				sim.SendAt(t, "c", udpFrame(tb, macC, hubtest.Broadcast, ipC, net4bcast, 68, 67, uint16(i), "DISCOVER"))
			}
		}
	}
	sim.Drain()
}

var net4bcast = []byte{255, 255, 255, 255}

// l2hubCapture records liveScenario as `l2hub serve --capture` would, under
// a live policy of its own (5% loss a->b, seed 7).
func l2hubCapture(tb testing.TB, frames int) []byte {
	var buf bytes.Buffer
	sink := liveSink(tb, &buf, capture.Meta{Version: "test", Seed: 7, Start: hub.DefaultEpoch})
	live := mustPolicy(tb, "seed: 7\nrules:\n  - {name: live-loss, match: {link: a->b}, loss: 5%}\n", []string{"a", "b", "c"})
	sim := hubtest.New(tb, hubtest.Config{Mode: hub.ModeSwitch, Ports: []string{"a", "b", "c"}, Policy: live, Observers: []hub.Observer{sink}})
	liveScenario(tb, sim, frames)
	if err := sink.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// perVM is the ground truth of a two-VM run recorded by QEMU filter-dump on
// each VM with the socket multicast back end: each file holds the VM's own
// frames twice (sent, then the loopback echo) and the peer's once, each
// stamped with that VM's own clock. c is a host outside, heard by both.
type perVM struct {
	a, b       []byte // the two files
	sentA      int
	sentB      int
	sentC      int
	echoes     int
	duplicates int
}

func perVMCaptures(tb testing.TB, n int) perVM {
	const (
		lat  = 40 * time.Microsecond
		echo = 15 * time.Microsecond
	)
	clockA := time.Duration(0)
	clockB := -730 * time.Millisecond // B booted later: its clock is behind
	var ra, rb []pcapRecord
	var pv perVM
	real := 3 * time.Second
	for i := range n {
		real += 3*time.Millisecond + time.Duration(i%5)*time.Millisecond
		switch {
		case i%7 == 6: // c, unicast to a and broadcast, heard by both
			f := udpFrame(tb, macC, hubtest.Broadcast, ipC, net4bcast, 68, 67, uint16(i), "DISCOVER")
			ra = append(ra, pcapRecord{real + lat + clockA, f})
			rb = append(rb, pcapRecord{real + lat + clockB, f})
			pv.sentC++
			pv.duplicates++
		case i%2 == 0:
			f := udpFrame(tb, macA, macB, ipA, ipB, 37020, 37020, uint16(i), "NXSB from a")
			if i%10 == 0 {
				f = tcpFrame(tb, macA, macB, ipA, ipB, 40010, 34568, uint32(i), true, "")
			}
			ra = append(ra, pcapRecord{real + clockA, f}, pcapRecord{real + echo + clockA, f})
			rb = append(rb, pcapRecord{real + lat + clockB, f})
			pv.sentA++
			pv.echoes++
			pv.duplicates++
		default:
			f := udpFrame(tb, macB, macA, ipB, ipA, 34568, 40010, uint16(i), "reply from b")
			rb = append(rb, pcapRecord{real + clockB, f}, pcapRecord{real + echo + clockB, f})
			ra = append(ra, pcapRecord{real + lat + clockA, f})
			pv.sentB++
			pv.echoes++
			pv.duplicates++
		}
	}
	epoch := time.Unix(0, 0)
	pv.a, pv.b = writePcap(tb, epoch, ra), writePcap(tb, epoch, rb)
	return pv
}

// testInput returns testdata/name as an input, (re)generating it under -update.
func testInput(t *testing.T, name string, gen func() []byte) Input {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, gen(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	return Input{Path: path}
}

func replayOnce(t *testing.T, cfg Config, policySrc string) ([]byte, *Result) {
	t.Helper()
	r, err := Open(cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	var pol hubPolicy
	if policySrc != "" {
		pol = mustPolicy(t, policySrc, nil) // per-VM ports lack c; the cmd checks names
	}
	var out bytes.Buffer
	res, err := r.Run(context.Background(), RunConfig{
		Policy:  pol,
		Mode:    hub.ModeSwitch,
		Capture: memCapture(&out, capture.Meta{Version: "test", Seed: 42, PolicyHash: "golden"}),
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return out.Bytes(), res
}

type hubPolicy = hub.Policy

func TestReplayGolden(t *testing.T) {
	for _, tc := range []struct {
		name   string
		inputs func(t *testing.T) []Input
	}{
		{"l2hub-capture", func(t *testing.T) []Input {
			return []Input{testInput(t, "live.pcapng", func() []byte { return l2hubCapture(t, 300) })}
		}},
		{"per-vm-pcaps", func(t *testing.T) []Input {
			pv := perVMCaptures(t, 200)
			return []Input{
				testInput(t, "packets-A.pcap", func() []byte { return pv.a }),
				testInput(t, "packets-B.pcap", func() []byte { return pv.b }),
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ins := tc.inputs(t)
			cfg := Config{Inputs: ins}
			if tc.name == "per-vm-pcaps" { // port names the policy knows
				cfg.Inputs[0].Port, cfg.Inputs[1].Port = "a", "b"
			}
			got, res := replayOnce(t, cfg, replayPolicy)
			again, _ := replayOnce(t, cfg, replayPolicy)
			if !bytes.Equal(got, again) {
				t.Fatalf("two replays of the same input differ: %s", firstDiff(again, got))
			}
			golden(t, tc.name+".pcapng", got)
			var sum bytes.Buffer
			if err := res.WriteSummary(&sum); err != nil {
				t.Fatal(err)
			}
			golden(t, tc.name+".summary", sum.Bytes())
			if res.Replayed == 0 || res.Rules == nil {
				t.Fatalf("got %d frames replayed, rules %v; want some of each", res.Replayed, res.Rules)
			}
			for _, r := range res.Rules.Rules {
				if r.Matched == 0 && r.Rule != "corrupt-c" {
					t.Errorf("rule %s matched nothing; the golden should exercise it", r.Rule)
				}
			}
		})
	}
}

// TestReplaySeedMatters checks that the output is a function of the seed:
// another seed gives other decisions.
func TestReplaySeedMatters(t *testing.T) {
	in := memInput("live.pcapng", l2hubCapture(t, 300))
	a, _ := replayOnce(t, Config{Inputs: []Input{in}}, replayPolicy)
	b, _ := replayOnce(t, Config{Inputs: []Input{in}}, strings.Replace(replayPolicy, "seed: 42", "seed: 43", 1))
	if bytes.Equal(a, b) {
		t.Error("seeds 42 and 43 gave byte-identical replays; want different decisions")
	}
}

func TestPerVMDuplicates(t *testing.T) {
	pv := perVMCaptures(t, 400)
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"inferred-owners", Config{Inputs: []Input{memInput("packets-A.pcap", pv.a), memInput("packets-B.pcap", pv.b)}}},
		{"inputs-in-other-order", Config{Inputs: []Input{memInput("packets-B.pcap", pv.b), memInput("packets-A.pcap", pv.a)}}},
		{"owners-by-flag", Config{
			Inputs: []Input{memInput("packets-A.pcap", pv.a), memInput("packets-B.pcap", pv.b)},
			MACs:   []MACPort{{Port: "packets-A", MAC: macA}, {Port: "packets-B", MAC: macB}},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, res := replayOnce(t, tc.cfg, "")
			if want := pv.sentA + pv.sentB + pv.sentC; res.Replayed != want {
				t.Errorf("got %d frames replayed, want %d (each sent frame once)", res.Replayed, want)
			}
			if res.Echoes != pv.echoes {
				t.Errorf("got %d echoes, want %d", res.Echoes, pv.echoes)
			}
			if res.Duplicates != pv.duplicates {
				t.Errorf("got %d duplicates, want %d", res.Duplicates, pv.duplicates)
			}
			rx := map[string]uint64{}
			for _, p := range res.Ports {
				rx[p.Name] = p.Stats.RxFrames
			}
			// c's frames go to whichever input was taken as their sender.
			if rx["packets-A"] < uint64(pv.sentA) || rx["packets-B"] < uint64(pv.sentB) || rx["packets-A"]+rx["packets-B"] != uint64(pv.sentA+pv.sentB+pv.sentC) {
				t.Errorf("got rx %v, want packets-A >= %d, packets-B >= %d, %d in all", rx, pv.sentA, pv.sentB, pv.sentA+pv.sentB+pv.sentC)
			}
			owners := map[[6]byte]string{}
			for _, o := range res.Owners {
				owners[o.MAC] = o.Input
			}
			if owners[macA] != "packets-A" || owners[macB] != "packets-B" {
				t.Errorf("got owners %v, want a's MAC from packets-A and b's from packets-B", res.Owners)
			}
		})
	}
}

// TestOneForeignInputPortPerMAC: a single tcpdump file of a segment becomes
// one port per source MAC, so that there is something to forward between.
func TestOneForeignInputPortPerMAC(t *testing.T) {
	f1 := udpFrame(t, macA, macB, ipA, ipB, 1, 2, 1, "x")
	f2 := udpFrame(t, macB, macA, ipB, ipA, 2, 1, 2, "y")
	data := writePcap(t, time.Unix(100, 0), []pcapRecord{{0, f1}, {time.Millisecond, f2}, {2 * time.Millisecond, f1}})
	r, err := Open(Config{Inputs: []Input{memInput("seg.pcap", data)}})
	if err != nil {
		t.Fatal(err)
	}
	// A policy is checked against these names, as serve checks it.
	if got, want := r.Ports(), []string{autoPort(macA), autoPort(macB)}; !r.PerMAC() || !slices.Equal(got, want) {
		t.Errorf("got Ports() = %v (per MAC: %v), want %v", got, r.PerMAC(), want)
	}
	_, res := replayOnce(t, Config{Inputs: []Input{memInput("seg.pcap", data)}}, "")
	got := map[string]hub.StatsSnapshot{}
	for _, p := range res.Ports {
		got[p.Name] = p.Stats
	}
	if a, b := got[autoPort(macA)], got[autoPort(macB)]; a.RxFrames != 2 || b.RxFrames != 1 || a.TxFrames != 1 || b.TxFrames != 2 {
		t.Errorf("got ports %+v, want %s rx 2 tx 1 and %s rx 1 tx 2", got, autoPort(macA), autoPort(macB))
	}
}

func TestBadInput(t *testing.T) {
	good := l2hubCapture(t, 60)
	total := countPackets(t, good)
	for _, tc := range []struct {
		name      string
		data      []byte
		openErr   string
		inputErr  string
		truncated bool
	}{
		{name: "truncated", data: cutLastPacket(good), inputErr: "truncated", truncated: true},
		{name: "corrupt-length", data: corruptLastBlockLength(good), inputErr: "corrupt"},
		{name: "not-a-capture", data: []byte("GIF89a not a capture at all"), openErr: "not a pcap or pcapng file"},
		{name: "linux-sll", data: sllPcap(t), inputErr: "LINUX_SLL (113)"},
		{name: "empty", data: nil, openErr: "truncated"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Open(Config{Inputs: []Input{memInput(tc.name+".cap", tc.data)}})
			if tc.openErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.openErr) || !strings.Contains(err.Error(), tc.name+".cap") {
					t.Fatalf("Open: got %v, want an error naming the file and %q", err, tc.openErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			res, err := r.Run(context.Background(), RunConfig{})
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			ie := res.Inputs[0].Err
			if ie == nil || !strings.Contains(ie.Error(), tc.inputErr) {
				t.Fatalf("got input error %v, want one mentioning %q", ie, tc.inputErr)
			}
			var re *capture.ReadError
			if !errors.As(ie, &re) || re.Packet < 1 || (tc.name != "linux-sll" && re.Offset <= 0) {
				t.Errorf("got %v, want a ReadError with the packet number and byte offset", ie)
			}
			if ie.Truncated() != tc.truncated || (res.Err() == nil) != tc.truncated {
				t.Errorf("Truncated() = %v, Result.Err() = %v; want truncated=%v and an error only otherwise", ie.Truncated(), res.Err(), tc.truncated)
			}
			if tc.name != "linux-sll" && (res.Packets == 0 || res.Packets >= total) {
				t.Errorf("got %d packets read before the break, want some but fewer than %d", res.Packets, total)
			}
			var sum, errs bytes.Buffer
			res.WriteSummary(&sum)
			res.WriteInputErrors(&errs)
			if !strings.Contains(errs.String(), "packet ") || !strings.Contains(errs.String(), "at byte") {
				t.Errorf("input errors do not say where reading stopped:\n%s", errs.String())
			}
			if strings.Contains(sum.String(), "at byte") {
				t.Errorf("the summary repeats the input error:\n%s", sum.String())
			}
		})
	}
}

func countPackets(t *testing.T, data []byte) int {
	t.Helper()
	return len(readPackets(t, data))
}

// corruptLastBlockLength breaks the length field of the capture's block
// that starts half-way through.
// cutLastPacket ends the capture 37 bytes before its last packet block
// ends (the statistics blocks after it go too), as a killed writer might.
func cutLastPacket(good []byte) []byte {
	rd, _ := capture.NewReader(bytes.NewReader(good), capture.ReadOptions{})
	var last int64
	for p, err := range rd.All() {
		if err != nil {
			break
		}
		last = p.Offset
	}
	end := last + int64(binary.LittleEndian.Uint32(good[last+4:]))
	return good[:end-37]
}

func corruptLastBlockLength(good []byte) []byte {
	b := bytes.Clone(good)
	rd, _ := capture.NewReader(bytes.NewReader(good), capture.ReadOptions{})
	var off int64
	n := 0
	for p, err := range rd.All() {
		if err != nil {
			break
		}
		if n++; n == 40 {
			off = p.Offset
		}
	}
	b[off+4], b[off+5], b[off+6], b[off+7] = 0xff, 0xff, 0xff, 0x7f
	return b
}

// sllPcap is a classic pcap of Linux cooked frames.
func sllPcap(t *testing.T) []byte {
	data := writePcap(t, time.Unix(0, 0), []pcapRecord{{0, make([]byte, 60)}})
	data[20] = 113 // LINKTYPE_LINUX_SLL
	return data
}

// Two per-VM inputs that hold the same frames at the same instants (the
// classic pcap files of a two-port link, each holding both directions)
// leave a MAC's port a guess: the report says so on the warning stream and
// how to decide it, and only then. Each VM's own file tells its VM's MAC
// by timing; a third VM's, which both files hear alike, is a guess.
func TestGuessedOwnerIsWarned(t *testing.T) {
	pv := perVMCaptures(t, 100)
	for _, tc := range []struct {
		name    string
		a, b    []byte
		guessed [][6]byte
	}{
		{"same-frames-in-both", pv.a, pv.a, [][6]byte{macA, macB, macC}},
		{"each-vm-its-own", pv.a, pv.b, [][6]byte{macC}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, res := replayOnce(t, Config{Inputs: []Input{memInput("packets-A.pcap", tc.a), memInput("packets-B.pcap", tc.b)}}, "")
			var out, warn bytes.Buffer
			if err := (&JobResult{Result: res}).Report(&out, &warn, false); err != nil {
				t.Fatal(err)
			}
			for _, mac := range [][6]byte{macA, macB, macC} {
				said := strings.Contains(warn.String(), macString(mac)+"'s frames went to port") && strings.Contains(warn.String(), "--port NAME="+macString(mac))
				if want := slices.Contains(tc.guessed, mac); said != want {
					t.Errorf("a guess of %s's port said: %v, want %v; warnings:\n%s\nowners: %v", macString(mac), said, want, warn.String(), res.Owners)
				}
			}
		})
	}
}

// A capture whose clock runs backwards (10s, 1s, 5s) is replayed with
// virtual time that does not: the frames stamped before the time reached
// go out at it, and the replay says how many and by how much.
func TestReplayClockRunningBackwards(t *testing.T) {
	epoch := time.Unix(1000, 0)
	var recs []pcapRecord
	for i, at := range []time.Duration{10 * time.Second, time.Second, 5 * time.Second, 11 * time.Second} {
		recs = append(recs, pcapRecord{at, udpFrame(t, macA, macB, ipA, ipB, 1, 2, uint16(i), "frame")})
	}
	r, err := Open(Config{Inputs: []Input{memInput("back.pcap", writePcap(t, epoch, recs))}})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	res, err := r.Run(context.Background(), RunConfig{Mode: hub.ModeHub, Capture: memCapture(&out, capture.Meta{})})
	if err != nil {
		t.Fatal(err)
	}
	if in := res.Inputs[0]; in.Back != 2 || in.MostBack != 9*time.Second {
		t.Errorf("got %d frames back by up to %v, want 2 by up to 9s", in.Back, in.MostBack)
	}
	var w strings.Builder
	res.WriteInputErrors(&w)
	const want = "warning: back.pcap: 2 frames are stamped before a time the replay had reached (a frame before them, or the capture's start), by up to 9s: the capture's clock ran backwards; they were replayed at the time reached, as virtual time does not go back\n"
	if w.String() != want {
		t.Errorf("got warnings %q, want %q", w.String(), want)
	}
	rd, err := capture.NewReader(bytes.NewReader(out.Bytes()), capture.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var got []time.Duration
	for {
		p, err := rd.Next()
		if err != nil {
			break
		}
		if p.Dir == capture.DirIn {
			got = append(got, p.Time.Sub(epoch))
		}
	}
	if want := []time.Duration{10 * time.Second, 10 * time.Second, 10 * time.Second, 11 * time.Second}; !slices.Equal(got, want) {
		t.Errorf("got ingress at %v, want %v", got, want)
	}
}

// TestOwnerTiesAreNotBrokenByArgumentOrder: in the testdata's per-VM
// pcaps, c's MAC is seen in both files as far after a's as before b's
// (its median lies exactly between theirs): timing says nothing of it,
// and it must not say "timing" for whichever input came first. It falls
// through to a guess, which warns; a's and b's MACs are still timing's.
func TestOwnerTiesAreNotBrokenByArgumentOrder(t *testing.T) {
	read := func(name string) Input {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		return memInput(name, data)
	}
	a, b := read("packets-A.pcap"), read("packets-B.pcap")
	for _, ins := range [][]Input{{a, b}, {b, a}} {
		r, err := Open(Config{Inputs: ins})
		if err != nil {
			t.Fatal(err)
		}
		res, err := r.Run(context.Background(), RunConfig{})
		if err != nil {
			t.Fatal(err)
		}
		how := map[[6]byte]string{}
		for _, o := range res.Owners {
			how[o.MAC] = o.Input + " " + o.How
		}
		order := ins[0].Path + ", " + ins[1].Path
		if how[macA] != "packets-A "+ownerTiming || how[macB] != "packets-B "+ownerTiming {
			t.Errorf("%s: got owners %v, want a's and b's MACs by timing", order, res.Owners)
		}
		if h := how[macC]; strings.HasSuffix(h, ownerTiming) {
			t.Errorf("%s: got %s's owner %q, want no timing: it lies between a's and b's", order, macString(macC), h)
		}
		warned := slices.ContainsFunc((&JobResult{Result: res}).Warnings(), func(n Note) bool { return n.Kind == NoteOwnerGuess })
		if strings.HasSuffix(how[macC], ownerFirst) != warned {
			t.Errorf("%s: %s's owner is %q; got a guess warning %v", order, macString(macC), how[macC], warned)
		}
	}
}

// TestFrameLen: a record cut short is replayed at its wire length, up to
// the largest frame a hub takes (QEMU's receive buffer) and including it;
// past that the length is not believed and the captured bytes are sent.
func TestFrameLen(t *testing.T) {
	data := make([]byte, 60)
	for _, tc := range []struct {
		name              string
		origLen, want     int
		wantCut, wantLong bool
	}{
		{"whole", 60, 60, false, false},
		{"cut", 1514, 1514, true, false},
		{"cut-largest-frame", hub.DefaultMaxFrame, hub.DefaultMaxFrame, true, false},
		{"cut-past-largest-frame", hub.DefaultMaxFrame + 1, 60, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, cut, long := frameLen(&capture.Packet{Data: data, OrigLen: tc.origLen})
			if n != tc.want || cut != tc.wantCut || long != tc.wantLong {
				t.Errorf("got frameLen(60 of %d bytes) = %d, cut %v, long %v; want %d, %v, %v", tc.origLen, n, cut, long, tc.want, tc.wantCut, tc.wantLong)
			}
		})
	}
}
