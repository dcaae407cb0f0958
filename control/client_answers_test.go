package control_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"l2hub/control"
	"l2hub/internal/unixhttp"
)

// TestWaitReadyAsksAgainWhileTheHubIsStopping: a 503 (a hub stopping, or
// busy) is asked again, as a new hub may take its place; the first hub
// that answers ends the wait.
func TestWaitReadyAsksAgainWhileTheHubIsStopping(t *testing.T) {
	var asked atomic.Int32
	path := unixhttp.Serve(t, func(w http.ResponseWriter, r *http.Request) {
		if asked.Add(1) <= 2 {
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(`{"error":"the hub is stopping","code":"stopped"}`))
			return
		}
		w.Write([]byte(`[{"name":"a"}]`))
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ports, err := control.NewClient(path, "").WaitReady(ctx, time.Millisecond)
	if err != nil || len(ports) != 1 || ports[0].Name != "a" {
		t.Fatalf("got WaitReady = %v, %v after two 503s; want port a", ports, err)
	}
}

// TestErrorWithoutTheHubsWordsSaysTheStatus: an error answer whose JSON
// carries no "error" (not a hub's) still gives an error that says the
// status and the body, not an empty one.
func TestErrorWithoutTheHubsWordsSaysTheStatus(t *testing.T) {
	path := unixhttp.Serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"detail":"no such thing"}`))
	})
	_, err := control.NewClient(path, "").Ports(context.Background())
	var he *control.Error
	if !errors.As(err, &he) || he.Status != http.StatusNotFound {
		t.Fatalf("got Ports = %v, want a *control.Error with status 404", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "404") || !strings.Contains(msg, "no such thing") {
		t.Errorf("got error %q, want the status and the body", msg)
	}
}

// TestInjectTurnedAwayByAnOlderHubTookNoFrame: an injection turned away
// busy by a hub that does not say how many frames it took took none:
// Frames is 0, not unknown.
func TestInjectTurnedAwayByAnOlderHubTookNoFrame(t *testing.T) {
	path := unixhttp.Serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte(`{"error":"busy","code":"busy"}`))
	})
	_, err := control.NewClient(path, "").Inject(context.Background(), "a", strings.NewReader(""))
	var he *control.Error
	if !errors.As(err, &he) || !errors.Is(err, control.ErrBusy) {
		t.Fatalf("got Inject = %v, want a *control.Error that is ErrBusy", err)
	}
	if he.Frames == nil || *he.Frames != 0 {
		t.Errorf("got Frames = %v, want 0", he.Frames)
	}
}
