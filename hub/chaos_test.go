package hub_test

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"l2hub/hub"
	"l2hub/hub/hubtest"
)

// The live hub over in-memory pipes, its peers' readers stopped, started
// and swapped at random while senders send unpaced. The tests assert only
// what holds under any scheduling, on counts taken after draining: every
// frame arrives or is counted, in order per link, and no one is left
// paused. The virtual clock does not move, so no port stalls.

// chaosFrame is a broadcast from port src: src at byte 14, seq at 15..18.
func chaosFrame(src, seq int) []byte {
	f := hubtest.Frame(hubtest.Broadcast, [6]byte{0x02, 0, 0, 0, 0x44, byte(src)}, "")
	f = append(f[:14], make([]byte, 46)...)
	f[14] = byte(src)
	binary.BigEndian.PutUint32(f[15:], uint32(seq))
	return f
}

// chaosReader reads everything a chanIO's peer gets, counting per sender
// and checking each sender's frames come in order.
type chaosReader struct {
	mu    sync.Mutex
	count map[int]int
	last  map[int]int
	errs  []string
	stop  chan struct{}
	done  chan struct{}
}

func readChaos(name string, io *chanIO) *chaosReader {
	c := &chaosReader{count: map[int]int{}, last: map[int]int{}, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		for {
			select {
			case f := <-io.toPeer:
				src, seq := int(f[14]), int(binary.BigEndian.Uint32(f[15:]))
				c.mu.Lock()
				if l, ok := c.last[src]; ok && seq <= l && len(c.errs) < 5 {
					c.errs = append(c.errs, fmt.Sprintf("%s got p%d's frame %d after %d: lost order", name, src, seq, l))
				}
				c.last[src] = seq
				c.count[src]++
				c.mu.Unlock()
			case <-c.stop:
				return
			}
		}
	}()
	return c
}

func (c *chaosReader) got(src int) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.count[src]
}

func (c *chaosReader) close() {
	close(c.stop)
	<-c.done
}

// sendChaos has each named port's peer send n frames unpaced; the channel
// closes once all are sent.
func sendChaos(ios map[string]*chanIO, names []string, n int) <-chan struct{} {
	var wg sync.WaitGroup
	for i, p := range names {
		wg.Go(func() {
			for s := range n {
				ios[p].fromPeer <- chaosFrame(i, s)
			}
		})
	}
	sent := make(chan struct{})
	go func() { wg.Wait(); close(sent) }()
	return sent
}

// untilSent calls step until sent is closed, then `after` times more.
func untilSent(sent <-chan struct{}, after int, step func()) {
	for i := 0; i <= after; {
		select {
		case <-sent:
			i++
		default:
		}
		step()
	}
}

// TestLiveLosslessUnderReaderChaos: four ports broadcast unpaced while
// their peers stop and start reading at random. Every frame arrives, in
// order per link, no drop counter moves, and no one is left paused.
func TestLiveLosslessUnderReaderChaos(t *testing.T) {
	const n = 4000
	for _, seed := range []uint64{1, 2, 3} {
		t.Run(fmt.Sprintf("seed-%d", seed), func(t *testing.T) {
			names := []string{"p0", "p1", "p2", "p3"}
			h, ios := startHub(t, hub.Config{Mode: hub.ModeHub, QueueLen: 4, Clock: hub.NewVirtualClock(hub.DefaultEpoch)}, names...)
			readers := map[string]*chaosReader{}
			for _, p := range names {
				readers[p] = readChaos(p, ios[p])
				defer readers[p].close()
			}
			sent := sendChaos(ios, names, n)
			rng := rand.New(rand.NewPCG(seed, 7))
			untilSent(sent, 300, func() {
				ios[names[rng.IntN(len(names))]].setReading(rng.IntN(2) == 0)
				time.Sleep(time.Duration(rng.IntN(300)) * time.Microsecond)
			})
			for _, p := range names {
				ios[p].setReading(true)
			}
			waitFor(t, func() bool {
				for i := range names {
					for j, q := range names {
						if i != j && readers[q].got(i) != n {
							return false
						}
					}
				}
				return true
			})
			var pauses []uint64
			for _, p := range names {
				st := portStatus(t, h, p)
				if len(st.Stats.Drops) != 0 || st.Flow.Paused || st.Flow.Congested || st.Stats.RxFrames != n || st.Stats.TxFrames != uint64(n*(len(names)-1)) {
					t.Errorf("%s: got %+v; want rx %d, tx %d, no drops, not paused or congested", p, st, n, n*(len(names)-1))
				}
				for _, e := range readers[p].errs {
					t.Error(e)
				}
				pauses = append(pauses, st.Stats.Pauses)
			}
			t.Logf("pauses per port: %v", pauses)
		})
	}
}

// TestLiveDestinationDetachChaos: three senders broadcast unpaced; a
// fourth port, r, reads, stops, and has its peer detached and a new one
// attached at random. The senders paused on r are let go each time its
// peer goes, so they lose nothing among themselves; each of r's peers gets
// its frames in order; and every copy for r is counted once: read by one
// of its peers or dropped (port-down for those queued when a peer went).
func TestLiveDestinationDetachChaos(t *testing.T) {
	const n = 4000
	for _, seed := range []uint64{1, 2, 3} {
		t.Run(fmt.Sprintf("seed-%d", seed), func(t *testing.T) {
			senders := []string{"p0", "p1", "p2"}
			h, ios := startHub(t, hub.Config{Mode: hub.ModeHub, QueueLen: 4, Clock: hub.NewVirtualClock(hub.DefaultEpoch)}, append(senders, "r")...)
			readers := map[string]*chaosReader{}
			for _, p := range senders {
				readers[p] = readChaos(p, ios[p])
				defer readers[p].close()
			}
			rReaders := []*chaosReader{readChaos("r", ios["r"])}
			defer func() {
				for _, c := range rReaders {
					c.close()
				}
			}()
			sent := sendChaos(ios, senders, n)
			rng := rand.New(rand.NewPCG(seed, 9))
			r := ios["r"]
			detaches := 0
			untilSent(sent, 300, func() {
				switch rng.IntN(3) {
				case 0:
					r.setReading(false)
				case 1:
					r.setReading(true)
				case 2:
					if err := h.Detach("r"); err != nil {
						t.Fatal(err)
					}
					detaches++
					r = newChanIO()
					if rng.IntN(2) == 0 {
						r.setReading(false)
					}
					if _, err := h.Attach("r", r); err != nil {
						t.Fatal(err)
					}
					rReaders = append(rReaders, readChaos("r", r))
				}
				time.Sleep(time.Duration(rng.IntN(500)) * time.Microsecond)
			})
			r.setReading(true)
			waitFor(t, func() bool {
				for i := range senders {
					for j, q := range senders {
						if i != j && readers[q].got(i) != n {
							return false
						}
					}
				}
				return true
			})
			for _, p := range senders {
				st := portStatus(t, h, p)
				if len(st.Stats.Drops) != 0 || st.Flow.Paused || st.Stats.RxFrames != n {
					t.Errorf("%s: got %+v; want rx %d, no drops, not paused", p, st, n)
				}
				for _, e := range readers[p].errs {
					t.Error(e)
				}
			}
			// Every copy for r is read by one of its peers or dropped; a
			// copy queued when a peer went counts in tx and as port-down.
			account := func() (got int, st hub.PortStatus, drops uint64) {
				for _, c := range rReaders {
					for i := range senders {
						got += c.got(i)
					}
				}
				st = portStatus(t, h, "r")
				for _, v := range st.Stats.Drops {
					drops += v
				}
				return got, st, drops
			}
			copies := uint64(len(senders) * n)
			for range 1000 {
				if got, _, drops := account(); uint64(got)+drops == copies {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			got, st, drops := account()
			if uint64(got)+drops != copies || st.Queued != 0 {
				t.Errorf("r: got %d read + drops %v = %d, %d still queued; want the %d copies sent to it", got, st.Stats.Drops, uint64(got)+drops, st.Queued, copies)
			}
			if down := st.Stats.Drops[hub.DropDown.String()]; st.Stats.TxFrames+drops-down > copies || st.Stats.TxFrames < uint64(got) {
				t.Errorf("r: got tx %d, drops %v, read %d of %d copies; want tx ≥ read and tx + drops other than port-down ≤ copies", st.Stats.TxFrames, st.Stats.Drops, got, copies)
			}
			for _, c := range rReaders {
				for _, e := range c.errs {
					t.Error(e)
				}
			}
			t.Logf("r: %d detaches, read %d, tx %d, drops %v", detaches, got, st.Stats.TxFrames, st.Stats.Drops)
		})
	}
}
