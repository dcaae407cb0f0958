package checker

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"l2hub/capture"
	"l2hub/conformance"
	"l2hub/hub"
)

// portOf is the hub port a frame's sender is attached to.
func portOf(f Frame) (id hub.PortID, name string) {
	if bytes.Equal(f.Data[6:12], hostA.mac) {
		return 0, "a"
	}
	return 1, "b"
}

// writeHubCapture records frames as a two-port hub's capture of both
// points would: an ingress copy on the sender's port, then (unless dropped)
// an egress copy on the other port.
func writeHubCapture(t *testing.T, path string, format capture.Format, frames []Frame) {
	t.Helper()
	writeHubCaptureConfig(t, capture.Config{Path: path, Format: format}, frames)
}

// writeHubCaptureConfig is writeHubCapture with a capture's configuration
// (per-port files, points).
func writeHubCaptureConfig(t *testing.T, cfg capture.Config, frames []Frame) {
	t.Helper()
	cfg.Overflow = capture.OverflowBlock
	sink, err := capture.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	sink.PortAdded(hub.PortInfo{ID: 0, Name: "a", Description: "test a"})
	sink.PortAdded(hub.PortInfo{ID: 1, Name: "b", Description: "test b"})
	for _, f := range frames {
		id, name := portOf(f)
		ev := hub.Event{Time: f.Time, Port: id, PortName: name, Dir: hub.Ingress, Frame: f.Data, Dropped: f.Dropped}
		if f.Dropped {
			ev.Notes = []hub.Note{{Link: name + "->x", Rule: "loss", Action: "drop"}}
		}
		sink.Observe(&ev)
		if f.Dropped {
			continue
		}
		other, oname := 1-id, "b"
		if name == "b" {
			oname = "a"
		}
		sink.Observe(&hub.Event{Time: f.Time, Port: other, PortName: oname, Dir: hub.Egress, Frame: f.Data})
	}
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
}

// writeEchoPcap records frames as QEMU's filter-dump on a socket mcast
// backend does: classic pcap, every frame twice (the loopback echo).
func writeEchoPcap(t *testing.T, path string, frames []Frame, offset time.Duration) {
	t.Helper()
	sink, err := capture.Open(capture.Config{Path: path, Format: capture.FormatPcap, Overflow: capture.OverflowBlock})
	if err != nil {
		t.Fatal(err)
	}
	sink.PortAdded(hub.PortInfo{ID: 0, Name: "n0"})
	for _, f := range frames {
		if f.Dropped {
			continue
		}
		for range 2 {
			sink.Observe(&hub.Event{Time: f.Time.Add(offset), Port: 0, PortName: "n0", Dir: hub.Ingress, Frame: f.Data})
		}
	}
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
}

// lossyHealthy is the healthy run with node-a's ladder step 1 lost once.
func lossyHealthy(t *testing.T) []Frame {
	b, f := connected(t)
	playLossy(t, f)
	return b.frames
}

// playLossy sends the healthy script over f, each message in one segment
// and acknowledged by the receiver, with node-a's ladder step 1 lost once
// (the hub dropped it) and resent; opts apply to every frame it sends.
func playLossy(t *testing.T, f *flow, opts ...frameOpt) {
	s := healthyScript(t)
	for i, m := range s.msgs {
		off := len(f.sent[m.side])
		f.write(m.side, m.data)
		if i == 3 { // ladder step 1: lost once, then resent
			f.seg(m.side, off, len(m.data), append(slices.Clip(opts), dropped)...)
		}
		f.seg(m.side, off, len(m.data), opts...)
		if i+1 < len(s.msgs) && s.msgs[i+1].side != m.side {
			f.ack(1-m.side, opts...)
		}
	}
}

func TestCaptureFiles(t *testing.T) {
	frames := lossyHealthy(t)
	delivered := 0
	for _, f := range frames {
		if !f.Dropped {
			delivered++
		}
	}
	dir := t.TempDir()
	hubNG := filepath.Join(dir, "hub.pcapng")
	writeHubCapture(t, hubNG, capture.FormatPcapng, frames)
	perPort := filepath.Join(dir, "port.pcapng")
	writeHubCaptureConfig(t, capture.Config{Path: perPort, Format: capture.FormatPcapng, PerPort: true}, frames)
	vmA, vmB := filepath.Join(dir, "packets-A.pcap"), filepath.Join(dir, "packets-B.pcap")
	writeEchoPcap(t, vmA, frames, 0)
	writeEchoPcap(t, vmB, frames, 3*time.Second) // B's virtual clock runs elsewhere

	tests := []struct {
		name    string
		paths   []string
		frames  int
		skipped int
	}{
		{"hub-pcapng-both-points", []string{hubNG}, len(frames) + delivered, delivered},
		{"filter-dump-with-echo", []string{vmA}, 2 * delivered, delivered},
		{"two-per-vm-files", []string{vmA, vmB}, 4 * delivered, 3 * delivered},
		// Each frame is ingress in its sender's file, egress in the other.
		{"hub-per-port-files", []string{capture.PortPath(perPort, "a"), capture.PortPath(perPort, "b")}, len(frames) + delivered, delivered},
		{"hub-per-port-files-b-first", []string{capture.PortPath(perPort, "b"), capture.PortPath(perPort, "a")}, len(frames) + delivered, delivered},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := CheckFiles(Options{}, tt.paths...)
			if err != nil {
				t.Fatal(err)
			}
			if r.Fail != 0 || r.Frames != tt.frames || r.Skipped != tt.skipped {
				t.Fatalf("got %d fail, %d frames, %d skipped, want 0, %d, %d:\n%s", r.Fail, r.Frames, r.Skipped, tt.frames, tt.skipped, dump(r))
			}
			for _, id := range mustPass {
				if v, ok := verdictOf(r, id); !ok || v != Pass {
					t.Errorf("got %s = %v, want pass:\n%s", id, v, dump(r))
				}
			}
			fd, ok := r.First(TCP001)
			explained := ok && fd.Verdict == Info
			if tt.name == "hub-pcapng-both-points" && !explained {
				t.Errorf("got TCP-001 %v, want the retransmission explained by the hub's drop", fd)
			}
		})
	}
}

func TestCheckFilesFrameNumbers(t *testing.T) {
	b := newBuilder(t)
	b.announce(hostA, []byte("not an announce"))
	path := filepath.Join(t.TempDir(), "x.pcapng")
	writeHubCapture(t, path, capture.FormatPcapng, b.frames)
	r, err := CheckFiles(Options{}, path)
	if err != nil {
		t.Fatal(err)
	}
	fd, ok := r.First(DISC001)
	// The hub capture holds ingress 1, egress 2, ingress 3, egress 4.
	if !ok || fd.Verdict != Fail || len(fd.Frames) != 2 || fd.Frames[0] != 1 || fd.Frames[1] != 3 {
		t.Fatalf("got %v, want DISC-001 failing on the ingress frames 1 and 3", fd)
	}
}

func TestCheckFilesErrors(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.pcap")
	if err := os.WriteFile(junk, []byte("this is not a capture"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := CheckFiles(Options{}, junk); !errors.Is(err, capture.ErrUnknownFormat) || !strings.Contains(err.Error(), "junk.pcap") {
		t.Errorf("got %v, want ErrUnknownFormat naming the file", err)
	}
	if _, err := CheckFiles(Options{}, filepath.Join(dir, "missing.pcap")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("got %v, want ErrNotExist", err)
	}
	if _, err := CheckFiles(Options{}); !errors.Is(err, ErrNoInput) {
		t.Errorf("got %v, want ErrNoInput", err)
	}
	// A capture cut in the middle of its last packet still checks.
	good := filepath.Join(dir, "good.pcapng")
	writeHubCapture(t, good, capture.FormatPcapng, healthy(t, 1460).frames)
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(dir, "cut.pcapng")
	if err := os.WriteFile(cut, data[:len(data)-10], 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := CheckFiles(Options{}, cut)
	if err != nil {
		t.Fatalf("got %v, want the cut capture checked", err)
	}
	if fd, ok := r.First(NET003); !ok || !strings.Contains(fd.Message, "cut packet") {
		t.Errorf("got NET-003 %v, want a warning about the cut tail:\n%s", fd, dump(r))
	}
	// How much of the cut packet's block there is, and where it starts.
	rd, err := capture.NewReader(bytes.NewReader(data[:len(data)-10]), capture.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var re *capture.ReadError
	for _, err := range rd.All() {
		errors.As(err, &re)
	}
	if re == nil {
		t.Fatal("the cut capture reads to its end")
	}
	want := fmt.Sprintf("its last %d bytes, from byte %d, are part of one", re.Tail, re.Offset)
	if fd, _ := r.First(NET003); !strings.Contains(fd.Message, want) {
		t.Errorf("got NET-003 %q, want it to say %q", fd.Message, want)
	}
}

// TestCheckFilesStopsAtCorruption: a capture corrupt part-way is checked
// up to the break, and the report of those frames comes with an error
// saying where reading stopped. A length with one bit too many, which
// runs past the end of the file over the packets after it, is such a
// break, not a cut tail to warn about.
func TestCheckFilesStopsAtCorruption(t *testing.T) {
	for _, tc := range []struct {
		name    string
		corrupt func(length uint32) uint32
	}{
		{"length-unaligned", func(uint32) uint32 { return 0x7ffffffd }},
		{"length-one-bit-more", func(l uint32) uint32 { return l | 0x80000 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			good := filepath.Join(dir, "good.pcapng")
			writeHubCapture(t, good, capture.FormatPcapng, healthy(t, 1460).frames)
			data, err := os.ReadFile(good)
			if err != nil {
				t.Fatal(err)
			}
			// Break the length of the packet block that covers two thirds in.
			rd, err := capture.NewReader(bytes.NewReader(data), capture.ReadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			total, broken := 0, 0
			for p, err := range rd.All() {
				if err != nil {
					t.Fatal(err)
				}
				total++
				if broken == 0 && p.Offset >= int64(len(data)*2/3) {
					broken = p.Number
					l := binary.LittleEndian.Uint32(data[p.Offset+4:])
					binary.LittleEndian.PutUint32(data[p.Offset+4:], tc.corrupt(l))
				}
			}
			bad := filepath.Join(dir, "bad.pcapng")
			if err := os.WriteFile(bad, data, 0o644); err != nil {
				t.Fatal(err)
			}
			r, err := CheckFiles(Options{}, bad)
			var stop *StopError
			var re *capture.ReadError
			if !errors.As(err, &stop) || !errors.As(err, &re) || stop.Name != bad {
				t.Fatalf("got %v, want a StopError naming %s with the read error", err, bad)
			}
			if re.Packet != broken || r.Frames != broken-1 || r.Frames >= total {
				t.Errorf("got the stop at packet %d and %d frames checked, want the stop at packet %d after %d of %d frames", re.Packet, r.Frames, broken, broken-1, total)
			}
			if len(r.Findings) == 0 {
				t.Errorf("got a report without findings for the %d frames before the break", r.Frames)
			}
		})
	}
}

// TestCheckFilesSaysWhatTheCaptureLost: a capture whose writer fell behind
// marks its gaps; the check warns with how many events are missing and
// cites the frames that note them.
func TestCheckFilesSaysWhatTheCaptureLost(t *testing.T) {
	frames := healthy(t, 1460).frames
	path := filepath.Join(t.TempDir(), "gaps.pcapng")
	sink, err := capture.Open(capture.Config{Path: path, Overflow: capture.OverflowBlock})
	if err != nil {
		t.Fatal(err)
	}
	sink.PortAdded(hub.PortInfo{ID: 0, Name: "a"})
	sink.PortAdded(hub.PortInfo{ID: 1, Name: "b"})
	for i, f := range frames {
		if i == 2 {
			sink.Annotate("capture: 4 events missing before this one (the writer fell behind)")
		}
		id, name := portOf(f)
		sink.Observe(&hub.Event{Time: f.Time, Port: id, PortName: name, Dir: hub.Ingress, Frame: f.Data})
	}
	sink.Annotate("capture: 1 events missing after the last record (the writer fell behind)")
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := CheckFiles(Options{}, path)
	if err != nil {
		t.Fatal(err)
	}
	var lost *Finding
	for _, fd := range r.Findings {
		if fd.ID == NET003 && strings.Contains(fd.Message, "lost 5 events") {
			lost = &fd
		}
	}
	if lost == nil || lost.Verdict != Warn || !slices.Equal(lost.Frames, []int{3}) {
		t.Errorf("got NET-003 %+v, want a warning of 5 lost events citing frame 3:\n%s", lost, dump(r))
	}
}

// writeVMPcap records frames as QEMU's filter-dump on a stream backend to
// the hub does: classic pcap, every frame once, at offset on the VM's own
// clock; the frames numbered in dup appear a second time, dupDelay later
// (a duplicate the hub delivered to this VM).
func writeVMPcap(t *testing.T, path string, frames []Frame, offset time.Duration, dup map[int]bool, dupDelay time.Duration) {
	t.Helper()
	sink, err := capture.Open(capture.Config{Path: path, Format: capture.FormatPcap, Overflow: capture.OverflowBlock})
	if err != nil {
		t.Fatal(err)
	}
	sink.PortAdded(hub.PortInfo{ID: 0, Name: "n0"})
	var evs []hub.Event
	for _, f := range frames {
		evs = append(evs, hub.Event{Time: f.Time.Add(offset), PortName: "n0", Dir: hub.Ingress, Frame: f.Data})
		if dup[f.Number] {
			evs = append(evs, hub.Event{Time: f.Time.Add(offset + dupDelay), PortName: "n0", Dir: hub.Ingress, Frame: f.Data})
		}
	}
	slices.SortStableFunc(evs, func(a, b hub.Event) int { return a.Time.Compare(b.Time) })
	for i := range evs {
		sink.Observe(&evs[i])
	}
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestHubDuplicateInPerVMFiles: a duplicate the hub delivers appears in
// the receiver's per-VM file only. Nothing says which file is whose, so the
// extra copy is checked as a retransmission; TCP-001 names that possibility
// instead of blaming only the sender.
func TestHubDuplicateInPerVMFiles(t *testing.T) {
	frames := healthy(t, 1460).frames
	target := 0 // node-a's ladder step 1
	for _, f := range frames {
		var p packet
		parsePacket(f.Data, &p)
		if p.kind == pktTCP && len(p.payload) == conformance.RequestRecordLen && p.src == hostA.ip {
			target = f.Number
			break
		}
	}
	dir := t.TempDir()
	a, b := filepath.Join(dir, "A.pcap"), filepath.Join(dir, "B.pcap")
	writeVMPcap(t, a, frames, 0, nil, 0)
	writeVMPcap(t, b, frames, 3*time.Second, map[int]bool{target: true}, 50*time.Millisecond)
	for _, order := range [][]string{{a, b}, {b, a}} {
		r, err := CheckFiles(Options{}, order...)
		if err != nil {
			t.Fatal(err)
		}
		if fd, ok := r.First(TCP001); !ok || !strings.Contains(fd.Message, "a duplicate the hub delivered, which only the receiver's file shows") {
			t.Errorf("files %v: got TCP-001 %v (found %v), want it to allow for the hub's duplicate:\n%s", order, fd, ok, dump(r))
		}
	}
}
