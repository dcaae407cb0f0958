package main

import (
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseCmdline(t *testing.T) {
	def := DefaultConfig()
	with := func(f func(c *Config)) Config {
		c := DefaultConfig()
		f(&c)
		return c
	}
	tests := []struct {
		name    string
		cmdline string
		want    Config
		wantErr string // substring; "" for success
	}{
		{"empty", "", def, ""},
		{"kernel-words-ignored", "console=ttyS0 panic=-1 quiet l2 l2x=1 BOOT_IMAGE=/vmlinuz", def, ""},
		{"full", "console=ttyS0 l2.ip=10.42.0.10/24 l2.mac=52:54:00:12:34:0a l2.peer=10.42.0.11,10.42.0.12 " +
			"l2.role=node-a l2.run=ping,tcp,sleep3 l2.count=5 l2.timeout=30 l2.bytes=4096 l2.sync=0 " +
			"l2.dev=eth1 l2.ipv6=1 l2.exit=shell\n",
			with(func(c *Config) {
				c.IP = netip.MustParsePrefix("10.42.0.10/24")
				c.MAC = []byte{0x52, 0x54, 0, 0x12, 0x34, 0x0a}
				c.Peers = []netip.Addr{netip.MustParseAddr("10.42.0.11"), netip.MustParseAddr("10.42.0.12")}
				c.Role, c.Run, c.Count = "node-a", []string{"ping", "tcp", "sleep3"}, 5
				c.Timeout, c.Bytes, c.Sync = 30*time.Second, 4096, false
				c.Dev, c.IPv6, c.Exit = "eth1", true, "shell"
			}), ""},
		{"no-peers", "l2.peer=none", with(func(c *Config) { c.Peers = nil }), ""},
		{"last-wins", "l2.role=a l2.role=b", with(func(c *Config) { c.Role = "b" }), ""},
		{"unknown-key", "l2.pear=10.0.0.2", def, "l2.pear: unknown setting"},
		{"no-value", "l2.ip", def, `"l2.ip" has no value`},
		{"bad-ip", "l2.ip=10.0.0.300/24", def, "l2.ip:"},
		{"ip-without-prefix", "l2.ip=10.0.0.1", def, "l2.ip:"},
		{"ipv6-ip", "l2.ip=fd00::1/64", def, "is not IPv4"},
		{"bad-mac", "l2.mac=52:54:00", def, "l2.mac:"},
		{"long-mac", "l2.mac=00:00:00:00:fe:80:00:00:00:00:00:00:02:00:5e:10:00:00:00:01", def, "not a 6-byte MAC"},
		{"bad-peer", "l2.peer=10.0.0.2,x", def, "l2.peer:"},
		{"too-many-peers", "l2.peer=" + strings.Repeat("10.0.0.2,", maxPeers) + "10.0.0.3", def, "at most 16"},
		{"bad-role", "l2.role=c", def, "l2.role:"},
		{"unknown-check", "l2.run=ping,pong", def, `unknown check "pong"`},
		{"bad-sleep", "l2.run=sleepy", def, `want sleepN`},
		{"huge-sleep", "l2.run=sleep999999", def, `want sleepN`},
		// A nexus role alone puts the node at nexus-wire.md §1's address.
		{"nexus-b", "l2.run=nexus l2.role=node-b", with(func(c *Config) {
			c.Run, c.Role = []string{"nexus"}, "node-b"
			c.IP, c.Peers = netip.MustParsePrefix("10.42.0.11/24"), []netip.Addr{netip.MustParseAddr("10.42.0.10")}
		}), ""},
		{"nexus-a", "l2.role=node-a", with(func(c *Config) {
			c.Role = "node-a"
			c.IP, c.Peers = netip.MustParsePrefix("10.42.0.10/24"), []netip.Addr{netip.MustParseAddr("10.42.0.11")}
		}), ""},
		// ... and so does l2.run=nexus with the default role (a) or b.
		{"nexus-run-only", "l2.run=nexus", with(func(c *Config) {
			c.Run = []string{"nexus"}
			c.IP, c.Peers = netip.MustParsePrefix("10.42.0.10/24"), []netip.Addr{netip.MustParseAddr("10.42.0.11")}
		}), ""},
		{"nexus-run-role-b", "l2.run=ping,nexus l2.role=b", with(func(c *Config) {
			c.Run, c.Role = []string{"ping", "nexus"}, "b"
			c.IP, c.Peers = netip.MustParsePrefix("10.42.0.11/24"), []netip.Addr{netip.MustParseAddr("10.42.0.10")}
		}), ""},
		{"tcp-role-b", "l2.run=tcp l2.role=b", with(func(c *Config) { c.Run, c.Role = []string{"tcp"}, "b" }), ""},
		{"nexus-given", "l2.peer=10.42.0.12 l2.role=node-a l2.ip=10.42.0.10/16", with(func(c *Config) {
			c.Role = "node-a"
			c.IP, c.Peers = netip.MustParsePrefix("10.42.0.10/16"), []netip.Addr{netip.MustParseAddr("10.42.0.12")}
		}), ""},
		{"nexus-ip-only", "l2.role=node-b l2.ip=10.42.0.23/24", with(func(c *Config) {
			c.Role = "node-b"
			c.IP, c.Peers = netip.MustParsePrefix("10.42.0.23/24"), []netip.Addr{netip.MustParseAddr("10.42.0.10")}
		}), ""},
		{"count-zero", "l2.count=0", def, "outside [1,1000]"},
		{"bytes-huge", "l2.bytes=1000000000", def, "outside"},
		{"timeout-text", "l2.timeout=soon", def, "not a number"},
		{"reply", "l2.reply=15", with(func(c *Config) { c.Reply = 15 * time.Second }), ""},
		{"reply-zero", "l2.reply=0", def, "outside"},
		{"bad-bool", "l2.sync=maybe", def, "not 0 or 1"},
		{"bad-dev", "l2.dev=a/b", def, "not an interface name"},
		{"bad-exit", "l2.exit=halt", def, "l2.exit:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseCmdline(tt.cmdline)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrConfig) {
					t.Fatalf("got ParseCmdline(%q) error %v, want ErrConfig containing %q", tt.cmdline, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("got ParseCmdline(%q) error %v, want nil", tt.cmdline, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got ParseCmdline(%q) =\n%+v\nwant\n%+v", tt.cmdline, got, tt.want)
			}
		})
	}
}

// FuzzParseCmdline: any command line gives a config within bounds or an
// ErrConfig, never a panic.
func FuzzParseCmdline(f *testing.F) {
	for _, s := range []string{
		"", "console=ttyS0 l2.ip=10.0.0.1/24 l2.peer=10.0.0.2 l2.run=ping,tcp",
		"l2.run=sleep5,none l2.count=1000 l2.timeout=3600", "l2.mac=52:54:00:12:34:0a l2.exit=reboot",
		"l2.peer=,", "l2.run=", "l2.=", "l2.ip=0.0.0.0/0 l2.dev=x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCmdline(s)
		if err != nil {
			if !errors.Is(err, ErrConfig) {
				t.Fatalf("got error %v, want ErrConfig", err)
			}
			return
		}
		if len(c.Peers) > maxPeers || len(c.Run) > maxChecks || c.Count < 1 || c.Count > maxCount ||
			c.Bytes < 1 || c.Bytes > maxBytes || c.Timeout <= 0 || c.Timeout > maxTimeout || !c.IP.Addr().Is4() {
			t.Fatalf("got config out of bounds: %+v", c)
		}
		for _, r := range c.Run {
			if _, err := lookupCheck(r); err != nil {
				t.Fatalf("accepted check %q that lookupCheck refuses: %v", r, err)
			}
		}
		_ = fmt.Sprint(c)
	})
}
