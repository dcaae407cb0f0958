package hub

import (
	"context"
	"net"
	"runtime"
	"sync"
	"testing"
)

// learnerIO is a PortIO with a learning table of its own that notes, each
// time its table is read, whether the hub's loop was free then: Do holds
// h.mu while its function runs.
type learnerIO struct {
	h         *Hub
	closeOnce sync.Once
	closed    chan struct{}
	mu        sync.Mutex
	reads     int
	onLoop    int // reads made while the loop was held
}

func (l *learnerIO) ReadFrames([]*Frame, int) (int, error) {
	<-l.closed
	return 0, net.ErrClosed
}

func (l *learnerIO) WriteFrames(fs []*Frame) (int, error) { return len(fs), nil }

func (l *learnerIO) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	return nil
}

func (l *learnerIO) Learning() LearningStatus {
	// Read on the loop, this goroutine holds h.mu and it is never free;
	// off it, nothing else holds it for long on an idle hub.
	free := false
	for range 10000 {
		if free = l.h.mu.TryLock(); free {
			l.h.mu.Unlock()
			break
		}
		runtime.Gosched()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reads++
	if !free {
		l.onLoop++
	}
	return LearningStatus{Entries: 1, Size: 8}
}

// TestPortsReadsLearnersOffTheLoop: Ports reads a port's own learning
// table (Learner) after it has left the hub's forwarding loop, where it
// used to read it inside Do: reading a table may age a whole table out,
// and it waits on the port's own lock, all of which stalled forwarding.
// What it reads is still in the port's status.
func TestPortsReadsLearnersOffTheLoop(t *testing.T) {
	h, err := New(Config{Clock: NewVirtualClock(DefaultEpoch)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error)
	go func() { ran <- h.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-ran; err != nil {
			t.Errorf("Run returned %v", err)
		}
	}()
	if err := h.AddPort("ov", "learner"); err != nil {
		t.Fatal(err)
	}
	io := &learnerIO{h: h, closed: make(chan struct{})}
	if _, err := h.Attach("ov", io); err != nil {
		t.Fatal(err)
	}
	ports, err := h.Ports(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ports) != 1 || ports[0].Learning == nil || *ports[0].Learning != (LearningStatus{Entries: 1, Size: 8}) {
		t.Fatalf("got Ports() = %+v, want ov with its learning table", ports)
	}
	io.mu.Lock()
	defer io.mu.Unlock()
	if io.reads != 1 || io.onLoop != 0 {
		t.Errorf("got %d reads of the table, %d of them on the hub's loop; want 1, none on the loop", io.reads, io.onLoop)
	}
}
