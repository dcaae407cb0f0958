package hub_test

import (
	"context"
	"fmt"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"

	"l2hub/hub"
)

// The live hub's own per-frame cost, without sockets: a memory source on
// one port, a counting sink on the other, and the reader, loop and writer
// goroutines between them. burst is how many frames one read of the source
// returns, as one read(2) of a stream returns every frame that has arrived.

// memSource hands out copies of frame, at most window unacknowledged.
type memSource struct {
	frame   []byte
	burst   int
	left    int // frames still to send; reader-owned
	credits chan struct{}
	closed  chan struct{}
	once    sync.Once
}

func (s *memSource) take() bool {
	if s.left == 0 {
		<-s.closed
		return false
	}
	select {
	case <-s.credits:
		s.left--
		return true
	case <-s.closed:
		return false
	}
}

func (s *memSource) ReadFrames(frames []*hub.Frame, limit int) (int, error) {
	if !s.take() {
		return 0, net.ErrClosed
	}
	frames[0] = hub.FrameOf(s.frame)
	n := 1
	for n < min(len(frames), s.burst) && s.left > 0 {
		select {
		case <-s.credits:
			s.left--
			frames[n] = hub.FrameOf(s.frame)
			n++
			continue
		default:
		}
		break
	}
	return n, nil
}

func (s *memSource) WriteFrames(fs []*hub.Frame) (int, error) { return len(fs), nil }
func (s *memSource) Close() error {
	s.once.Do(func() { close(s.closed) })
	return nil
}

// countSink counts the frames the hub writes and returns their credits.
type countSink struct {
	credits chan struct{}
	want    int
	got     int
	done    chan struct{}
}

func (c *countSink) ReadFrames([]*hub.Frame, int) (int, error) { <-c.done; return 0, net.ErrClosed }
func (c *countSink) WriteFrames(fs []*hub.Frame) (int, error)  { c.count(len(fs)); return len(fs), nil }
func (c *countSink) Close() error                              { return nil }

func (c *countSink) count(n int) {
	for range n {
		c.credits <- struct{}{}
	}
	c.got += n
	if c.got == c.want {
		close(c.done)
	}
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func BenchmarkHubLive(b *testing.B) {
	for _, size := range []int{64, 1500} {
		for _, burst := range []int{1, 4, 16} {
			b.Run(fmt.Sprintf("%dB/burst-%d", size, burst), func(b *testing.B) {
				const window = 64 // below every queue: nothing is tail-dropped
				h, err := hub.New(hub.Config{Mode: hub.ModeSwitch, Clock: hub.NewVirtualClock(hub.DefaultEpoch)})
				if err != nil {
					b.Fatal(err)
				}
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				stopped := make(chan struct{})
				go func() { h.Run(ctx); close(stopped) }()
				frame := make([]byte, size)
				copy(frame, []byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x88, 0xb5})
				credits := make(chan struct{}, window)
				for range window {
					credits <- struct{}{}
				}
				src := &memSource{frame: frame, burst: burst, left: b.N, credits: credits, closed: make(chan struct{})}
				sink := &countSink{credits: credits, want: b.N, done: make(chan struct{})}
				for _, p := range []string{"a", "b"} {
					if err := h.AddPort(p, "bench"); err != nil {
						b.Fatal(err)
					}
				}
				if _, err := h.Attach("b", sink); err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				b.SetBytes(int64(size))
				b.ResetTimer()
				cpu0 := processCPU()
				if _, err := h.Attach("a", src); err != nil {
					b.Fatal(err)
				}
				<-sink.done
				b.StopTimer()
				b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/op")
				cancel()
				<-stopped
			})
		}
	}
}
