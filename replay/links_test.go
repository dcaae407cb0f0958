package replay

import (
	"context"
	"io"
	"math"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"l2hub/hub/hubtest"
)

// ngBlocks builds a pcapng block by block, in the order given, as other
// tools (or cat) may lay one out: sections, interfaces after frames,
// Simple Packet Blocks. Times are microseconds (the default if_tsresol).
type ngBlocks struct{ b []byte }

func (g *ngBlocks) block(typ uint32, body []byte) *ngBlocks {
	for len(body)%4 != 0 {
		body = append(body, 0)
	}
	n := uint32(12 + len(body))
	g.b = appendLE32(appendLE32(g.b, typ), n)
	g.b = appendLE32(append(g.b, body...), n)
	return g
}

// section starts a section with no l2hub header.
func (g *ngBlocks) section() *ngBlocks {
	shb := appendLE32(nil, 0x1a2b3c4d)
	shb = append(shb, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)
	return g.block(0x0a0d0d0a, shb)
}

// iface describes an Ethernet interface, named when name is not "".
func (g *ngBlocks) iface(name string) *ngBlocks {
	body := []byte{1, 0, 0, 0, 0, 0, 0, 0}
	if name != "" {
		body = appendOpt(body, 2, name) // if_name
		body = append(body, 0, 0, 0, 0)
	}
	return g.block(1, body)
}

// epb is a frame on interface id, at t.
func (g *ngBlocks) epb(id int, t time.Time, f []byte) *ngBlocks {
	us := uint64(t.UnixMicro())
	body := appendLE32(nil, uint32(id))
	body = appendLE32(appendLE32(body, uint32(us>>32)), uint32(us))
	body = appendLE32(appendLE32(body, uint32(len(f))), uint32(len(f)))
	return g.block(6, append(body, f...))
}

// spb is a frame of a Simple Packet Block: interface 0, no time.
func (g *ngBlocks) spb(f []byte) *ngBlocks {
	return g.block(3, append(appendLE32(nil, uint32(len(f))), f...))
}

// TestForeignInterfacesAcrossSections: a foreign pcapng's interface is one
// port wherever it is described: in a section of one interface or of
// several (files joined with cat), before or after frames of another. No
// frame of it is taken for another input's copy.
func TestForeignInterfacesAcrossSections(t *testing.T) {
	at := time.Unix(1700000000, 0)
	ms := func(n int) time.Time { return at.Add(time.Duration(n) * time.Millisecond) }
	fa := func(n int) []byte { return hubtest.Frame(hubtest.Broadcast, macA, "a"+strings.Repeat("x", n)) }
	fb := hubtest.Frame(hubtest.Broadcast, macB, "b")
	for _, tc := range []struct {
		name string
		g    *ngBlocks
	}{
		{"two-then-one", new(ngBlocks).section().iface("eth0").iface("eth1").epb(0, ms(0), fa(0)).epb(1, ms(1), fb).epb(0, ms(2), fa(1)).
			section().iface("eth0").epb(0, ms(3), fa(2)).epb(0, ms(4), fa(3))},
		{"one-then-two", new(ngBlocks).section().iface("eth0").epb(0, ms(0), fa(0)).epb(0, ms(1), fa(1)).
			section().iface("eth0").iface("eth1").epb(1, ms(2), fb).epb(0, ms(3), fa(2)).epb(0, ms(4), fa(3))},
		{"late-interface", new(ngBlocks).section().iface("eth0").epb(0, ms(0), fa(0)).iface("eth1").epb(1, ms(1), fb).
			epb(0, ms(2), fa(1)).epb(0, ms(3), fa(2)).epb(0, ms(4), fa(3))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Open(Config{Inputs: []Input{memInput("secs.pcapng", tc.g.b)}})
			if err != nil {
				t.Fatal(err)
			}
			if got := r.Ports(); !slices.Equal(got, []string{"eth0", "eth1"}) {
				t.Errorf("got ports %q, want eth0 and eth1", got)
			}
			res, err := r.Run(context.Background(), RunConfig{})
			if err != nil {
				t.Fatal(err)
			}
			got := portStats(res)
			if res.Replayed != 5 || res.Duplicates != 0 || len(got) != 2 || got["eth0"].RxFrames != 4 || got["eth1"].RxFrames != 1 {
				t.Errorf("got %d replayed, %d duplicates, ports %+v; want 5, 0, eth0 rx 4 and eth1 rx 1", res.Replayed, res.Duplicates, got)
			}
		})
	}
	// After an l2hub capture's section (cat run.pcapng two.pcapng), the
	// foreign sections' interfaces are ports of their own as well, as
	// inject --from names them (TestInjectFromNamesPortsAsReplay).
	t.Run("l2hub-then-foreign", func(t *testing.T) {
		g := new(ngBlocks).sectionWith("l2hub capture\nversion=test").iface("a").epb(0, ms(0), hubtest.Frame(hubtest.Broadcast, macC, "c")).
			section().iface("eth0").iface("eth1").epb(0, ms(1), fa(0)).epb(1, ms(2), fb).epb(0, ms(3), fa(1))
		r, err := Open(Config{Inputs: []Input{memInput("le.pcapng", g.b)}})
		if err != nil {
			t.Fatal(err)
		}
		res, err := r.Run(context.Background(), RunConfig{})
		if err != nil {
			t.Fatal(err)
		}
		got := portStats(res)
		if len(got) != 3 || got["eth0"].RxFrames != 2 || got["eth1"].RxFrames != 1 {
			t.Errorf("got ports %+v; want a, eth0 rx 2 and eth1 rx 1", got)
		}
	})
	t.Run("one-link-in-two-sections", func(t *testing.T) {
		g := new(ngBlocks).section().iface("eth0").epb(0, ms(0), fa(0)).section().iface("eth0").epb(0, ms(1), fa(1))
		r, err := Open(Config{Inputs: []Input{memInput("vm-a.pcapng", g.b)}, MACs: []MACPort{{Port: "x", MAC: macB}}})
		if err != nil {
			t.Fatal(err)
		}
		if got := r.Ports(); !slices.Contains(got, "vm-a") || slices.Contains(got, "eth0") {
			t.Errorf("got ports %q, want the file's port vm-a for its one link", got)
		}
	})
}

// TestSimplePacketBlockFirstIsNoStart: a Simple Packet Block has no time;
// as an input's first frame it does not move the replay's start, and the
// stamped frames after it keep their times and spacing.
func TestSimplePacketBlockFirstIsNoStart(t *testing.T) {
	at := time.Unix(1700000000, 0)
	f := hubtest.Frame(hubtest.Broadcast, macA, "x")
	g := new(ngBlocks).section().iface("").spb(f).epb(0, at, f).epb(0, at.Add(2*time.Millisecond), f)
	r, err := Open(Config{Inputs: []Input{memInput("spbfirst.pcapng", g.b)}})
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Start(); !got.Equal(at) {
		t.Errorf("got start %v, want the first stamped frame's, %v", got, at)
	}
	res, err := r.Run(context.Background(), RunConfig{})
	if err != nil {
		t.Fatal(err)
	}
	in := res.Inputs[0]
	if in.Untimed != 1 || in.Back != 0 || !res.End.Equal(at.Add(2*time.Millisecond)) {
		t.Errorf("got %d untimed, %d stamped back, end %v; want 1, 0 and %v", in.Untimed, in.Back, res.End, at.Add(2*time.Millisecond))
	}
	ws := (&JobResult{Result: res}).Warnings()
	if !slices.ContainsFunc(ws, func(n Note) bool {
		return strings.Contains(n.Text, ": 1 frame comes from pcapng Simple Packet Blocks") || strings.HasPrefix(n.Text, "1 frame comes from")
	}) {
		t.Errorf("got warnings %q, want one saying that 1 frame comes from pcapng Simple Packet Blocks", ws)
	}
}

// sectionWith starts a section whose comment is comment.
func (g *ngBlocks) sectionWith(comment string) *ngBlocks {
	shb := appendLE32(nil, 0x1a2b3c4d)
	shb = append(shb, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)
	shb = append(appendOpt(shb, 1, comment), 0, 0, 0, 0)
	return g.block(0x0a0d0d0a, shb)
}

// TestSectionsDoNotGrowMemory: an l2hub capture's sections that describe
// the same interfaces again (each file or part does) cost the replay
// nothing more: what Open keeps is per port, not per section.
func TestSectionsDoNotGrowMemory(t *testing.T) {
	const sections, ifaces = 1000, 100
	g := new(ngBlocks)
	for range sections {
		g.sectionWith("l2hub capture\nversion=test")
		for range ifaces {
			g.iface("")
		}
	}
	g.epb(0, time.Unix(1700000000, 0), hubtest.Frame(hubtest.Broadcast, macA, "x"))
	heap := func() uint64 {
		var ms runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	before := heap()
	r, err := Open(Config{Inputs: []Input{memInput("many.pcapng", g.b)}})
	if err != nil {
		t.Fatal(err)
	}
	grew := int64(heap()) - int64(before)
	if got := len(r.Ports()); got != ifaces {
		t.Errorf("got %d ports, want %d", got, ifaces)
	}
	if grew > 1<<20 {
		t.Errorf("got Open keeping %d bytes for %d sections of %d interfaces, want less than 1 MiB: memory grows with the sections", grew, sections, ifaces)
	}
	runtime.KeepAlive(r)
}

// TestInjectSimplePacketBlocks: in recorded timing, a Simple Packet
// Block's frame, which has no time, goes right after the frame before it
// and is counted; the stamped frames keep their spacing from each other,
// and nothing is taken for a frame of year 1.
func TestInjectSimplePacketBlocks(t *testing.T) {
	at := time.Unix(1700000000, 0)
	f := hubtest.Frame(hubtest.Broadcast, macA, "x")
	ms := time.Millisecond
	for _, tc := range []struct {
		name    string
		g       *ngBlocks
		sent    []time.Duration
		untimed int
	}{
		{"between", new(ngBlocks).section().iface("").epb(0, at, f).spb(f).epb(0, at.Add(ms), f), []time.Duration{0, 0, ms}, 1},
		{"first", new(ngBlocks).section().iface("").spb(f).epb(0, at, f).epb(0, at.Add(2*ms), f), []time.Duration{0, 0, 2 * ms}, 1},
		{"only", new(ngBlocks).section().iface("").spb(f).spb(f), []time.Duration{0, 0}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sent, rep, err := injectAt(t, InjectConfig{Input: memInput("mix.pcapng", tc.g.b), Pacing: Pacing{Speed: 1}})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(sent, tc.sent) || rep.Untimed != tc.untimed || rep.Back != 0 {
				t.Errorf("got frames sent at %v, %d untimed, %d stamped back; want %v, %d and 0", sent, rep.Untimed, rep.Back, tc.sent, tc.untimed)
			}
			warned := strings.Join(rep.Warnings(), "\n")
			if want := "no time (pcapng Simple Packet Blocks): each was sent right after the frame before it, or at the start"; !strings.Contains(warned, want) || strings.Contains(warned, "ran backwards") {
				t.Errorf("got warnings %q, want one saying %q and none of a clock that ran backwards", warned, want)
			}
		})
	}
}

// TestInjectFromNamesPortsAsReplay: --from names a foreign input's port as
// replay names it: the file's for a capture of one link (or its one
// interface's if_name: all or nothing either way), the interface's for one
// of several, in whichever section it is described, after an l2hub
// capture's section too. The one interface's if_name is no alias when an
// l2hub section of the input has a port of that name (cat run.pcapng
// vm-a.pcapng): it is that port's, as replay names it, before or after.
func TestInjectFromNamesPortsAsReplay(t *testing.T) {
	at := time.Unix(1700000000, 0)
	f := hubtest.Frame(hubtest.Broadcast, macA, "x")
	one := new(ngBlocks).section().iface("eth0").epb(0, at, f).epb(0, at.Add(time.Millisecond), f)
	two := new(ngBlocks).section().iface("eth0").iface("eth1").epb(1, at, f).section().iface("eth0").epb(0, at, f).epb(0, at, f)
	l2hubThen := new(ngBlocks).sectionWith("l2hub capture\nversion=test").iface("a").epb(0, at, f).
		section().iface("eth0").iface("eth1").epb(0, at, f).epb(1, at, f)
	l2hubThenOne := new(ngBlocks).sectionWith("l2hub capture\nversion=test").iface("eth0").epb(0, at, f).
		section().iface("eth0").epb(0, at, f).epb(0, at, f)
	oneThenL2hub := new(ngBlocks).section().iface("eth0").epb(0, at, f).epb(0, at, f).
		sectionWith("l2hub capture\nversion=test").iface("eth0").epb(0, at, f)
	for _, tc := range []struct {
		name, from string
		g          *ngBlocks
		sent       int
		err        string
	}{
		{"one-link-file", "vm-a", one, 2, ""},
		{"one-link-ifname", "eth0", one, 2, ""},
		{"one-link-other", "eth1", one, 0, "its frames come from ports vm-a;"},
		{"several-eth0", "eth0", two, 2, ""},
		{"several-eth1", "eth1", two, 1, ""},
		{"several-file", "vm-a", two, 0, "its frames come from ports eth1, eth0;"},
		{"l2hub-then-several-eth1", "eth1", l2hubThen, 1, ""},
		{"l2hub-then-several-file", "vm-a", l2hubThen, 0, "its frames come from ports a, eth0, eth1;"},
		{"l2hub-eth0-then-one-link-eth0", "eth0", l2hubThenOne, 1, ""},
		{"l2hub-eth0-then-one-link-file", "vm-a", l2hubThenOne, 2, ""},
		{"one-link-eth0-then-l2hub-eth0", "eth0", oneThenL2hub, 1, ""},
		{"one-link-then-l2hub-file", "vm-a", oneThenL2hub, 2, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, rep, err := injectAt(t, InjectConfig{Input: memInput("vm-a.pcapng", tc.g.b), From: tc.from})
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("got Inject error %v, want %q", err, tc.err)
			}
			if err == nil && rep.Frames != tc.sent {
				t.Errorf("got %d frames sent, want %d", rep.Frames, tc.sent)
			}
		})
	}
}

// TestParsePacingNamesSpeed: a bad --speed is said with its flag, as the
// other flags are.
func TestParsePacingNamesSpeed(t *testing.T) {
	given := func(f string) bool { return f == "speed" }
	for _, v := range []float64{-1, math.Inf(1), math.NaN()} {
		if _, err := ParsePacing(given, v, false, "", ""); err == nil || !strings.HasPrefix(err.Error(), "--speed ") {
			t.Errorf("got ParsePacing(--speed %v) error %v, want one naming --speed", v, err)
		}
	}
}

// TestInjectOfNothingFails: a capture with no frame to send (empty, or
// only records the hub would refuse) fails, saying why, rather than
// reporting 0 frames sent.
func TestInjectOfNothingFails(t *testing.T) {
	for _, tc := range []struct {
		name string
		g    *ngBlocks
		want string
	}{
		{"empty", new(ngBlocks).section().iface(""), "nothing to send: in.pcapng holds no frames"},
		{"runts", new(ngBlocks).section().iface("").epb(0, time.Unix(1, 0), []byte{1, 2, 3}), "only 1 record the hub would refuse"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := injectAt(t, InjectConfig{Input: memInput("in.pcapng", tc.g.b)})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got Inject error %v, want %q", err, tc.want)
			}
		})
	}
}

// TestInjectFromScansOnlyForeignInputs: inject --from reads an l2hub
// capture once to check the choice and once to send it, not once more to
// count a foreign file's links it does not have.
func TestInjectFromScansOnlyForeignInputs(t *testing.T) {
	at := time.Unix(1700000000, 0)
	f := hubtest.Frame(hubtest.Broadcast, macA, "x")
	g := new(ngBlocks).sectionWith("l2hub capture\nversion=test").iface("a").iface("b").epb(1, at, f).epb(0, at, f)
	opens := 0
	in := memInput("run.pcapng", g.b)
	open := in.Open
	in.Open = func() (io.ReadCloser, error) { opens++; return open() }
	_, rep, err := injectAt(t, InjectConfig{Input: in, From: "a"})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Frames != 1 || opens != 2 {
		t.Errorf("got %d frames sent and the capture opened %d times, want 1 and 2", rep.Frames, opens)
	}
}
