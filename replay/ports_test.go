package replay

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"l2hub/capture"
	"l2hub/hub"
	"l2hub/hub/hubtest"
)

// macFlood is a classic pcap of n broadcasts, each from a source MAC of
// its own, as a crafted or foreign capture may hold.
func macFlood(t *testing.T, n int) []byte {
	t.Helper()
	recs := make([]pcapRecord, n)
	for i := range recs {
		src := [6]byte{0x52, 0x54, 0, byte(i >> 16), byte(i >> 8), byte(i)}
		recs[i] = pcapRecord{at: time.Duration(i) * time.Microsecond, frame: hubtest.Frame(hubtest.Broadcast, src, "flood")}
	}
	return writePcap(t, hub.DefaultEpoch, recs)
}

// TestReplayBoundsItsPorts: a replay makes a port per source MAC of a
// single foreign input, and a port floods to every other, so that its
// cost grows with the square of the MACs; past DefaultMaxPorts it is
// refused before any frame is replayed, naming --port NAME=MAC.
func TestReplayBoundsItsPorts(t *testing.T) {
	data := macFlood(t, DefaultMaxPorts+1)
	_, err := Open(Config{Inputs: []Input{memInput("flood.pcap", data)}})
	if !errors.Is(err, ErrTooManyPorts) || !strings.Contains(err.Error(), "--port NAME=MAC") || !strings.Contains(err.Error(), "flood.pcap") {
		t.Fatalf("got Open(%d source MACs) error %v, want %v naming flood.pcap and --port NAME=MAC", DefaultMaxPorts+1, err, ErrTooManyPorts)
	}
	// At the bound it replays.
	r, err := Open(Config{Inputs: []Input{memInput("flood.pcap", macFlood(t, 8))}, MaxPorts: 8})
	if err != nil {
		t.Fatalf("Open(8 source MACs, MaxPorts 8): %v", err)
	}
	if res, err := r.Run(context.Background(), RunConfig{}); err != nil || len(res.Ports) != 8 {
		t.Fatalf("Run: %v, %d ports, want 8 and no error", err, len(res.Ports))
	}
}

// TestReplayBoundsPortsMetLate: ports an l2hub capture describes after
// its first frame (a port added while the hub ran, a later section) are
// made as the replay meets them, and past the bound they stop it.
func TestReplayBoundsPortsMetLate(t *testing.T) {
	var buf bytes.Buffer
	sink := liveSink(t, &buf, capture.Meta{Version: "test", Start: hub.DefaultEpoch})
	sim := hubtest.New(t, hubtest.Config{Mode: hub.ModeHub, Ports: []string{"a", "b"}, Observers: []hub.Observer{sink}})
	sim.Send("a", hubtest.Frame(hubtest.Broadcast, macA, "first"))
	for _, name := range []string{"c", "d", "e"} {
		sim.AddPort(t, name)
		sim.Advance(time.Millisecond)
		sim.Send(name, hubtest.Frame(hubtest.Broadcast, macB, "from "+name))
	}
	endRun(t, sim, sink)
	r, err := Open(Config{Inputs: []Input{memInput("run.pcapng", buf.Bytes())}, MaxPorts: 3})
	if err != nil {
		t.Fatalf("Open: %v (the ports after the first frame are met later)", err)
	}
	res, err := r.Run(context.Background(), RunConfig{Mode: hub.ModeHub})
	if !errors.Is(err, ErrTooManyPorts) {
		t.Fatalf("got Run error %v, want %v", err, ErrTooManyPorts)
	}
	if len(res.Ports) != 3 {
		t.Errorf("got %d ports, want the 3 the bound allows", len(res.Ports))
	}
}

// cancelOnEvent cancels a context at the first event it observes.
type cancelOnEvent struct{ cancel context.CancelFunc }

func (c cancelOnEvent) Observe(*hub.Event) { c.cancel() }

// TestReplayStopsWhenCancelled: a replay looks at its context at every
// packet, so that the first Ctrl-C stops it even where each packet is a
// flood to many ports.
func TestReplayStopsWhenCancelled(t *testing.T) {
	r, err := Open(Config{Inputs: []Input{memInput("flood.pcap", macFlood(t, 100))}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	res, err := r.Run(ctx, RunConfig{Observers: []hub.Observer{cancelOnEvent{cancel}}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got Run error %v, want %v", err, context.Canceled)
	}
	if res.Replayed != 1 {
		t.Errorf("replayed %d of the 100 frames after the context was cancelled at the first, want 1", res.Replayed)
	}
}
