package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"

	"l2hub/internal/unixhttp"
)

// TestCtlLinkRefusesAnotherState: ctl link takes up or down, and says so
// of anything else before it asks the hub.
func TestCtlLinkRefusesAnotherState(t *testing.T) {
	sock := unixhttp.Serve(t, func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("ctl link sideways asked the hub: %s %s", r.Method, r.URL)
	})
	err := run(context.Background(), []string{"ctl", "--control", sock, "link", "a", "sideways"}, io.Discard, io.Discard)
	if want := `link state "sideways": want up or down`; err == nil || err.Error() != want {
		t.Errorf("got ctl link a sideways = %v, want %s", err, want)
	}
}

// TestWaitSaysHowManyPorts: wait --control says the ports the hub
// answered with, "1 port" for one.
func TestWaitSaysHowManyPorts(t *testing.T) {
	for _, tt := range []struct{ answer, want string }{
		{`[{"name":"a"}]`, "l2hub ready: 1 port\n"},
		{`[{"name":"a"},{"name":"b"}]`, "l2hub ready: 2 ports\n"},
	} {
		sock := unixhttp.Serve(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, tt.answer) })
		var out bytes.Buffer
		if err := run(context.Background(), []string{"wait", "--control", sock, "--timeout", "1m"}, &out, io.Discard); err != nil || out.String() != tt.want {
			t.Errorf("got wait on %s = %q, %v; want %q", tt.answer, out.String(), err, tt.want)
		}
	}
}

// TestCtlRuleRemoveSaysEachCounter: ctl rule remove prints the removed
// rule's last counters, each under its own name.
func TestCtlRuleRemoveSaysEachCounter(t *testing.T) {
	sock := unixhttp.Serve(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodDelete || r.URL.Path != "/v1/rules/loss-a-b" {
			t.Errorf("got %s %s, want DELETE /v1/rules/loss-a-b", r.Method, r.URL.Path)
		}
		io.WriteString(w, `{"status":"removed","rule":{"name":"loss-a-b","counters":{"rule":"loss-a-b",`+
			`"matched":1,"dropped":2,"delayed":3,"duplicated":4,"corrupted":5,"queued":6,"overflowed":7}}}`)
	})
	var out bytes.Buffer
	if err := run(context.Background(), []string{"ctl", "--control", sock, "rule", "remove", "loss-a-b"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	want := "rule loss-a-b removed (matched 1, dropped 2, delayed 3, duplicated 4, corrupted 5, queued 6, overflowed 7)\n"
	if out.String() != want {
		t.Errorf("got %q, want %q", out.String(), want)
	}
}
