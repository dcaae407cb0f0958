package loadgen

import (
	"sync/atomic"
	"time"

	"l2hub/hub"
)

// The receiving side of a run: one receiver per VM, on a goroutine of its
// own, reads every frame that reaches its VM, sorts it (a hello, a
// delivery owed to this VM, a duplicate, an echo, a frame it should not
// have heard, a foreign one) and records each first arrival's latency. The
// sequence numbers it has seen are also its senders' windows (run.acked),
// and it wakes a sender that waits on one.

type receiver struct {
	idx    int
	mac    [6]byte
	heard  []atomic.Bool // by sender: a hello arrived from it
	stall  atomic.Bool   // stop reading until resume is closed
	resume chan struct{}

	got     atomic.Uint64 // deliveries meant for this VM
	gotFrom atomic.Uint64 // ... of frames sent from Scenario.From on
	lastRx  atomic.Int64  // monotonic ns of the latest one

	// seen is, by sender, one past the highest sequence number that
	// arrived: every earlier frame has arrived or is lost (the sender's
	// window counts from it). Written by the receiver goroutine only.
	seen []atomic.Uint64
	// arrived is, by sender, a ring of dupWindow bits: bit seq%dupWindow
	// says whether frame seq arrived, for seq in [seen-dupWindow, seen).
	// Allocated at the sender's first data frame; receiver goroutine only.
	arrived [][]uint64

	// Owned by the receiver goroutine; read after it exits.
	late       uint64
	duplicates uint64
	unchecked  uint64
	unwanted   uint64
	echoes     uint64
	foreign    uint64
	lat        Histogram
}

// run reads frames until p fails (closed at the end of the scenario).
func (rx *receiver) run(p VM, r *run) {
	buf := make([]byte, hub.DefaultMaxFrame)
	for {
		if rx.stall.Load() {
			<-rx.resume
		}
		n, err := p.ReadFrame(buf)
		if err != nil {
			if isFrameError(err) {
				rx.foreign++
				continue
			}
			return
		}
		now := mono()
		h, ok := parseHeader(buf[:n])
		switch {
		case !ok || h.sender >= len(rx.heard):
			rx.foreign++
		case h.kind == kindHello:
			rx.heard[h.sender].Store(true)
		case h.kind != kindData:
			rx.foreign++
		case h.sender == rx.idx:
			rx.echoes++
		case h.dst != rx.mac && h.dst != BroadcastMAC, !r.hears(rx.idx, h.sender):
			rx.unwanted++
		case !r.expects(rx.idx, h.sender):
			// a bystander's: heard, not counted
		default:
			if !rx.first(h.sender, h.seq) {
				rx.duplicates++
				continue
			}
			if r.waiting[h.sender].Load() {
				select {
				case r.wake[h.sender] <- struct{}{}:
				default:
				}
			}
			rx.lat.Record(time.Duration(now - h.sent))
			rx.lastRx.Store(now)
			rx.got.Add(1)
			if r.sc.From > 0 && h.sent >= r.start+int64(r.sc.From) {
				rx.gotFrom.Add(1)
			}
		}
	}
}

// dupWindow is how far behind its sender's newest frame a frame may
// arrive and still be told apart from a duplicate: bits per (receiver,
// sender) pair, 512 bytes each.
const dupWindow = 4096

// first records the arrival of frame seq from sender and says whether it
// is the frame's first (false: a duplicate). It counts late frames, and
// those too late to check (counted as first arrivals).
func (rx *receiver) first(sender int, seq uint64) bool {
	bits := rx.arrived[sender]
	if bits == nil {
		bits = make([]uint64, dupWindow/64)
		rx.arrived[sender] = bits
	}
	seen := rx.seen[sender].Load()
	if seq >= seen {
		// Frames seen..seq-1 have not arrived (yet): clear their bits,
		// which held frames dupWindow older.
		from := seen
		if seq-seen >= dupWindow {
			from = seq - dupWindow + 1
		}
		for s := from; s < seq; s++ {
			bits[s%dupWindow/64] &^= 1 << (s % 64)
		}
		bits[seq%dupWindow/64] |= 1 << (seq % 64)
		rx.seen[sender].Store(seq + 1)
		return true
	}
	if seen-seq > dupWindow {
		rx.late++
		rx.unchecked++
		return true
	}
	w, b := seq%dupWindow/64, uint64(1)<<(seq%64)
	if bits[w]&b != 0 {
		return false
	}
	bits[w] |= b
	rx.late++
	return true
}
