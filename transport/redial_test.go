package transport_test

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"l2hub/hub"
	"l2hub/internal/syncbuf"
	"l2hub/transport"
)

// hangUpAttacher plays a hub whose peer hangs up: each attach ends at once,
// or after hold[i] for the i-th attach where given. It notes when each
// attach came.
type hangUpAttacher struct {
	mu   sync.Mutex
	at   []time.Time
	hold map[int]time.Duration
}

func (a *hangUpAttacher) Attach(_ string, io hub.PortIO) (<-chan struct{}, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	done := make(chan struct{})
	end := func() { io.Close(); close(done) }
	if d, ok := a.hold[len(a.at)]; ok {
		time.AfterFunc(d, end)
	} else {
		end()
	}
	a.at = append(a.at, time.Now())
	return done, nil
}

func (a *hangUpAttacher) times() []time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]time.Time(nil), a.at...)
}

// acceptAll accepts and closes every connection to ln until it closes. It
// runs outside any synctest bubble: the dialer in the bubble only needs
// its connects to complete.
func acceptAll(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return ln.Addr().String()
}

// A peer that accepts and hangs up at once is redialed with the backoff
// growing to its cap, not at MinBackoff forever, and "redialing the VM"
// is rate-limited: over 20 virtual seconds with the default 50ms..2s, about
// 15 dials (not 400), and a line every 10 s.
func TestDialerBacksOffFromShortConnections(t *testing.T) {
	addr := acceptAll(t)
	synctest.Test(t, func(t *testing.T) {
		var logs syncbuf.Buffer
		r, err := transport.Spec{Name: "b", Transport: transport.TCPDial, Address: addr}.Open(transport.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		a := &hangUpAttacher{}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := r.Run(ctx, a); err != nil {
			t.Fatalf("got Run = %v, want nil once ctx ends", err)
		}
		// 50ms, 100ms, ... 1.6s (3.15 s in all), then one per 2 s: 15.
		if got, want := len(a.times()), 15; got != want {
			t.Errorf("got %d dials in 20 s to a peer that hangs up at once, want %d", got, want)
		}
		if got := strings.Count(logs.String(), "redialing the VM"); got > 2 {
			t.Errorf("got %d \"redialing the VM\" lines in 20 s, want at most 2 (one per 10 s):\n%s", got, logs.String())
		}
	})
}

// A connection that lasted at least MaxBackoff starts the backoff over: the
// next dial comes MinBackoff after it ends, however long the delay had
// grown before.
func TestDialerBackoffStartsOverAfterALastingConnection(t *testing.T) {
	addr := acceptAll(t)
	synctest.Test(t, func(t *testing.T) {
		r, err := transport.Spec{Name: "b", Transport: transport.TCPDial, Address: addr}.Open(transport.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		const held = 5 * time.Second
		a := &hangUpAttacher{hold: map[int]time.Duration{6: held}} // the 7th lasts
		ctx, cancel := context.WithTimeout(context.Background(), 12*time.Second)
		defer cancel()
		if err := r.Run(ctx, a); err != nil {
			t.Fatalf("got Run = %v, want nil once ctx ends", err)
		}
		at := a.times()
		if len(at) < 8 {
			t.Fatalf("got %d dials, want at least 8", len(at))
		}
		if got, want := at[5].Sub(at[4]), 800*time.Millisecond; got != want {
			t.Errorf("got %v between the 5th and 6th dial, want %v (the delay doubles after short connections)", got, want)
		}
		if got, want := at[7].Sub(at[6]), held+50*time.Millisecond; got != want {
			t.Errorf("got %v between the lasting connection's dial and the next, want %v (held, then MinBackoff)", got, want)
		}
	})
}
