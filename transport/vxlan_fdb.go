package transport

import (
	"net/netip"
	"sync"
	"time"

	"l2hub/hub"
)

// fdb is a vxlan port's learning table: where each MAC was last seen, the
// remote VTEP it sent from or, for a MAC the port sent a frame from, this
// hub's side (the zero AddrPort), forgotten after aging without a frame
// from it. A MAC seen at one place and then, before it aged, at another
// has moved (counted; the first move of each MAC is logged, rate-limited):
// a VM that migrated, or one side sending with the other's address, which
// draws the frames for that address to it.
//
// It holds at most size MACs, so that a remote sending from ever new
// source MACs (a spray; with group=, or a spoofed source on the underlay,
// anyone's) costs a bounded table: a new MAC arriving when it is full
// pushes out the least recently seen MAC behind a remote (counted as
// evicted), and a MAC pushed out is flooded to, not lost. A MAC on this
// hub's side goes only when no remote's is left, so that a spray cannot
// push out the hub's own VMs and then take over their addresses unseen
// (the take-over is a move).
//
// Every operation is O(1) amortised: the entries are on two lists, the
// remotes' and this hub's side's, each in the order they were last seen,
// so those that aged are at their tails, each taken off once. The time is
// read under the lock, so each list stays in that order. Safe for
// concurrent use (the port's reader learns from remotes, its writer
// learns this hub's side and looks up).
type fdb struct {
	mu    sync.Mutex
	clock hub.Clock
	size  int
	aging time.Duration
	index map[[6]byte]int32
	// ents are the entries, in slots that are reused; ents[remoteList]
	// and ents[hubList] are the heads of the lists: head.next is the most
	// recently seen, head.prev the least. Free slots are on a list of
	// their own through next, 0 ending it.
	ents    []fdbEntry
	free    int32 // first free slot, 0 if none
	evicted uint64
	moves   uint64
	limit   *limiter // paces the lines about moves; nil: none
}

// The heads of fdb's two lists, in ents' first slots.
const (
	remoteList int32 = iota // MACs behind a remote VTEP
	hubList                 // MACs on this hub's side
	fdbHeads
)

type fdbEntry struct {
	mac        [6]byte
	vtep       netip.AddrPort // the zero AddrPort: this hub's side
	seen       time.Time
	prev, next int32
	logged     bool // a move of it was logged
}

// fdbMove is a MAC's move to log: from one place to another (a VTEP, or
// this hub's side; to a VTEP's IP at port 0 when the remote is one of
// several at that IP, unknown), and how many first moves of other MACs
// the limiter kept from the log before it.
type fdbMove struct {
	mac      [6]byte
	from, to netip.AddrPort
	unlogged int
}

func newFDB(size int, aging time.Duration, clock hub.Clock, limit *limiter) *fdb {
	t := &fdb{size: size, aging: aging, clock: clock, limit: limit, index: map[[6]byte]int32{},
		ents: make([]fdbEntry, fdbHeads, int(fdbHeads)+min(size, 64))}
	for h := range fdbHeads {
		t.ents[h].prev, t.ents[h].next = h, h
	}
	return t
}

func listOf(vtep netip.AddrPort) int32 {
	if vtep.IsValid() {
		return remoteList
	}
	return hubList
}

// learn notes that mac was seen behind vtep (zero: this hub's side) now.
// It returns a move to log, the MAC's first that the limiter lets
// through, if logIt.
func (t *fdb) learn(mac [6]byte, vtep netip.AddrPort) (mv fdbMove, logIt bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.learnLocked(mac, vtep, t.clock.Now())
}

// sent is what the port's writer does for a frame from src to dst, under
// one lock and one reading of the clock: it learns src on this hub's side
// if learnSrc (a unicast source), and returns the VTEP dst was learned
// behind if lookDst (a unicast destination) and there is one. mv and
// logIt are learn's.
func (t *fdb) sent(src [6]byte, learnSrc bool, dst [6]byte, lookDst bool) (vtep netip.AddrPort, ok bool, mv fdbMove, logIt bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.clock.Now()
	if learnSrc {
		mv, logIt = t.learnLocked(src, netip.AddrPort{}, now)
	}
	if lookDst {
		vtep, ok = t.lookupLocked(dst, now)
	}
	return vtep, ok, mv, logIt
}

// forget drops what the table knows of mac, which was just seen at to,
// a place it cannot record (a remote that is one of several at an IP,
// unknown), so that frames to mac are flooded and reach it wherever it
// is. A MAC it knew at another place has moved (counted; mv and logIt as
// learn's).
func (t *fdb) forget(mac [6]byte, to netip.AddrPort) (mv fdbMove, logIt bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.expire(t.clock.Now())
	i, ok := t.index[mac]
	if !ok {
		return mv, false
	}
	mv, logIt = t.moved(&t.ents[i], to)
	t.remove(i)
	return mv, logIt
}

func (t *fdb) learnLocked(mac [6]byte, vtep netip.AddrPort, now time.Time) (mv fdbMove, logIt bool) {
	t.expire(now)
	if i, ok := t.index[mac]; ok {
		e := &t.ents[i]
		if e.vtep != vtep {
			mv, logIt = t.moved(e, vtep)
		}
		e.vtep, e.seen = vtep, now
		t.unlink(i)
		t.pushFront(listOf(vtep), i)
		return mv, logIt
	}
	if len(t.index) >= t.size {
		victim := t.ents[remoteList].prev
		if victim == remoteList {
			victim = t.ents[hubList].prev
		}
		t.remove(victim)
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
	t.pushFront(listOf(vtep), i)
	return mv, logIt
}

// moved counts e's move to to, and returns it to log if it is e's first
// the limiter lets through.
func (t *fdb) moved(e *fdbEntry, to netip.AddrPort) (mv fdbMove, logIt bool) {
	t.moves++
	if !e.logged && t.limit != nil {
		if ok, n := t.limit.allow(); ok {
			mv, logIt, e.logged = fdbMove{mac: e.mac, from: e.vtep, to: to, unlogged: n}, true, true
		}
	}
	return mv, logIt
}

// lookup returns the VTEP mac was learned behind, unless it has aged or
// was last seen on this hub's side.
func (t *fdb) lookup(mac [6]byte) (netip.AddrPort, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.lookupLocked(mac, t.clock.Now())
}

func (t *fdb) lookupLocked(mac [6]byte, now time.Time) (netip.AddrPort, bool) {
	i, ok := t.index[mac]
	if !ok || now.Sub(t.ents[i].seen) > t.aging || !t.ents[i].vtep.IsValid() {
		return netip.AddrPort{}, false
	}
	return t.ents[i].vtep, true
}

// stats returns how many MACs the table holds now (none aged), how many
// it has evicted, and how many moves it has seen.
func (t *fdb) stats() (entries int, evicted, moves uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.expire(t.clock.Now())
	return len(t.index), t.evicted, t.moves
}

// expire removes the entries that have aged at now: the lists' tails.
func (t *fdb) expire(now time.Time) {
	for h := range fdbHeads {
		for i := t.ents[h].prev; i != h && now.Sub(t.ents[i].seen) > t.aging; i = t.ents[h].prev {
			t.remove(i)
		}
	}
}

// remove takes slot i off its list and the index and frees it.
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

// pushFront puts slot i at the front of the list headed by h.
func (t *fdb) pushFront(h, i int32) {
	head := &t.ents[h]
	t.ents[i].prev, t.ents[i].next = h, head.next
	t.ents[head.next].prev = i
	head.next = i
}
