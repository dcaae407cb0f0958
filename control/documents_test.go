package control_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"l2hub/control"
	"l2hub/hub"
	"l2hub/internal/unixhttp"
)

// ctl ports --json says every duration with its unit, as stats.paused_ns
// does: the current pause is flow.paused_for_ns, the stall time in force
// flow.stall_ns.
func TestPortsDocumentDurationsHaveUnits(t *testing.T) {
	p := control.PortStatus{PortStatus: hub.PortStatus{Name: "a", Flow: hub.FlowStatus{Paused: true, PausedFor: 1500 * time.Millisecond, Stall: 5 * time.Minute},
		Stats: hub.StatsSnapshot{Pauses: 1, Paused: 2 * time.Second}}}
	b, err := json.Marshal(control.NewPortsDocument([]control.PortStatus{p}))
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Schema int `json:"schema"`
		Ports  []struct {
			Name  string                     `json:"name"`
			Flow  map[string]json.RawMessage `json:"flow"`
			Stats map[string]json.RawMessage `json:"stats"`
		} `json:"ports"`
	}
	if err := json.Unmarshal(b, &got); err != nil || got.Schema != control.Schema || len(got.Ports) != 1 {
		t.Fatalf("ctl ports --json: %v\n%s", err, b)
	}
	flow, stats := got.Ports[0].Flow, got.Ports[0].Stats
	if string(flow["paused_for_ns"]) != "1500000000" || flow["paused_for"] != nil || string(stats["paused_ns"]) != "2000000000" {
		t.Errorf("ctl ports --json prints flow %s, stats %s; want flow.paused_for_ns 1500000000 (no paused_for) and stats.paused_ns 2000000000",
			jsonText(flow), jsonText(stats))
	}
	if string(flow["stall_ns"]) != "300000000000" {
		t.Errorf("ctl ports --json prints flow %s; want flow.stall_ns 300000000000", jsonText(flow))
	}
	if string(flow["paused"]) != "true" || string(flow["queue_len"]) != "0" {
		t.Errorf("ctl ports --json lost flow's other fields: %s", jsonText(flow))
	}
}

func jsonText(m map[string]json.RawMessage) string {
	b, _ := json.Marshal(m)
	return string(b)
}

// TestReadPolicySourceBound: set-policy takes a policy of exactly
// MaxPolicyBytes, as the hub does, and refuses one byte more.
func TestReadPolicySourceBound(t *testing.T) {
	src := bytes.Repeat([]byte("#"), control.MaxPolicyBytes)
	if got, err := control.ReadPolicySource(bytes.NewReader(src), "p.yaml"); err != nil || len(got) != len(src) {
		t.Errorf("got ReadPolicySource(%d bytes) = %d bytes, %v; want them all", len(src), len(got), err)
	}
	src = append(src, '\n')
	if _, err := control.ReadPolicySource(bytes.NewReader(src), "p.yaml"); err == nil || !strings.Contains(err.Error(), "policy p.yaml is larger than") {
		t.Errorf("got ReadPolicySource(%d bytes) = %v, want it refused as larger than the bound", len(src), err)
	}
}

// TestExplain: a refusal for a missing token names the token flags, one
// for a port the hub lacks names the hub's ports; any other error is left
// as it is.
func TestExplain(t *testing.T) {
	sock := unixhttp.Serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`[{"name":"a"},{"name":"b"}]`))
	})
	c := control.NewClient(sock, "")
	other := errors.New("other")
	for _, tt := range []struct {
		name string
		err  error
		want string
	}{
		{"token", &control.Error{Status: http.StatusUnauthorized, Message: "no token"}, "no token (give the hub's token: --control-token-file FILE or $" + control.TokenEnv + ")"},
		{"no-port", &control.Error{Status: http.StatusBadRequest, Code: control.CodeUnknownPort, Message: "no such port c"}, "no such port c (ports: a, b)"},
		{"other-refusal", &control.Error{Status: http.StatusBadRequest, Code: "invalid", Message: "bad"}, "bad"},
		{"not-the-hubs", other, "other"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := c.Explain(context.Background(), tt.err)
			if got == nil || got.Error() != tt.want || !errors.Is(got, tt.err) {
				t.Errorf("got Explain(%v) = %v, want %s, wrapping it", tt.err, got, tt.want)
			}
		})
	}
	if got := c.Explain(context.Background(), nil); got != nil {
		t.Errorf("got Explain(nil) = %v, want nil", got)
	}
}
