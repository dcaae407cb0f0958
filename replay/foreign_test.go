package replay

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"l2hub/capture"
	"l2hub/hub"
	"l2hub/hub/hubtest"
)

// portStats maps a replay's ports to their counters.
func portStats(res *Result) map[string]hub.StatsSnapshot {
	got := map[string]hub.StatsSnapshot{}
	for _, p := range res.Ports {
		got[p.Name] = p.Stats
	}
	return got
}

// TestForeignInputPortsByMAC: --port NAME=MAC names the ports of a foreign
// capture's hosts; once the user maps MACs, the frames of a MAC nobody
// named stay on the file's own port (named after the file).
func TestForeignInputPortsByMAC(t *testing.T) {
	f1 := udpFrame(t, macA, macB, ipA, ipB, 1, 2, 1, "x")
	f2 := udpFrame(t, macB, macA, ipB, ipA, 2, 1, 2, "y")
	f3 := udpFrame(t, macC, macA, ipC, ipA, 3, 1, 3, "z")
	data := writePcap(t, time.Unix(100, 0), []pcapRecord{{0, f1}, {time.Millisecond, f2}, {2 * time.Millisecond, f1}, {3 * time.Millisecond, f3}})
	_, res := replayOnce(t, Config{
		Inputs: []Input{memInput("seg.pcap", data)},
		MACs:   []MACPort{{Port: "node-a", MAC: macA}, {Port: "node-b", MAC: macB}},
	}, "")
	got := portStats(res)
	a, b, c := got["node-a"], got["node-b"], got["seg"]
	if a.RxFrames != 2 || b.RxFrames != 1 || c.RxFrames != 1 || len(got) != 3 {
		t.Errorf("got ports %+v, want node-a rx 2, node-b rx 1, seg rx 1 and no others", got)
	}
	if a.TxFrames != 2 || b.TxFrames != 2 {
		t.Errorf("got node-a tx %d and node-b tx %d, want 2 and 2 (b's reply and c's frame to a; a's two frames to b)", a.TxFrames, b.TxFrames)
	}
}

// TestForeignPortMapSameMACTwice: one MAC given to two ports (--port
// a=MAC --port b=MAC) is refused, naming both, rather than the last
// mapping silently taking its frames; given twice to one port it is the
// same mapping, and taken.
func TestForeignPortMapSameMACTwice(t *testing.T) {
	data := writePcap(t, time.Unix(100, 0), []pcapRecord{{0, udpFrame(t, macA, macB, ipA, ipB, 1, 2, 1, "x")}})
	_, err := Open(Config{
		Inputs: []Input{memInput("seg.pcap", data)},
		MACs:   []MACPort{{Port: "node-a", MAC: macA}, {Port: "node-b", MAC: macB}, {Port: "other", MAC: macA}},
	})
	if !errors.Is(err, ErrPortMap) || !strings.Contains(err.Error(), `ports "node-a" and "other"`) {
		t.Errorf("got Open() = %v, want %v naming ports node-a and other", err, ErrPortMap)
	}
	_, res := replayOnce(t, Config{
		Inputs: []Input{memInput("seg.pcap", data)},
		MACs:   []MACPort{{Port: "node-a", MAC: macA}, {Port: "node-a", MAC: macA}},
	}, "")
	if got := portStats(res); got["node-a"].RxFrames != 1 {
		t.Errorf("got ports %+v, want node-a rx 1", got)
	}
}

// ngCapture writes a pcapng as dumpcap would: no l2hub section comment,
// one interface per name given, every frame on the interface named by
// its record.
func ngCapture(t *testing.T, ifaces []string, recs []struct {
	iface int
	frame []byte
}) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := pcapgo.NewNgWriterInterface(&buf, pcapgo.NgInterface{Name: ifaces[0], LinkType: layers.LinkTypeEthernet, SnapLength: 262144}, pcapgo.NgWriterOptions{SectionInfo: pcapgo.NgSectionInfo{Application: "Dumpcap (Wireshark) 4.0.17"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range ifaces[1:] {
		if _, err := w.AddInterface(pcapgo.NgInterface{Name: name, LinkType: layers.LinkTypeEthernet, SnapLength: 262144}); err != nil {
			t.Fatal(err)
		}
	}
	at := time.Unix(1700000000, 0)
	for i, r := range recs {
		ci := gopacket.CaptureInfo{Timestamp: at.Add(time.Duration(i) * time.Millisecond), CaptureLength: len(r.frame), Length: len(r.frame), InterfaceIndex: r.iface}
		if err := w.WritePacket(ci, r.frame); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestForeignPcapng replays pcapng files that l2hub did not write: one
// interface (a tcpdump or Wireshark capture of a bridge) gives one port per
// source MAC, as a classic pcap does; several interfaces (dumpcap -i tap0
// -i tap1) give one port per interface, named after it.
func TestForeignPcapng(t *testing.T) {
	f1 := udpFrame(t, macA, macB, ipA, ipB, 1, 2, 1, "x")
	f2 := udpFrame(t, macB, macA, ipB, ipA, 2, 1, 2, "y")
	type rec = struct {
		iface int
		frame []byte
	}
	t.Run("one-interface", func(t *testing.T) {
		data := ngCapture(t, []string{"br0"}, []rec{{0, f1}, {0, f2}, {0, f1}})
		_, res := replayOnce(t, Config{Inputs: []Input{memInput("bridge.pcapng", data)}}, "")
		got := portStats(res)
		if a, b := got[autoPort(macA)], got[autoPort(macB)]; a.RxFrames != 2 || b.RxFrames != 1 {
			t.Errorf("got ports %+v, want %s rx 2 and %s rx 1", got, autoPort(macA), autoPort(macB))
		}
	})
	t.Run("two-interfaces", func(t *testing.T) {
		data := ngCapture(t, []string{"tap0", "tap1"}, []rec{{0, f1}, {1, f2}, {0, f1}})
		_, res := replayOnce(t, Config{Inputs: []Input{memInput("taps.pcapng", data)}}, "")
		got := portStats(res)
		if a, b := got["tap0"], got["tap1"]; a.RxFrames != 2 || b.RxFrames != 1 || a.TxFrames != 1 || b.TxFrames != 2 {
			t.Errorf("got ports %+v, want tap0 rx 2 tx 1 and tap1 rx 1 tx 2", got)
		}
	})
}

// TestPortNameIgnoredIsWarned: --port NAME=FILE names the port of a file
// with one link; a file that names its own ports (an l2hub capture, a
// pcapng of several interfaces) leaves NAME unused, and the replay warns,
// naming the ports a policy can name instead.
func TestPortNameIgnoredIsWarned(t *testing.T) {
	f1 := udpFrame(t, macA, macB, ipA, ipB, 1, 2, 1, "x")
	type rec = struct {
		iface int
		frame []byte
	}
	for _, tc := range []struct {
		name  string
		data  []byte
		ports string // "" for no warning
	}{
		{"l2hub", describedCapture(t, capture.Meta{}, func(sim *hubtest.Sim, _ *capture.Sink) { sim.Send("a", f1) }), "a, b"},
		{"two-interfaces", ngCapture(t, []string{"tap0", "tap1"}, []rec{{0, f1}, {1, f1}}), "tap0, tap1"},
		{"one-interface", ngCapture(t, []string{"br0"}, []rec{{0, f1}}), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Open(Config{Inputs: []Input{{Path: "in.pcapng", Port: "x", Open: memInput("in.pcapng", tc.data).Open}}})
			if err != nil {
				t.Fatal(err)
			}
			warned := slices.ContainsFunc(r.Notes(), func(n Note) bool {
				return n.Warning && strings.Contains(n.Text, "--port x=in.pcapng names no port") && strings.Contains(n.Text, "(ports "+tc.ports+")")
			})
			if warned != (tc.ports != "") {
				t.Errorf("got notes %q, want a warning naming ports %q: %v", r.Notes(), tc.ports, tc.ports != "")
			}
		})
	}
}
