package serve_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"l2hub/serve"
	"l2hub/transport"
)

// hangGuard bounds a wait whose end the test needs; reaching it means the
// code under test hangs. It decides no pass: it only stops a stuck run.
const hangGuard = 60 * time.Second

// dialVM connects like QEMU's -netdev stream,server=off does.
func dialVM(t *testing.T, addr string) *transport.StreamConn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	c, err := transport.DialStream(ctx, "tcp", addr, transport.DefaultMaxFrame)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// readFrame reads one frame with a deadline.
func readFrame(t *testing.T, c *transport.StreamConn) []byte {
	t.Helper()
	type result struct {
		b   []byte
		err error
	}
	ch := make(chan result, 1)
	go func() {
		buf := make([]byte, transport.DefaultMaxFrame)
		n, err := c.ReadFrame(buf)
		ch <- result{buf[:n], err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatalf("read frame: %v", r.err)
		}
		return r.b
	case <-time.After(hangGuard):
		t.Fatalf("no frame within %v", hangGuard)
		return nil
	}
}

// waitAttached returns once every port of sess has its VM attached.
func waitAttached(t *testing.T, sess *serve.Session) {
	t.Helper()
	deadline := time.Now().Add(hangGuard)
	for {
		ports, err := sess.Ports(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		var waiting []string
		for _, p := range ports {
			if !p.Attached {
				waiting = append(waiting, p.Name)
			}
		}
		if len(waiting) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(fmt.Errorf("ports %s: no VM attached after %v", strings.Join(waiting, ", "), hangGuard))
		}
		time.Sleep(time.Millisecond)
	}
}
