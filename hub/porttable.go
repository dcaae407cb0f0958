package hub

// This file holds the core's port table: each port's entry (corePort: its
// name, peer, counters, split-horizon group and flow state), the links
// between ports and their counters (portLink), and the Core methods that
// add, remove, attach and look ports up. A removed port stays in the table
// as a tombstone, so its counters stay readable and its ID is not reused.

import (
	"cmp"
	"fmt"
	"slices"
)

type corePort struct {
	id      PortID
	name    string
	desc    string
	out     EgressQueue // nil while no peer is attached
	stats   *PortStats
	removed bool
	links   []portLink // to each other port, by its ID, made on first use
	// horizon is the port's split-horizon group (PortOptions.Horizon):
	// frames never go between two ports of one group.
	horizon string
	// maxOut is the largest frame the attached peer takes (FrameLimiter);
	// 0: no limit below the hub's own.
	maxOut int
	flowState
}

// portLink is what the core keeps for the link from one port to another:
// its name in notes and its counters (see LinkStats). The core's owner
// writes and reads them; no one else does, so they are plain integers.
type portLink struct {
	name                 string // "from->to", made on first use so notes cost no allocation
	frames, bytes, drops uint64
}

// link returns the link from p to the port with ID to, growing p's table
// on a port's first frame to it (one allocation per new pair, never per
// frame).
func (p *corePort) link(to PortID) *portLink {
	if int(to) >= len(p.links) {
		p.links = append(p.links, make([]portLink, int(to)+1-len(p.links))...)
	}
	return &p.links[to]
}

// linkName returns "p->to", made once per pair so notes cost no allocation.
func (p *corePort) linkName(to *corePort) string {
	l := p.link(to.id)
	if l.name == "" {
		l.name = p.name + "->" + to.name
	}
	return l.name
}

// AddPort adds a named port with the core's flow defaults. desc says what
// the port is attached to, for captures and logs. out may be nil (no peer
// yet; see SetEgress).
func (c *Core) AddPort(name, desc string, out EgressQueue) (PortID, error) {
	return c.AddPortWith(name, desc, out, PortOptions{})
}

// AddPortWith is AddPort with the port's own flow options; their zero
// values take the core's.
func (c *Core) AddPortWith(name, desc string, out EgressQueue, o PortOptions) (PortID, error) {
	if name == "" {
		return NoPort, fmt.Errorf("add port: empty name")
	}
	if _, ok := c.byName[name]; ok {
		return NoPort, fmt.Errorf("add port %q: %w", name, ErrPortExists)
	}
	if err := o.validate(); err != nil {
		return NoPort, fmt.Errorf("add port %q: %w", name, err)
	}
	id := PortID(len(c.ports))
	p := &corePort{id: id, name: name, desc: desc, stats: new(PortStats), horizon: o.Horizon}
	p.stallCheck = func() { c.stallTick(p) }
	p.setOut(out)
	p.setFlow(c.flow.with(o), c.backlog)
	c.ports = append(c.ports, p)
	c.byName[name] = id
	c.markWaiters = slices.Grow(c.markWaiters, len(c.ports)-len(c.markWaiters)) // a hold at the delay bound allocates nothing
	i, _ := c.orderIndex(name)
	c.order = slices.Insert(c.order, i, id)
	for _, o := range c.observers {
		if po, ok := o.(PortObserver); ok {
			po.PortAdded(PortInfo{ID: id, Name: name, Description: desc})
		}
	}
	return id, nil
}

// RemovePort removes a port. Its learned MACs are forgotten and frames still
// scheduled for it are dropped when due, as port-down (counted on its
// counters, which Stats still returns, and shown to observers). The ID is
// not reused.
func (c *Core) RemovePort(id PortID) error {
	p := c.port(id)
	if p == nil {
		return fmt.Errorf("remove port %d: %w", id, ErrNoPort)
	}
	c.unblock(p)
	p.removed = true
	p.out = nil
	delete(c.byName, p.name)
	for mac, e := range c.macs {
		if e.port == id {
			delete(c.macs, mac)
		}
	}
	if i, ok := c.orderIndex(p.name); ok {
		c.order = slices.Delete(c.order, i, i+1)
	}
	return nil
}

// SetEgress attaches (out != nil) or detaches (nil) a port's peer. A port
// without a peer counts frames for it as DropDown. Either way the port
// starts over as far as flow control goes: the senders it held back resume,
// and it holds no one back itself.
func (c *Core) SetEgress(id PortID, out EgressQueue) error {
	p := c.port(id)
	if p == nil {
		return fmt.Errorf("port %d: %w", id, ErrNoPort)
	}
	c.unblock(p)
	p.setOut(out)
	return nil
}

// setOut attaches out (nil: no peer) and learns its frame limit.
func (p *corePort) setOut(out EgressQueue) {
	p.out, p.maxOut = out, 0
	if l, ok := out.(FrameLimiter); ok {
		p.maxOut = l.MaxFrame()
	}
}

// Egress returns the queue attached to port id: nil while the port has no
// peer, and for an unknown or removed port.
func (c *Core) Egress(id PortID) EgressQueue {
	if p := c.port(id); p != nil {
		return p.out
	}
	return nil
}

// Lookup returns the ID of the named port.
func (c *Core) Lookup(name string) (PortID, bool) {
	id, ok := c.byName[name]
	return id, ok
}

// PortName returns a port's name ("" for an unknown ID).
func (c *Core) PortName(id PortID) string {
	if p := c.port(id); p != nil {
		return p.name
	}
	return ""
}

// Stats returns a port's counters (nil for an unknown ID). The pointer stays
// valid, and its counters readable from any goroutine, for the core's life.
func (c *Core) Stats(id PortID) *PortStats {
	if int(id) < 0 || int(id) >= len(c.ports) {
		return nil
	}
	return c.ports[id].stats
}

// Ports returns the live ports in flood order (by name).
func (c *Core) Ports() []PortInfo {
	out := make([]PortInfo, 0, len(c.order))
	for _, id := range c.order {
		p := c.ports[id]
		out = append(out, PortInfo{ID: id, Name: p.name, Description: p.desc})
	}
	return out
}

func (c *Core) port(id PortID) *corePort {
	if int(id) < 0 || int(id) >= len(c.ports) || c.ports[id].removed {
		return nil
	}
	return c.ports[id]
}

// tombstone is port, but also returns a removed port: a delayed frame that
// comes due for a port removed while it waited is dropped as port-down
// (RemovePort cleared its peer), counted on the port's counters, which stay
// readable, and shown to observers, as every other drop is.
func (c *Core) tombstone(id PortID) *corePort {
	if int(id) < 0 || int(id) >= len(c.ports) {
		return nil
	}
	return c.ports[id]
}

// orderIndex returns where the live port called name is, or would be, in
// the flood order (by name; names of live ports are unique). A binary
// search: a port added costs a shift, not a sort of every port, so that
// a replay adding a port per source MAC stays linear in them.
func (c *Core) orderIndex(name string) (int, bool) {
	return slices.BinarySearchFunc(c.order, name, func(id PortID, name string) int {
		return cmp.Compare(c.ports[id].name, name)
	})
}
