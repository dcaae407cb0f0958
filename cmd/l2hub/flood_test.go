package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"l2hub/control"
	"l2hub/hub/hubtest"
	"l2hub/transport"
)

// TestBinaryWithNoArgumentsLosesNothing is the lossless data plane's
// "done when", on the real binary: `l2hub` with no arguments, and two
// QEMU-protocol clients that write frames as fast as TCP allows, both ways
// at once, at 64 and 1500 B. Every frame arrives, in order, and no drop
// counter of the hub moves. What a slow receiver costs is the sender's
// pause, never a frame.
func TestBinaryWithNoArgumentsLosesNothing(t *testing.T) {
	p, run := startDefaultBinary(t)
	ctl := filepath.Join(run, "l2hub.sock")
	addrs := tcpPorts(t, p.stdout.String())
	a, b := exchange(t, addrs["a"], addrs["b"], ctl) // the switch learns both MACs
	n := 20_000
	var progress atomic.Int64
	stop := watchdog(&progress, hangGuard, a, b)
	defer stop()
	for _, size := range []int{64, 1500} {
		errs := make(chan error, 4)
		go func() { errs <- flood(a, macB, macA, size, n) }()
		go func() { errs <- flood(b, macA, macB, size, n) }()
		go func() { errs <- drain(a, macB, size, n, &progress) }()
		go func() { errs <- drain(b, macA, size, n, &progress) }()
		for range 4 {
			if err := <-errs; err != nil {
				t.Fatalf("%d B: %v", size, err)
			}
		}
	}
	ports, err := control.NewClient(ctl, "").Ports(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, port := range ports {
		st := port.Stats
		t.Logf("port %s: %d frames in, %d out, %d pauses", port.Name, st.RxFrames, st.TxFrames, st.Pauses)
		// Each port sent and was sent the exchange's frame and n per size.
		if want := uint64(1 + 2*n); st.RxFrames != want || st.TxFrames != want {
			t.Errorf("port %s: %d frames in, %d out; want %d each way", port.Name, st.RxFrames, st.TxFrames, want)
		}
		for reason, k := range port.Stats.Drops {
			t.Errorf("port %s dropped %d frames as %s, want none", port.Name, k, reason)
		}
	}
	if err := p.stop(syscall.SIGTERM); err != nil {
		t.Fatalf("l2hub after SIGTERM: %v; stderr:\n%s", err, p.stderr.String())
	}
}

// flood writes n frames of size bytes from src to dst, numbered from 1,
// one write per frame and as fast as the socket takes them, as QEMU does.
func flood(c *transport.StreamConn, dst, src [6]byte, size, n int) error {
	f := hubtest.Frame(dst, src, "")
	f = append(f, make([]byte, max(0, size-len(f)))...)
	for i := 1; i <= n; i++ {
		binary.BigEndian.PutUint32(f[14:], uint32(i))
		if err := c.WriteFrame(f); err != nil {
			return fmt.Errorf("frame %d to %x: %w", i, dst, err)
		}
	}
	return nil
}

// watchdog closes conns when progress has not moved for guard (a hang:
// frames lost, not a slow machine, since the guard is generous), so that
// their readers and writers return. stop ends it.
func watchdog(progress *atomic.Int64, guard time.Duration, conns ...*transport.StreamConn) (stop func()) {
	done := make(chan struct{})
	go func() {
		tick := time.NewTicker(guard)
		defer tick.Stop()
		last := int64(-1)
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				if p := progress.Load(); p != last {
					last = p
					continue
				}
				for _, c := range conns {
					c.Close()
				}
				return
			}
		}
	}()
	return func() { close(done) }
}

// drain reads n frames from src on c and checks each is the next one, of
// size bytes, counting them in progress.
func drain(c *transport.StreamConn, src [6]byte, size, n int, progress *atomic.Int64) error {
	buf := make([]byte, transport.DefaultMaxFrame)
	for i := 1; i <= n; i++ {
		k, err := c.ReadFrame(buf)
		progress.Add(1)
		if err != nil {
			return fmt.Errorf("from %x: %d of %d frames arrived: %w", src, i-1, n, err)
		}
		if k != size || [6]byte(buf[6:12]) != src || binary.BigEndian.Uint32(buf[14:]) != uint32(i) {
			return fmt.Errorf("from %x: frame %d is %d bytes from %x numbered %d: lost, reordered or not ours",
				src, i, k, buf[6:12], binary.BigEndian.Uint32(buf[14:]))
		}
	}
	return nil
}
