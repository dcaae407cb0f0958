package replay

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"l2hub/capture"
	"l2hub/hub"
	"l2hub/hub/hubtest"
)

// heldIO is a peer that sends what is put on in and reads nothing.
type heldIO struct {
	in     chan []byte
	closed chan struct{}
	once   sync.Once
}

func (c *heldIO) ReadFrames(fs []*hub.Frame, max int) (int, error) {
	n := 0
	for n < len(fs) {
		var b []byte
		if n == 0 {
			select {
			case b = <-c.in:
			case <-c.closed:
				return 0, net.ErrClosed
			}
		} else {
			select {
			case b = <-c.in:
			default:
				return n, nil
			}
		}
		fs[n] = hub.FrameOf(b)
		n++
	}
	return n, nil
}

func (c *heldIO) WriteFrames(fs []*hub.Frame) (int, error) { <-c.closed; return 0, net.ErrClosed }
func (c *heldIO) Close() error                             { c.once.Do(func() { close(c.closed) }); return nil }

// TestRunStoppedWhilePausedReplaysFaithfully: a live run stopped while a's
// sender was paused, its reader holding the rest of a read batch, replays
// as it ran: the frames the reader held never reached forwarding, so the
// capture's receive count and the live one agree and the replay is not
// taken for a what-if.
func TestRunStoppedWhilePausedReplaysFaithfully(t *testing.T) {
	var buf bytes.Buffer
	sink := liveSink(t, &buf, capture.Meta{Version: "test", Start: hub.DefaultEpoch})
	h, err := hub.New(hub.Config{Mode: hub.ModeHub, QueueLen: 4, Clock: hub.NewVirtualClock(hub.DefaultEpoch), Observers: []hub.Observer{sink}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- h.Run(ctx) }()
	ios := map[string]*heldIO{}
	for _, p := range []string{"a", "b"} {
		if err := h.AddPort(p, "chan "+p); err != nil {
			t.Fatal(err)
		}
		sink.SetPortStats(p, h.Stats(ctx, p))
		ios[p] = &heldIO{in: make(chan []byte, 128), closed: make(chan struct{})}
	}
	for i := range 64 { // one read batch, far past b's queue of 4
		ios["a"].in <- hubtest.Frame(macB, macA, fmt.Sprint(i))
	}
	for _, p := range []string{"b", "a"} {
		if _, err := h.Attach(p, ios[p]); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; ; i++ {
		ps, err := h.Ports(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if ps[0].Flow.Paused {
			break
		}
		if i == 10_000 {
			t.Fatal("a was never paused")
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-ran; err != nil {
		t.Fatal(err)
	}
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
	in := filepath.Join(t.TempDir(), "run.pcapng")
	if err := os.WriteFile(in, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	res, err := (&Job{Files: []string{in}}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if notes := append(res.Notes, res.Warnings()...); WhatIf(notes) {
		for _, n := range notes {
			t.Logf("note %s: %s", n.Kind, n.Text)
		}
		t.Errorf("a faithful replay of the run is reported as a what-if")
	}
}
