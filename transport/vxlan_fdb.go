package transport

import (
	"net/netip"
	"sync"
	"time"
)

// fdb is a vxlan port's learning table: where each MAC was last seen, the
// remote VTEP it sent from or, for a MAC the port sent a frame from, this
// hub's side (the zero AddrPort), forgotten after aging without a frame
// from it. A MAC seen at one place and then, before it aged, at another
// has moved (counted; the first move of each MAC is logged, rate-limited):
// a VM that migrated, or one side sending with the other's address, which
// draws the frames for that address to it. It holds at most size MACs, so that a remote sending from ever new source MACs (a
// spray; with group=, or a spoofed source on the underlay, anyone's) costs
// a bounded table: a new MAC arriving when it is full pushes out the
// least recently seen (counted as evicted), and a MAC pushed out is
// flooded to, not lost. Every operation is O(1) amortised: the entries
// are on a list in the order they were last seen, so those that aged are
// at its tail, each taken off once. Safe for concurrent use (the port's
// reader learns, its writer looks up).
type fdb struct {
	mu    sync.Mutex
	size  int
	aging time.Duration
	index map[[6]byte]int32
	// ents are the entries, in slots that are reused; ents[0] is the
	// list's head: ents[0].next is the most recently seen, ents[0].prev
	// the least. Free slots are on a list of their own through next.
	ents    []fdbEntry
	free    int32 // first free slot, 0 if none
	evicted uint64
	moves   uint64
	limit   *limiter // paces the lines about moves; nil: none
}

type fdbEntry struct {
	mac        [6]byte
	vtep       netip.AddrPort // the zero AddrPort: this hub's side
	seen       time.Time
	prev, next int32
	logged     bool // a move of it was logged
}

// fdbMove is a MAC's move to log: from one place to another (a VTEP, or
// this hub's side), and how many moves went unlogged before it.
type fdbMove struct {
	mac      [6]byte
	from, to netip.AddrPort
	unlogged int
}

func newFDB(size int, aging time.Duration, limit *limiter) *fdb {
	return &fdb{size: size, aging: aging, limit: limit, index: map[[6]byte]int32{}, ents: make([]fdbEntry, 1, 1+min(size, 64))}
}

// learn notes that mac was seen behind vtep (zero: this hub's side) at
// now. It returns a move to log, the MAC's first that the limiter lets
// through, if logIt.
func (t *fdb) learn(mac [6]byte, vtep netip.AddrPort, now time.Time) (mv fdbMove, logIt bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.expire(now)
	if i, ok := t.index[mac]; ok {
		e := &t.ents[i]
		if e.vtep != vtep {
			t.moves++
			if !e.logged && t.limit != nil {
				if ok, n := t.limit.allow(); ok {
					mv, logIt, e.logged = fdbMove{mac: mac, from: e.vtep, to: vtep, unlogged: n}, true, true
				}
			}
		}
		e.vtep, e.seen = vtep, now
		t.unlink(i)
		t.pushFront(i)
		return mv, logIt
	}
	if len(t.index) >= t.size {
		t.remove(t.ents[0].prev)
		t.evicted++
	}
	i := t.free
	if i != 0 {
		t.free = t.ents[i].next
	} else {
		i = int32(len(t.ents))
		t.ents = append(t.ents, fdbEntry{})
	}
	t.ents[i] = fdbEntry{mac: mac, vtep: vtep, seen: now}
	t.index[mac] = i
	t.pushFront(i)
	return mv, logIt
}

// lookup returns the VTEP mac was learned behind, unless it has aged or
// was last seen on this hub's side.
func (t *fdb) lookup(mac [6]byte, now time.Time) (netip.AddrPort, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	i, ok := t.index[mac]
	if !ok || now.Sub(t.ents[i].seen) > t.aging || !t.ents[i].vtep.IsValid() {
		return netip.AddrPort{}, false
	}
	return t.ents[i].vtep, true
}

// stats returns how many MACs the table holds at now (none aged), how
// many it has evicted, and how many moves it has seen.
func (t *fdb) stats(now time.Time) (entries int, evicted, moves uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.expire(now)
	return len(t.index), t.evicted, t.moves
}

// expire removes the entries that have aged at now: the list's tail.
func (t *fdb) expire(now time.Time) {
	for i := t.ents[0].prev; i != 0 && now.Sub(t.ents[i].seen) > t.aging; i = t.ents[0].prev {
		t.remove(i)
	}
}

// remove takes slot i off the list and the index and frees it.
func (t *fdb) remove(i int32) {
	t.unlink(i)
	delete(t.index, t.ents[i].mac)
	t.ents[i] = fdbEntry{next: t.free}
	t.free = i
}

func (t *fdb) unlink(i int32) {
	e := &t.ents[i]
	t.ents[e.prev].next = e.next
	t.ents[e.next].prev = e.prev
}

func (t *fdb) pushFront(i int32) {
	head := &t.ents[0]
	t.ents[i].prev, t.ents[i].next = 0, head.next
	t.ents[head.next].prev = i
	head.next = i
}
