package conformance

import (
	"slices"
	"sync"
)

// peerCacheSize is nexus-peer-lru's capacity. It keeps no timestamps: no TTL
// and no replay protection (NX-10).
const peerCacheSize = 16

// peerCache is the OS's discovery LRU: any well-formed announce overwrites
// its device id's entry and moves it to the front. Safe for concurrent use.
type peerCache struct {
	mu      sync.Mutex
	entries []PeerEntry // most recent first
}

// insert stores e and reports whether it differs from the entry it
// replaces (or is new).
func (c *peerCache) insert(e PeerEntry) (changed bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	changed = true
	if i := slices.IndexFunc(c.entries, func(p PeerEntry) bool { return p.DeviceID == e.DeviceID }); i >= 0 {
		old := c.entries[i]
		changed = old.Addr != e.Addr || old.Port != e.Port || old.Static != e.Static
		c.entries = slices.Delete(c.entries, i, i+1)
	}
	c.entries = slices.Insert(c.entries, 0, e)
	if len(c.entries) > peerCacheSize {
		c.entries = c.entries[:peerCacheSize]
	}
	return changed
}

// peek returns id's entry without moving it, as the OS's dial path does.
func (c *peerCache) peek(id string) (PeerEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range c.entries {
		if e.DeviceID == id {
			return e, true
		}
	}
	return PeerEntry{}, false
}
