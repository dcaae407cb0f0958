package transporttest

import (
	"context"
	"testing"
	"time"

	"l2hub/transport"
)

// vmGuard bounds DialVM's and ReadFrame's waits, on a whole hub that may
// share a loaded machine: longer than HangGuard, and as little a measure.
const vmGuard = 60 * time.Second

// DialVM connects to a hub's stream port like QEMU's -netdev
// stream,server=off does, and closes the connection when the test ends.
func DialVM(t testing.TB, addr string) *transport.StreamConn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), vmGuard)
	defer cancel()
	c, err := transport.DialStream(ctx, "tcp", addr, transport.DefaultMaxFrame)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// ReadFrame reads one frame from c, failing the test on an error or when
// none comes within vmGuard.
func ReadFrame(t testing.TB, c *transport.StreamConn) []byte {
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
	case <-time.After(vmGuard):
		t.Fatalf("no frame within %v", vmGuard)
		return nil
	}
}
