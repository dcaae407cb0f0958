package main

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

// TestPingEndsAtDeadline: a ping check whose l2.count outlasts l2.timeout
// (1000 pings 200 ms apart take over 3 minutes) fails at its deadline, with
// the replies it got, instead of sleeping out every remaining interval: the
// harness gives the check about l2.timeout, not Count × 200 ms. The guard
// is generous (the deadline is 1 s, the guard 30 s past it); the old code
// needed 200 s.
func TestPingEndsAtDeadline(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("ICMP raw sockets need root")
	}
	envs, _ := loopGuests(2, nil, ports{})
	envs[0].cfg.Count = maxCount
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	type result struct {
		detail string
		err    error
	}
	done := make(chan result, 1)
	go func() {
		d, err := checkPing(ctx, envs[0])
		done <- result{d, err}
	}()
	select {
	case r := <-done:
		if r.err == nil || !strings.Contains(r.err.Error(), "/1000 replies") {
			t.Errorf("got checkPing = %q, %v; want an error with the replies counted", r.detail, r.err)
		}
	case <-time.After(31 * time.Second):
		t.Fatal("checkPing still running 30s after its deadline, want it to end there")
	}
}
