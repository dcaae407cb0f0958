package replay

import (
	"context"
	"errors"
	"os"
	"path/filepath"
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

// TestCutRecordsKeepTheirLength: records a tool cut without lowering the
// snaplen its header gives (editcap -s 60 keeps 262144) are given to the
// hub at their length on the wire, and written to the output as they
// were recorded: 60 bytes of 100, not the 40 zeros the hub was given
// after them as if they had been captured.
func TestCutRecordsKeepTheirLength(t *testing.T) {
	dir := t.TempDir()
	in, out := filepath.Join(dir, "cut.pcap"), filepath.Join(dir, "out.pcapng")
	f, err := os.Create(in)
	if err != nil {
		t.Fatal(err)
	}
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(262144, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		frame := udpFrame(t, macA, macB, ipA, ipB, 1, 2, uint16(i), "a payload that makes the frame longer than sixty bytes")
		ci := gopacket.CaptureInfo{Timestamp: time.Unix(100, int64(i)*1e6), CaptureLength: 60, Length: len(frame)}
		if err := w.WritePacket(ci, frame[:60]); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	res, err := (&Job{Files: []string{in}, Output: out}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.Inputs[0].Cut != 4 {
		t.Errorf("got %d cut frames, want 4", res.Inputs[0].Cut)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	ps := readPackets(t, data)
	if len(ps) == 0 {
		t.Fatal("the output holds no frames")
	}
	for _, p := range ps {
		if len(p.Data) != 60 || p.OrigLen <= 60 {
			t.Fatalf("an output record holds %d of %d bytes, want 60 of more, as its input record", len(p.Data), p.OrigLen)
		}
	}
}

// TestNothingToReplayIsRefused: inputs with no frame to replay (a header
// alone, a link type the hub does not carry, a record too long to read,
// only egress copies) are refused before the output is made, saying why,
// as inject refuses them.
func TestNothingToReplayIsRefused(t *testing.T) {
	header := writePcap(t, time.Unix(100, 0), nil)
	wifi := writePcap(t, time.Unix(100, 0), []pcapRecord{{0, make([]byte, 60)}})
	wifi[20] = 105 // LINKTYPE_IEEE802_11
	huge := writePcap(t, time.Unix(100, 0), []pcapRecord{{0, make([]byte, 60)}})
	huge[24+8], huge[24+9], huge[24+10], huge[24+11] = 0xff, 0xff, 0xff, 0x7f // the record's captured length
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"header-only", header, "header-only.pcap holds no frames"},
		{"wifi", wifi, "wifi.pcap: packet 1 at byte 24: unsupported link type"},
		{"huge", huge, "huge.pcap: packet 1 at byte 24"},
		{"egress", egressOnlyCapture(t), "egress.pcap has only egress copies"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			in, out := filepath.Join(dir, tc.name+".pcap"), filepath.Join(dir, "out.pcapng")
			if err := os.WriteFile(in, tc.data, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := (&Job{Files: []string{in}, Output: out}).Run(context.Background())
			if err == nil || !errors.Is(err, ErrNothingToReplay) || !strings.HasPrefix(err.Error(), "nothing to replay: ") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error saying %q", err, tc.want)
			}
			if _, serr := os.Stat(out); !errors.Is(serr, os.ErrNotExist) {
				t.Errorf("the output was made (%v), want none", serr)
			}
		})
	}
}

// egressOnlyCapture is an l2hub capture of egress copies alone
// (--capture-points egress): what the ports received, nothing they sent.
func egressOnlyCapture(t *testing.T) []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "egress.pcapng")
	sink, err := capture.Open(capture.Config{Path: path, Overflow: capture.OverflowBlock, Points: capture.PointsEgress,
		Meta: capture.Meta{Version: "test", Start: hub.DefaultEpoch}})
	if err != nil {
		t.Fatal(err)
	}
	sim := hubtest.New(t, hubtest.Config{Mode: hub.ModeHub, Ports: []string{"a", "b"}, Observers: []hub.Observer{sink}})
	sim.Send("a", hubtest.Frame(hubtest.Broadcast, hubtest.MAC("02:00:00:00:00:0a"), "one"))
	endRun(t, sim, sink)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
