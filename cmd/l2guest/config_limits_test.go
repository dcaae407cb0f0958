package main

import (
	"errors"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestDefaultConfig pins the defaults e2e/README.md documents: a scenario
// that leaves a GuestConfig field zero gets these, so changing one changes
// every such scenario.
func TestDefaultConfig(t *testing.T) {
	want := Config{
		IP:      netip.MustParsePrefix("10.0.0.1/24"),
		Peers:   []netip.Addr{netip.MustParseAddr("10.0.0.2")},
		Role:    "a",
		Run:     []string{"ping"},
		Count:   3,
		Timeout: 60 * time.Second,
		Bytes:   1048576,
		Sync:    true,
		Dev:     "eth0",
		IPv6:    false,
		Exit:    "poweroff",
		Reply:   0, // the node's own default
	}
	if got := DefaultConfig(); !reflect.DeepEqual(got, want) {
		t.Errorf("got DefaultConfig() =\n%+v\nwant\n%+v", got, want)
	}
}

// TestParseCmdlineLimits checks each bound at its edge: the last value
// accepted and the first refused. A value past a bound must be a config
// FAIL, not a guest that runs with a setting nobody asked for (l2.timeout=0
// would fail every check at once, l2.bytes=0 would prove nothing).
func TestParseCmdlineLimits(t *testing.T) {
	peers := func(n int) string {
		s := make([]string, n)
		for i := range s {
			s[i] = netip.AddrFrom4([4]byte{10, 0, 0, byte(i + 2)}).String()
		}
		return strings.Join(s, ",")
	}
	tests := []struct {
		cmdline string
		ok      bool
	}{
		{"l2.count=1", true},
		{"l2.count=1000", true},
		{"l2.count=1001", false},
		{"l2.timeout=0", false},
		{"l2.timeout=1", true},
		{"l2.timeout=3600", true},
		{"l2.timeout=3601", false},
		{"l2.reply=3600", true},
		{"l2.reply=3601", false},
		{"l2.bytes=0", false},
		{"l2.bytes=1", true},
		{"l2.bytes=67108864", true},
		{"l2.bytes=67108865", false},
		{"l2.peer=" + peers(maxPeers), true},
		{"l2.peer=" + peers(maxPeers+1), false},
		{"l2.peer=fd00::2", false},
		// A peer twice would be waited for twice: gossip could never end.
		{"l2.peer=10.0.0.2,10.0.0.2", false},
		// Nor is a peer at the guest's own address ever heard.
		{"l2.ip=10.0.0.2/24 l2.peer=10.0.0.2", false},
		{"l2.peer=10.0.0.1", false}, // the default l2.ip
		{"l2.run=" + strings.Repeat("none,", maxChecks-1) + "none", true},
		{"l2.run=" + strings.Repeat("none,", maxChecks) + "none", false},
		{"l2.run=sleep0", true},
		{"l2.run=sleep3600", true},
		{"l2.run=sleep3601", false},
		{"l2.run=sleep-1", false},
		// N seconds that overflow time.Duration must not wrap into range.
		{"l2.run=sleep18446744074", false},
		{"l2.dev=" + strings.Repeat("e", 15), true}, // IFNAMSIZ less the NUL
		{"l2.dev=" + strings.Repeat("e", 16), false},
		{"l2.dev=", false},
		{"l2.exit=poweroff", true},
		{"l2.exit=reboot", true}, // the e2e reboot scenario
		{"l2.exit=shell", true},
	}
	for _, tt := range tests {
		_, err := ParseCmdline(tt.cmdline)
		if tt.ok && err != nil {
			t.Errorf("got ParseCmdline(%.60q) error %v, want nil", tt.cmdline, err)
		}
		if !tt.ok && !errors.Is(err, ErrConfig) {
			t.Errorf("got ParseCmdline(%.60q) error %v, want ErrConfig", tt.cmdline, err)
		}
	}
}

// TestLookupCheckSleepTimeout: sleepN runs under its own timeout, longer
// than N, so neither l2.timeout nor a race with its own deadline can fail it.
func TestLookupCheckSleepTimeout(t *testing.T) {
	for _, n := range []int{0, 1, 3600} {
		c, err := lookupCheck("sleep" + strconv.Itoa(n))
		if err != nil {
			t.Fatal(err)
		}
		if d := time.Duration(n) * time.Second; c.timeout <= d {
			t.Errorf("got sleep%d timeout %v, want more than %v", n, c.timeout, d)
		}
	}
}
