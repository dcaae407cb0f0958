package capture_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"l2hub/capture"
	"l2hub/filter"
	"l2hub/hub"
	"l2hub/hub/hubtest"
	"l2hub/replay"
)

type memFile struct{ *bytes.Buffer }

func (memFile) Close() error { return nil }

// TestReplayMakesEveryEdit: policy edits made through the control API,
// recorded as the hub records them (serve's Annotate of Edit.Comment),
// that no frame's comment has room for, are all made again by a replay
// of the capture, in order: a burst of rule adds with no frame between,
// and a rule longer than a comment between two short ones. The replay's
// decisions follow: the long rule drops every frame from a to b.
func TestReplayMakesEveryEdit(t *testing.T) {
	long := "# " + strings.Repeat("x", 17000) + "\n{match: {link: a->b}, loss: 100%}"
	var burst []filter.Edit
	for i := range 200 {
		burst = append(burst, filter.Edit{Op: filter.EditRuleAdd, Name: fmt.Sprintf("r%d", i+1), Rule: "{match: {link: b->a}, loss: 1%}"})
	}
	for _, tc := range []struct {
		name    string
		edits   []filter.Edit
		dropped uint64 // frames from a the replay drops on their way to b
	}{
		{"200 edits, no frame between", burst, 0},
		{"a rule longer than a comment", []filter.Edit{
			{Op: filter.EditRuleAdd, Name: "small1", Rule: "{match: {link: b->a}, loss: 1%}"},
			{Op: filter.EditRuleAdd, Name: "long", Rule: long},
			{Op: filter.EditRuleAdd, Name: "small2", Rule: "{match: {link: b->a}, loss: 2%}"},
		}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			buf := new(bytes.Buffer)
			sink, err := capture.Open(capture.Config{
				Path:     "/mem/run.pcapng",
				Meta:     capture.Meta{Version: "test", Start: hub.DefaultEpoch},
				Create:   func(string) (io.WriteCloser, error) { return memFile{buf}, nil },
				Overflow: capture.OverflowBlock,
			})
			if err != nil {
				t.Fatal(err)
			}
			policy, err := filter.Parse([]byte("rules: []\n"), "control", []string{"a", "b"})
			if err != nil {
				t.Fatal(err)
			}
			sim := hubtest.New(t, hubtest.Config{Mode: hub.ModeHub, Ports: []string{"a", "b"}, Observers: []hub.Observer{sink}, Policy: policy})
			mac := hubtest.MAC("02:00:00:00:00:0a")
			sim.Send("a", hubtest.Frame(hubtest.Broadcast, mac, "before"))
			sim.Drain()
			for i, e := range tc.edits {
				sim.AdvanceTo(time.Second + time.Duration(i)*time.Millisecond)
				e.At = sim.Now()
				d, err := e.Apply(policy, e.At)
				if err != nil {
					t.Fatalf("edit %s: %v", e, err)
				}
				sink.Annotate(e.Comment(d))
			}
			sim.AdvanceTo(2 * time.Second)
			sim.Send("a", hubtest.Frame(hubtest.Broadcast, mac, "after 1"))
			sim.Send("a", hubtest.Frame(hubtest.Broadcast, mac, "after 2"))
			sim.Drain()
			if err := sink.Close(); err != nil {
				t.Fatal(err)
			}

			data := buf.Bytes()
			r, err := replay.Open(replay.Config{Inputs: []replay.Input{{Path: "run.pcapng", Open: func() (io.ReadCloser, error) {
				return io.NopCloser(bytes.NewReader(data)), nil
			}}}})
			if err != nil {
				t.Fatal(err)
			}
			res, err := r.Run(context.Background(), replay.RunConfig{Mode: hub.ModeHub})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Edits) != len(tc.edits) {
				t.Fatalf("the replay made %d edits, want %d", len(res.Edits), len(tc.edits))
			}
			for i, e := range res.Edits {
				if !e.Applied || e.Edit == nil || e.Edit.Name != tc.edits[i].Name || e.Edit.Rule != tc.edits[i].Rule {
					t.Fatalf("replay edit %d: %s, want rule %s added", i+1, e, tc.edits[i].Name)
				}
			}
			if in := res.Inputs; len(in) != 1 || in[0].LinesLeftOut != 0 {
				t.Errorf("got inputs %+v, want no comment lines left out", in)
			}
			for _, p := range res.Ports {
				if p.Name == "b" && p.Stats.Drops["policy"] != tc.dropped {
					t.Errorf("port b: the replay dropped %d frames by policy, want %d", p.Stats.Drops["policy"], tc.dropped)
				}
			}
		})
	}
}
