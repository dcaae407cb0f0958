package serve_test

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/gopacket/pcapgo"

	"l2hub/hub/hubtest"
	"l2hub/serve"
	"l2hub/transport"
)

// TestCaptureStatisticsAreTheSummarys: a served run's capture ends with an
// Interface Statistics Block per port whose isb_ifrecv and isb_ifdrop are
// the hub's own counters at the end, as the exit summary prints them:
// drops the capture never saw as frames (a runt, frames for a port with no
// VM) included.
func TestCaptureStatisticsAreTheSummarys(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "run.pcapng")
	cfg := serve.Config{
		Control: "off",
		Capture: serve.CaptureConfig{File: file},
		Ports: []transport.Spec{
			{Name: "a", Transport: transport.TCP, Address: "127.0.0.1:0"},
			{Name: "b", Transport: transport.TCP, Address: "127.0.0.1:0"},
			{Name: "c", Transport: transport.TCP, Address: "127.0.0.1:0"}, // no VM: port-down
		},
	}
	sess := startSession(t, cfg, nil)
	bound := sess.Bound()
	a, b := dialVM(t, bound[0].Spec.Address), dialVM(t, bound[1].Spec.Address)
	waitAttached(t, sess, "a", "b")
	macA := hubtest.MAC("52:54:00:12:34:0a")
	for range 3 {
		if err := a.WriteFrame(hubtest.Frame(hubtest.Broadcast, macA, "to all")); err != nil {
			t.Fatal(err)
		}
		readFrame(t, b)
	}
	if err := a.WriteFrame([]byte("runt")); err != nil { // shorter than an Ethernet header
		t.Fatal(err)
	}
	if err := a.WriteFrame(hubtest.Frame(hubtest.Broadcast, macA, "last")); err != nil {
		t.Fatal(err)
	}
	readFrame(t, b) // the runt, read before it, has been counted
	if err := sess.Stop(); err != nil {
		t.Fatal(err)
	}

	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	got := isbs(t, data)
	var dropped uint64
	for _, ps := range sess.Stats() {
		snap := ps.Stats.Snapshot()
		var drops uint64
		for _, n := range snap.Drops {
			drops += n
		}
		dropped += drops
		g, ok := got[ps.Name]
		if !ok {
			t.Errorf("port %s has no statistics block", ps.Name)
			continue
		}
		if g.PacketsReceived != snap.RxFrames || g.PacketsDropped != drops {
			t.Errorf("port %s: isb_ifrecv %d, isb_ifdrop %d; the summary says %d received, %d dropped (%v)",
				ps.Name, g.PacketsReceived, g.PacketsDropped, snap.RxFrames, drops, snap.Drops)
		}
	}
	if dropped < 5 { // the runt on a, four frames for c with no VM
		t.Errorf("the run dropped %d frames, want at least the runt and c's four: the test proves nothing", dropped)
	}
}

// isbs reads each interface's last statistics block with gopacket's
// reader, by interface name.
func isbs(t *testing.T, data []byte) map[string]pcapgo.NgInterfaceStatistics {
	t.Helper()
	byID := map[int]pcapgo.NgInterfaceStatistics{}
	r, err := pcapgo.NewNgReader(bytes.NewReader(data), pcapgo.NgReaderOptions{
		WantMixedLinkType:  true,
		StatisticsCallback: func(id int, st pcapgo.NgInterfaceStatistics) { byID[id] = st },
	})
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, _, err := r.ReadPacketData(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
	}
	out := map[string]pcapgo.NgInterfaceStatistics{}
	for id, st := range byID {
		iface, err := r.Interface(id)
		if err != nil {
			t.Fatal(err)
		}
		out[iface.Name] = st
	}
	return out
}
