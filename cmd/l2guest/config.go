package main

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"l2hub/conformance"
)

// Config is what the kernel command line asks of the agent.
type Config struct {
	IP      netip.Prefix     // l2.ip: the NIC's address and prefix
	MAC     net.HardwareAddr // l2.mac: set from the guest side; nil keeps QEMU's
	Peers   []netip.Addr     // l2.peer: comma list; ping, sync and gossip reach all of them
	Role    string           // l2.role: a|b for tcp/udp (a serves), node-a|node-b for nexus
	Run     []string         // l2.run: the checks, in order
	Count   int              // l2.count: pings per peer after the first reply
	Timeout time.Duration    // l2.timeout: per check, in seconds on the command line
	Bytes   int              // l2.bytes: tcp payload
	Sync    bool             // l2.sync: end with a barrier so no guest leaves early
	Dev     string           // l2.dev: the NIC
	IPv6    bool             // l2.ipv6: keep IPv6 on (off by default: quieter captures)
	Exit    string           // l2.exit: read by /init; validated here
	// Reply is l2.reply: how long the nexus node waits for each handshake
	// message or record its peer owes (0: the node's default, the OS's
	// 4 s). A lab that partitions the segment mid-session for a few
	// seconds raises it above TCP's retransmission backoff.
	Reply time.Duration
}

// Bounds on what the command line may ask for.
const (
	maxPeers   = 16
	maxChecks  = 32
	maxCount   = 1000
	maxBytes   = 64 << 20
	maxTimeout = time.Hour
	maxSleep   = time.Hour
)

// ErrConfig marks a bad l2.* setting.
var ErrConfig = errors.New("bad kernel command line")

// DefaultConfig is the agent's configuration when the command line says
// nothing: the shared recipe's defaults.
func DefaultConfig() Config {
	return Config{
		IP:      netip.MustParsePrefix("10.0.0.1/24"),
		Peers:   []netip.Addr{netip.MustParseAddr("10.0.0.2")},
		Role:    "a",
		Run:     []string{"ping"},
		Count:   3,
		Timeout: 60 * time.Second,
		Bytes:   1 << 20,
		Sync:    true,
		Dev:     "eth0",
		Exit:    "poweroff",
	}
}

// ParseCmdline reads the l2.* words of a kernel command line over the
// defaults. Words without the l2. prefix belong to the kernel and are
// skipped; an unknown l2.* key is an error, so a typo cannot silently run the
// wrong test.
//
// A nexus node (l2.role=node-a or node-b, or l2.run with nexus whatever the
// role's spelling: a, the default, is node-a) stands where nexus-wire.md §1
// puts it unless l2.ip and l2.peer say otherwise: node-a at 10.42.0.10/24
// with peer 10.42.0.11, node-b the other way round, not at the shared
// recipe's 10.0.0.1 with peer 10.0.0.2.
func ParseCmdline(cmdline string) (Config, error) {
	c := DefaultConfig()
	given := map[string]bool{}
	for _, word := range strings.Fields(cmdline) {
		key, val, ok := strings.Cut(word, "=")
		if !strings.HasPrefix(key, "l2.") {
			continue
		}
		if !ok {
			return c, fmt.Errorf("%w: %q has no value", ErrConfig, word)
		}
		if err := c.set(key, val); err != nil {
			return c, fmt.Errorf("%w: %s: %v", ErrConfig, key, err)
		}
		given[key] = true
	}
	if r, err := conformance.ParseRole(c.Role); err == nil && (strings.HasPrefix(c.Role, "node-") || slices.Contains(c.Run, "nexus")) {
		if !given["l2.ip"] {
			c.IP = netip.PrefixFrom(r.Addr(), 24)
		}
		if !given["l2.peer"] {
			c.Peers = []netip.Addr{r.Peer().Addr()}
		}
	}
	// The guest never hears its own gossip: a peer at its own address
	// would be waited for until l2.timeout.
	if slices.Contains(c.Peers, c.IP.Addr()) {
		return c, fmt.Errorf("%w: l2.peer: %s is this guest's own address (l2.ip)", ErrConfig, c.IP.Addr())
	}
	return c, nil
}

func (c *Config) set(key, val string) error {
	var err error
	switch key {
	case "l2.ip":
		c.IP, err = netip.ParsePrefix(val)
		if err == nil && !c.IP.Addr().Is4() {
			err = fmt.Errorf("%s is not IPv4", val)
		}
	case "l2.mac":
		c.MAC, err = net.ParseMAC(val)
		if err == nil && len(c.MAC) != 6 {
			err = fmt.Errorf("%s is not a 6-byte MAC", val)
		}
	case "l2.peer":
		c.Peers, err = parsePeers(val)
	case "l2.role":
		switch val {
		case "a", "b", "node-a", "node-b":
			c.Role = val
		default:
			err = fmt.Errorf("%q is not a, b, node-a or node-b", val)
		}
	case "l2.run":
		c.Run, err = parseRun(val)
	case "l2.count":
		c.Count, err = parseInt(val, 1, maxCount)
	case "l2.timeout":
		var s int
		s, err = parseInt(val, 1, int(maxTimeout/time.Second))
		c.Timeout = time.Duration(s) * time.Second
	case "l2.reply":
		var s int
		s, err = parseInt(val, 1, int(maxTimeout/time.Second))
		c.Reply = time.Duration(s) * time.Second
	case "l2.bytes":
		c.Bytes, err = parseInt(val, 1, maxBytes)
	case "l2.sync":
		c.Sync, err = parseBool(val)
	case "l2.ipv6":
		c.IPv6, err = parseBool(val)
	case "l2.dev":
		if val == "" || len(val) > 15 || strings.ContainsAny(val, "/ ") {
			err = fmt.Errorf("%q is not an interface name", val)
		}
		c.Dev = val
	case "l2.exit":
		switch val {
		case "poweroff", "reboot", "shell":
			c.Exit = val
		default:
			err = fmt.Errorf("%q is not poweroff, reboot or shell", val)
		}
	default:
		err = errors.New("unknown setting")
	}
	return err
}

func parsePeers(val string) ([]netip.Addr, error) {
	if val == "" || val == "none" {
		return nil, nil
	}
	parts := strings.Split(val, ",")
	if len(parts) > maxPeers {
		return nil, fmt.Errorf("%d peers, at most %d", len(parts), maxPeers)
	}
	peers := make([]netip.Addr, 0, len(parts))
	for _, p := range parts {
		a, err := netip.ParseAddr(p)
		if err != nil {
			return nil, err
		}
		if !a.Is4() {
			return nil, fmt.Errorf("%s is not IPv4", p)
		}
		// A peer listed twice would be waited for twice: the gossip
		// checks could never hear "every" peer.
		if slices.Contains(peers, a) {
			return nil, fmt.Errorf("%s given twice", p)
		}
		peers = append(peers, a)
	}
	return peers, nil
}

func parseRun(val string) ([]string, error) {
	parts := strings.Split(val, ",")
	if len(parts) > maxChecks {
		return nil, fmt.Errorf("%d checks, at most %d", len(parts), maxChecks)
	}
	for _, p := range parts {
		if _, err := lookupCheck(p); err != nil {
			return nil, err
		}
	}
	return parts, nil
}

func parseInt(val string, lo, hi int) (int, error) {
	n, err := strconv.Atoi(val)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number", val)
	}
	if n < lo || n > hi {
		return 0, fmt.Errorf("%d is outside [%d,%d]", n, lo, hi)
	}
	return n, nil
}

func parseBool(val string) (bool, error) {
	switch val {
	case "1", "on", "yes", "true":
		return true, nil
	case "0", "off", "no", "false":
		return false, nil
	}
	return false, fmt.Errorf("%q is not 0 or 1", val)
}
