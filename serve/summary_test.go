package serve_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"l2hub/filter"
	"l2hub/hub/hubtest"
	"l2hub/internal/syncbuf"
	"l2hub/serve"
)

// TestSummaryShowsPartitionsAndLinks: the exit summary people read counts
// what a partition and a link taken down dropped, as the JSON summary
// does, rather than an empty rule table beside a port's policy drops.
func TestSummaryShowsPartitionsAndLinks(t *testing.T) {
	var out syncbuf.Buffer
	p := runPair(t, "partitions:\n  - {name: split, groups: a|b, start: 0s}\nschedules:\n  - {name: b-dies, port: b, at: 0s}\n",
		serve.Options{SummaryOut: &out})
	macA := hubtest.MAC("52:54:00:12:34:0a")
	for i := range 3 {
		if err := p.a.WriteFrame(hubtest.Frame(hubtest.Broadcast, macA, fmt.Sprintf("frame %d", i))); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "three frames dropped", func() bool {
		raw, err := p.ctl.Rules(context.Background())
		var st filter.Stats
		if err != nil || json.Unmarshal(raw, &st) != nil {
			return false
		}
		var n uint64
		for _, l := range st.Ports {
			n += l.Dropped
		}
		for _, pt := range st.Partitions {
			n += pt.Dropped
		}
		return n == 3
	})
	p.stop()
	got := out.String()
	for _, want := range []string{"\nPARTITION  GROUPS  ACTIVE  DROPPED\nsplit      a|b     true    ", "\nLINK  STATE  DROPPED\nb     down   "} {
		if !strings.Contains(got, want) {
			t.Errorf("summary:\n%s\nwant it to contain %q", got, want)
		}
	}
	if strings.Contains(got, "RULE") {
		t.Errorf("summary:\n%s\nwant no rule table: the policy has no rules", got)
	}
}
