package netstack_test

import (
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	glog "gvisor.dev/gvisor/pkg/log"

	"l2hub/internal/syncbuf"
	"l2hub/transport/netstack"
)

// TestLogTo: after LogTo, what gVisor's stack logs (here a warning like the
// one a listener logs for a segment it cannot take) is a record of the
// given slog handler, at the matching level, and no longer glog text on
// standard error; so --log-format json holds.
func TestLogTo(t *testing.T) {
	prev := glog.Log().Emitter
	t.Cleanup(func() { glog.SetTarget(prev) })
	var buf syncbuf.Buffer
	netstack.LogTo(slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))

	glog.Warningf("tcp.Endpoint.handleListenSegment() failed for packet [nic=%d]: %s", 1, "connection aborted")
	glog.Infof("an info line")
	var got []map[string]any
	for l := range strings.Lines(buf.String()) {
		var rec map[string]any
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("log line %q is not JSON: %v", l, err)
		}
		got = append(got, rec)
	}
	want := []struct{ level, msg string }{
		{"WARN", "tcp.Endpoint.handleListenSegment() failed for packet [nic=1]: connection aborted"},
		{"INFO", "an info line"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d:\n%s", len(got), len(want), buf.String())
	}
	for i, w := range want {
		if got[i]["level"] != w.level || got[i]["msg"] != w.msg || got[i]["component"] != "gvisor" {
			t.Errorf("record %d = %v, want level %s, msg %q, component gvisor", i, got[i], w.level, w.msg)
		}
	}
}
