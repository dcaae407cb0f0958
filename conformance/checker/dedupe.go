package checker

import "time"

// Dedupe windows (nexus-wire.md §6.2). The multicast loopback echo of
// QEMU's socket backend puts each transmitted frame twice into the same
// filter-dump file within microseconds; a frame in two per-VM files appears
// in both, with timestamps from two unrelated virtual clocks, so across
// files only content and recency count.
//
// Known limit: a frame that only one per-VM file holds is checked as sent.
// That is right for a frame the hub dropped (only the sender's file has
// it), wrong for a duplicate the hub delivered (only the receiver's file
// has the extra copy), which then reads as a retransmission. Telling the
// two apart needs to know which file is which VM's, and two files of a
// two-VM segment hold the same MACs in both directions; TCP-001 names the
// possibility instead (Checker.perVM).
const (
	echoWindow  = 10 * time.Millisecond
	dedupeDepth = 4096
	// maxSameHash bounds the remembered copies of one content: a frame
	// repeated thousands of times (a constant announce) is compared with its
	// latest copies only.
	maxSameHash = 32
)

type seenFrame struct {
	used bool
	// copy: this frame was itself a duplicate from another source. It is
	// remembered only to recognise its own echo, never to absorb a copy.
	copy   bool
	hash   uint64
	source int
	time   time.Time
	// absorbed marks the other sources (mod 64) whose copy this frame
	// already stood for: a frame repeated for real in both files pairs up
	// copy by copy instead of collapsing into one.
	absorbed uint64
}

// deduper remembers the last dedupeDepth checked frames by content hash
// (FNV-1a over the bytes: deterministic; a collision hides one frame).
type deduper struct {
	ring  [dedupeDepth]seenFrame
	next  int
	index map[uint64][]int32 // hash -> ring slots, oldest first
}

func newDeduper() *deduper { return &deduper{index: map[uint64][]int32{}} }

func fnv64a(b []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range b {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return h
}

// duplicate reports whether data is a copy of a recent frame: from another
// source (once per remembered frame and source), or, with echo, from the
// same source within echoWindow. Every frame is remembered. A hub's ingress
// frame is what a peer sent, never a loopback echo: it is checked without
// echo.
func (d *deduper) duplicate(data []byte, source int, t time.Time, echo bool) bool {
	sum := fnv64a(data) ^ uint64(len(data))<<48
	bit := uint64(1) << (uint(source) % 64)
	slots := d.index[sum]
	for i := len(slots) - 1; i >= 0; i-- {
		e := &d.ring[slots[i]]
		if e.source != source {
			if !e.copy && e.absorbed&bit == 0 {
				e.absorbed |= bit
				d.remember(sum, source, t, true)
				return true
			}
			continue
		}
		dt := t.Sub(e.time)
		if dt < 0 {
			dt = -dt
		}
		if echo && dt <= echoWindow {
			return true
		}
	}
	d.remember(sum, source, t, false)
	return false
}

func (d *deduper) remember(sum uint64, source int, t time.Time, dup bool) {
	slot := int32(d.next)
	old := &d.ring[slot]
	if old.used {
		if s := d.index[old.hash]; len(s) > 0 && s[0] == slot {
			if len(s) == 1 {
				delete(d.index, old.hash)
			} else {
				d.index[old.hash] = s[1:]
			}
		}
	}
	*old = seenFrame{used: true, copy: dup, hash: sum, source: source, time: t}
	s := d.index[sum]
	if len(s) >= maxSameHash {
		s = s[1:]
	}
	d.index[sum] = append(s, slot)
	d.next = (d.next + 1) % dedupeDepth
}
