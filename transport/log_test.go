package transport_test

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"l2hub/hub"
	"l2hub/internal/syncbuf"
	"l2hub/internal/wallclock"
	"l2hub/transport"
)

// TestAttachIsLoggedOnce: a VM that connects and goes away gives one
// "peer attached" and one "peer detached" line, from the hub, whatever
// runner brought it.
func TestAttachIsLoggedOnce(t *testing.T) {
	var logs syncbuf.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	h, err := hub.New(hub.Config{Mode: hub.ModeHub, Clock: wallclock.Clock{}, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	wg.Go(func() { _ = h.Run(ctx) })
	spec, err := transport.ParseSpec("a=tcp:127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.AddPort("a", spec.String()); err != nil {
		t.Fatal(err)
	}
	r, err := spec.Open(transport.Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	wg.Go(func() { _ = r.Run(ctx, h) })
	c, err := net.Dial("tcp", r.Spec().Address)
	if err != nil {
		t.Fatal(err)
	}
	waitLog(t, &logs, "peer attached")
	c.Close()
	waitLog(t, &logs, "peer detached")
	time.Sleep(50 * time.Millisecond) // room for a second line, if one were coming
	for _, msg := range []string{"peer attached", "peer detached"} {
		if n := strings.Count(logs.String(), "msg=\""+msg+"\""); n != 1 {
			t.Errorf("%q logged %d times, want once:\n%s", msg, n, logs.String())
		}
	}
}

func waitLog(t *testing.T, logs *syncbuf.Buffer, msg string) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if strings.Contains(logs.String(), msg) {
			return
		}
	}
	t.Fatalf("no %q in the log:\n%s", msg, logs.String())
}
