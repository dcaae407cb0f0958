package hub_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"l2hub/hub"
	"l2hub/hub/hubtest"
)

// limitedQueue is a manualQueue whose peer takes frames up to max bytes.
type limitedQueue struct {
	manualQueue
	max int
}

func (q *limitedQueue) MaxFrame() int { return q.max }

// A frame larger than its port's peer takes (a VXLAN port's inner MTU) is
// dropped before the queue as oversize: counted as a drop, not sent, and
// shown to observers as a dropped egress with the reason, where it used to
// be recorded as delivered and then dropped unseen by the transport.
func TestFrameOverThePeersLimitIsDroppedAsOversize(t *testing.T) {
	rec := &recordDrops{}
	c := hub.NewCore(hub.CoreConfig{Mode: hub.ModeHub, Clock: hub.NewVirtualClock(hub.DefaultEpoch), Observers: []hub.Observer{rec}})
	a, _ := c.AddPort("a", "", hub.Discard{})
	q := &limitedQueue{max: 100}
	b, _ := c.AddPort("b", "", q)
	small := hubtest.Frame(macB, macA, "fits")
	big := hubtest.Frame(macB, macA, strings.Repeat("x", 200))
	c.Ingress(a, hub.FrameOf(small))
	c.Ingress(a, hub.FrameOf(big))
	st := c.Stats(b)
	if len(q.frames) != 1 || !bytes.Equal(q.frames[0].Bytes(), small) || st.TxFrames.Load() != 1 || st.Drops(hub.DropOversize) != 1 {
		t.Errorf("b queued %d frames, tx %d, oversize drops %d; want the small frame queued and the big one dropped", len(q.frames), st.TxFrames.Load(), st.Drops(hub.DropOversize))
	}
	if len(rec.drops) != 1 || !strings.Contains(rec.drops[0], "oversize") {
		t.Errorf("observed drops %q, want the big frame's, noted oversize", rec.drops)
	}
}

// limitIO is a chanIO whose peer takes frames up to max bytes.
type limitIO struct {
	*chanIO
	max int
}

func (l limitIO) MaxFrame() int { return l.max }

// The live hub learns a transport's limit when it attaches.
func TestLiveHubLearnsThePeersLimit(t *testing.T) {
	h, ios := startHub(t, hub.Config{Mode: hub.ModeHub, Clock: hub.NewVirtualClock(hub.DefaultEpoch)}, "a")
	b := limitIO{newChanIO(), 100}
	if err := h.AddPort("b", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Attach("b", b); err != nil {
		t.Fatal(err)
	}
	big := hubtest.Frame(hubtest.Broadcast, macA, strings.Repeat("x", 200))
	small := hubtest.Frame(hubtest.Broadcast, macA, "fits")
	ios["a"].fromPeer <- big
	ios["a"].fromPeer <- small
	if got := recv(t, b.chanIO); !bytes.Equal(got, small) {
		t.Errorf("b got %x first, want the small frame (the big one dropped)", got)
	}
	st := h.Stats(context.Background(), "b")
	if st.Drops(hub.DropOversize) != 1 || st.TxFrames.Load() != 1 {
		t.Errorf("b sent %d, dropped %d as oversize; want 1 and 1", st.TxFrames.Load(), st.Drops(hub.DropOversize))
	}
	ports, err := h.Ports(context.Background())
	if err != nil || len(ports) != 2 || !ports[1].Attached {
		t.Errorf("ports %+v, %v: want b attached (its limit does not hide its attachment)", ports, err)
	}
}
