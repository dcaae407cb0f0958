package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"l2hub/control/controltest"
	"l2hub/hub"
	"l2hub/hub/hubtest"
	"l2hub/replay"
)

// takeHub is a control.Target with one attached port, b, that takes what
// is injected into it and keeps each frame's length, refusing a frame
// longer than maxFrame (0: none) as a hub started with a smaller
// --max-frame does.
type takeHub struct {
	injectRoutes
	maxFrame int
	mu       sync.Mutex
	lens     []int
}

func (h *takeHub) Ports(context.Context) ([]hub.PortStatus, error) {
	return []hub.PortStatus{{Name: "b", Attached: true}}, nil
}
func (h *takeHub) Inject(_ context.Context, port string, frame []byte) error {
	if h.maxFrame > 0 && len(frame) > h.maxFrame {
		return fmt.Errorf("inject into %q: %d-byte frame: %w", port, len(frame), hub.ErrFrameTooLarge)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.lens = append(h.lens, len(frame))
	return nil
}

func (h *takeHub) taken() []int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]int(nil), h.lens...)
}

// record is one record of a capture: when, the bytes it holds, and the
// frame's length on the wire (0: the bytes held).
type record struct {
	at   time.Duration
	data []byte
	orig int
}

// writeRecords writes recs as a classic pcap with a snaplen of 262144,
// the way tcpdump -s does when orig says a frame was longer.
func writeRecords(t *testing.T, path string, recs []record) {
	t.Helper()
	var b bytes.Buffer
	w := pcapgo.NewWriter(&b)
	if err := w.WriteFileHeader(262144, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		orig := max(r.orig, len(r.data))
		ci := gopacket.CaptureInfo{Timestamp: time.Unix(1000, 0).Add(r.at), CaptureLength: len(r.data), Length: orig}
		if err := w.WritePacket(ci, r.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// injectFrame is a frame from a to b of n bytes.
func injectFrame(n int) []byte {
	f := hubtest.Frame(macVMB, macVMA, "injected")
	return append(f, make([]byte, max(n-len(f), 0))...)[:n]
}

// TestInjectWarnsOfABackwardClock: a capture whose clock ran backwards is
// sent whole, its frames spaced as recorded from the step on, and inject
// says so on stderr and in the JSON report.
func TestInjectWarnsOfABackwardClock(t *testing.T) {
	dir := t.TempDir()
	target := &takeHub{}
	ctl := controltest.ServeTarget(t, target)
	in := filepath.Join(dir, "back.pcap")
	ms := time.Millisecond
	writeRecords(t, in, []record{{0, injectFrame(60), 0}, {2 * ms, injectFrame(60), 0}, {ms, injectFrame(60), 0}, {3 * ms, injectFrame(60), 0}})
	stdout, stderr, err := runCmd(t, "inject", in, "--into", "b", "--control", ctl, "--json")
	if err != nil {
		t.Fatalf("inject: %v\n%s", err, stderr)
	}
	want := "l2hub inject: warning: 1 frame is stamped before the frame before it, by up to 1ms: the capture's clock ran backwards"
	if !strings.Contains(stderr, want) {
		t.Errorf("got stderr %q, want a warning saying %q", stderr, want)
	}
	var rep replay.InjectReport
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("inject --json: %v\n%s", err, stdout)
	}
	if rep.Frames != 4 || rep.Back != 1 || rep.MostBack != ms || len(target.taken()) != 4 {
		t.Errorf("got %d frames sent (%d taken), %d back by up to %v; want 4 (4), 1 by up to 1ms", rep.Frames, len(target.taken()), rep.Back, rep.MostBack)
	}
}

// TestInjectCutAndUnsendableRecords: a record cut short by a snaplen
// reaches the hub at its length on the wire; a runt and a record longer
// than the hub takes are left out and counted, with a warning, and the
// frames after them are sent: the injection succeeds.
func TestInjectCutAndUnsendableRecords(t *testing.T) {
	dir := t.TempDir()
	target := &takeHub{}
	ctl := controltest.ServeTarget(t, target)
	in := filepath.Join(dir, "snap.pcap")
	f := injectFrame(1500)
	writeRecords(t, in, []record{{0, f[:64], 1500}, {0, f[:10], 0}, {0, injectFrame(70000), 0}, {0, f[:64], 1500}})
	stdout, stderr, err := runCmd(t, "inject", in, "--into", "b", "--control", ctl, "--flood")
	if err != nil {
		t.Fatalf("inject: %v\n%s", err, stderr)
	}
	if want := "sent 2 frames (3000 bytes)"; !strings.Contains(stdout, want) {
		t.Errorf("got report %q, want one saying %q", stdout, want)
	}
	for _, want := range []string{
		"l2hub inject: warning: 2 of the frames sent were cut short when captured",
		"l2hub inject: warning: 2 records were not sent, as the hub would refuse them: 1 shorter than an Ethernet header (14 bytes), 1 longer than 69632 bytes",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("got stderr %q, want a warning saying %q", stderr, want)
		}
	}
	if got := target.taken(); !slices.Equal(got, []int{1500, 1500}) {
		t.Errorf("got frames of %v bytes taken, want [1500 1500]", got)
	}
}

// TestInjectReportsTheHubsCount: when the hub refuses a frame (one longer
// than its --max-frame), the report printed before the error counts the
// frames the hub took, not the refused one and those after it.
func TestInjectReportsTheHubsCount(t *testing.T) {
	dir := t.TempDir()
	ctl := controltest.ServeTarget(t, &takeHub{maxFrame: 100})
	in := filepath.Join(dir, "big.pcap")
	writeRecords(t, in, []record{{0, injectFrame(60), 0}, {0, injectFrame(60), 0}, {0, injectFrame(200), 0}, {0, injectFrame(60), 0}})
	stdout, _, err := runCmd(t, "inject", in, "--into", "b", "--control", ctl, "--flood")
	if err == nil || !strings.Contains(err.Error(), "frame 3: 200 bytes: ") {
		t.Errorf("got error %v, want the hub's refusal of frame 3", err)
	}
	if want := "sent 2 frames (120 bytes)"; !strings.Contains(stdout, want) {
		t.Errorf("got report %q, want one saying %q", stdout, want)
	}
	stdout, _, _ = runCmd(t, "inject", in, "--into", "b", "--control", ctl, "--flood", "--json")
	var rep replay.InjectReport
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("inject --json: %v\n%s", err, stdout)
	}
	if rep.Frames != 2 || rep.Bytes != 120 {
		t.Errorf("inject --json: got %d frames (%d bytes), want 2 (120)", rep.Frames, rep.Bytes)
	}
}
