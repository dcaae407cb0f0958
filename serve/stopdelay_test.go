package serve_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"l2hub/capture"
	"l2hub/hub"
	"l2hub/hub/hubtest"
	"l2hub/internal/syncbuf"
	"l2hub/serve"
)

// TestSummaryCountsCopiesDelayedAtStop: serve stopped while a delay rule
// holds frames discards them; its exit summary counts each as port-down on
// the port it was for, so that rx a = tx b + drops b, and its capture shows
// each as a dropped egress on b, noted why.
func TestSummaryCountsCopiesDelayedAtStop(t *testing.T) {
	const sent = 5
	sumFile := filepath.Join(t.TempDir(), "sum.json")
	var out syncbuf.Buffer
	p := runPair(t, "seed: 1\nrules:\n  - {name: slow, match: {link: a->b}, delay: 1m}\n", serve.Options{SummaryOut: &out, SummaryFile: sumFile})
	macA, macB := hubtest.MAC("52:54:00:12:34:0a"), hubtest.MAC("52:54:00:12:34:0b")
	for i := range sent {
		if err := p.a.WriteFrame(hubtest.Frame(macB, macA, fmt.Sprintf("held %d", i))); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "every frame delayed", func() bool {
		st, err := p.ctl.Counters(context.Background())
		return err == nil && len(st.Rules) == 1 && st.Rules[0].Delayed == sent
	})
	p.stop()

	sum := readSummary(t, sumFile)
	stats := map[string]hub.StatsSnapshot{}
	for _, ps := range sum.Ports {
		stats[ps.Name] = ps.Stats
	}
	a, b := stats["a"], stats["b"]
	var drops uint64
	for _, n := range b.Drops {
		drops += n
	}
	if a.RxFrames != sent || b.TxFrames+drops != a.RxFrames || b.Drops[hub.DropDown.String()] != sent {
		t.Errorf("summary: got rx a = %d, tx b = %d, drops b = %v; want rx %d = tx + drops, all port-down", a.RxFrames, b.TxFrames, b.Drops, sent)
	}

	f, err := os.Open(p.cfg.Capture.File)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := capture.NewReader(f, capture.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var stopped int
	for {
		pkt, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if pkt.Dir == capture.DirOut && pkt.IfName == "b" && strings.Contains(pkt.Comment, "port-down (hub shutting down") {
			stopped++
		}
	}
	if stopped != sent {
		t.Errorf("the capture shows %d egress records on b dropped as the hub stopped, want %d", stopped, sent)
	}
}
