package main

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"l2hub/packet"
)

// The checks run here over the host's loopback, each "guest" on its own
// 127.0.0.x address (Linux routes all of 127/8 to lo), so the same code the
// guests run is exercised without QEMU.

// freeUDPPort returns a UDP port free on 127.0.0.1 a moment ago; the guests
// of one test bind it on different loopback addresses.
func freeUDPPort(t *testing.T) uint16 {
	t.Helper()
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return uint16(c.LocalAddr().(*net.UDPAddr).Port)
}

func freeTCPPort(t *testing.T) uint16 {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return uint16(l.Addr().(*net.TCPAddr).Port)
}

// loopGuests returns n envs at 127.0.0.1..n, each peering with all others,
// sharing ports p, with consoles in the returned buffers.
func loopGuests(n int, run []string, p ports) ([]*env, []*bytes.Buffer) {
	envs := make([]*env, n)
	outs := make([]*bytes.Buffer, n)
	for i := range n {
		self := netip.AddrFrom4([4]byte{127, 0, 0, byte(i + 1)})
		cfg := DefaultConfig()
		cfg.IP = netip.PrefixFrom(self, 8)
		cfg.Peers = nil
		for j := range n {
			if j != i {
				cfg.Peers = append(cfg.Peers, netip.AddrFrom4([4]byte{127, 0, 0, byte(j + 1)}))
			}
		}
		cfg.Role = string(rune('a' + i))
		cfg.Run = run
		cfg.Timeout = 20 * time.Second
		cfg.Bytes = 256 << 10
		outs[i] = &bytes.Buffer{}
		envs[i] = &env{cfg: cfg, self: self, bind: self, console: &console{w: outs[i]}, ports: p}
	}
	return envs, outs
}

// runAll runs f for every env at once and returns the results in order.
func runAll(envs []*env, f func(*env) (string, error)) ([]string, []error) {
	details := make([]string, len(envs))
	errs := make([]error, len(envs))
	var wg sync.WaitGroup
	for i, e := range envs {
		wg.Go(func() { details[i], errs[i] = f(e) })
	}
	wg.Wait()
	return details, errs
}

func TestSync(t *testing.T) {
	tests := []struct {
		name   string
		guests int
		// silent guests do not run the barrier at all.
		silent  int
		timeout time.Duration
		wantErr string
	}{
		{name: "two-guests", guests: 2, timeout: 10 * time.Second},
		{name: "three-guests", guests: 3, timeout: 10 * time.Second},
		{name: "peer-silent", guests: 2, silent: 1, timeout: 700 * time.Millisecond,
			wantErr: "not heard from [127.0.0.2]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			envs, _ := loopGuests(tt.guests, nil, ports{sync: freeUDPPort(t)})
			running := envs[:len(envs)-tt.silent]
			details, errs := runAll(running, func(e *env) (string, error) {
				ctx, cancel := context.WithTimeout(context.Background(), tt.timeout)
				defer cancel()
				return checkSync(ctx, e)
			})
			for i, err := range errs {
				if tt.wantErr != "" {
					if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
						t.Errorf("guest %d: got error %v, want one containing %q", i, err, tt.wantErr)
					}
					continue
				}
				if err != nil {
					t.Errorf("guest %d: got error %v, want nil", i, err)
					continue
				}
				if want := "peers=" + joinAddrs(envs[i].cfg.Peers); details[i] != want {
					t.Errorf("guest %d: got detail %q, want %q", i, details[i], want)
				}
			}
		})
	}
}

func TestParseGossip(t *testing.T) {
	tests := []struct {
		in      string
		wantAll bool
		wantOK  bool
	}{
		{"l2guest sync from=10.0.0.1 all=0", false, true},
		{"l2guest sync from=10.0.0.1 all=1", true, true},
		{"l2guest bcast from=10.0.0.1 all=1", false, false},
		{"l2guest sync from=10.0.0.1 all=2", false, false},
		{"l2guest sync to=10.0.0.1 all=1", false, false},
		{"l2guest sync from=nope all=1", false, false},
		{"l2guest sync from=10.0.0.1", false, false},
		{"", false, false},
	}
	for _, tt := range tests {
		_, all, ok := parseGossip([]byte(tt.in), "sync")
		if all != tt.wantAll || ok != tt.wantOK {
			t.Errorf("got parseGossip(%q) = all %v ok %v, want %v %v", tt.in, all, ok, tt.wantAll, tt.wantOK)
		}
	}
}

func TestTCP(t *testing.T) {
	envs, _ := loopGuests(2, nil, ports{tcp: freeTCPPort(t)})
	details, errs := runAll(envs, func(e *env) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return checkTCP(ctx, e)
	})
	for i, err := range errs {
		if err != nil {
			t.Fatalf("guest %d: got error %v, want nil", i, err)
		}
	}
	ha, hb := fieldOf(details[0], "sha256"), fieldOf(details[1], "sha256")
	if ha == "" || ha != hb {
		t.Errorf("got sha256 %q (echo) and %q (sender), want equal: %q, %q", ha, hb, details[0], details[1])
	}
	if got := fieldOf(details[0], "echoed"); got != "262144" {
		t.Errorf("got echoed=%s, want 262144", got)
	}
}

// TestTCPMismatch proves the transfer check fails when the echo is altered.
func TestTCPMismatch(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		b, _ := io.ReadAll(c)
		b[len(b)/2] ^= 1
		c.Write(b)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = tcpSend(ctx, netip.MustParseAddrPort(ln.Addr().String()), 4096)
	if err == nil || !strings.Contains(err.Error(), "echo mismatch") {
		t.Errorf("got tcpSend error %v, want echo mismatch", err)
	}
}

func TestUDP(t *testing.T) {
	envs, _ := loopGuests(2, nil, ports{udp: freeUDPPort(t)})
	details, errs := runAll(envs, func(e *env) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return checkUDP(ctx, e)
	})
	for i, err := range errs {
		if err != nil {
			t.Fatalf("guest %d: got error %v, want nil", i, err)
		}
	}
	if n, _ := strconv.Atoi(fieldOf(details[0], "echoed")); n < len(udpSizes) {
		t.Errorf("got echo side %q, want echoed >= %d", details[0], len(udpSizes))
	}
}

func TestPing(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("ICMP raw sockets need root")
	}
	envs, _ := loopGuests(2, nil, ports{})
	envs[0].cfg.Count = 2
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	detail, err := checkPing(ctx, envs[0])
	if err != nil {
		t.Fatalf("got checkPing error %v, want nil", err)
	}
	if !strings.HasPrefix(detail, "127.0.0.2 2/2 rtt=") {
		t.Errorf("got detail %q, want 127.0.0.2 2/2 rtt=…", detail)
	}
}

// TestRunChecks runs two agents end to end over loopback: their consoles
// must carry each marker and the verdict.
func TestRunChecks(t *testing.T) {
	envs, outs := loopGuests(2, []string{"tcp", "sleep0"}, ports{tcp: freeTCPPort(t), sync: freeUDPPort(t)})
	oks, _ := runAll(envs, func(e *env) (string, error) {
		if runChecks(context.Background(), e) {
			return "ok", nil
		}
		return "FAIL", nil
	})
	for i, out := range outs {
		got := out.String()
		for _, want := range []string{"GUEST: tcp ok ", "GUEST: sleep0 ok\n", "GUEST: sync ok peers=", "GUEST: done ok\n"} {
			if !strings.Contains(got, want) {
				t.Errorf("guest %d: got console %q, want it to contain %q", i, got, want)
			}
		}
		if oks[i] != "ok" {
			t.Errorf("guest %d: got runChecks = %s, want ok", i, oks[i])
		}
	}
}

// TestRunChecksFail: a failing check still prints its FAIL marker, lets the
// rest run, and the verdict is FAIL.
func TestRunChecksFail(t *testing.T) {
	envs, outs := loopGuests(1, []string{"tcp", "none"}, ports{})
	envs[0].cfg.Role = "node-b" // tcp refuses it
	envs[0].cfg.Sync = false
	if runChecks(context.Background(), envs[0]) {
		t.Error("got runChecks = true, want false")
	}
	want := "GUEST: tcp FAIL l2.role=node-b: tcp needs role a (echo) or b (send)\nGUEST: none ok\nGUEST: done FAIL\n"
	if got := outs[0].String(); got != want {
		t.Errorf("got console %q, want %q", got, want)
	}
}

func TestChecksum(t *testing.T) {
	// RFC 1071's example bytes, and an echo request whose checksum makes
	// the whole message sum to zero.
	if got, want := checksum([]byte{0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7}), uint16(^uint16(0xddf2)); got != want {
		t.Errorf("got checksum = %#04x, want %#04x", got, want)
	}
	msg := []byte{8, 0, 0, 0, 0x12, 0x34, 0, 1, 'x'}
	c := checksum(msg)
	msg[2], msg[3] = byte(c>>8), byte(c)
	if got := checksum(msg); got != 0 {
		t.Errorf("got checksum of a checksummed message = %#04x, want 0", got)
	}
}

// TestChecksumIsPackets: the guest's checksum is package packet's (which
// the guest does not link, see checksum), on messages of every length.
func TestChecksumIsPackets(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for n := range 200 {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		if got, want := checksum(b), packet.Checksum(b); got != want {
			t.Fatalf("got checksum(% x) = %#04x, want packet.Checksum's %#04x", b, got, want)
		}
	}
}

// fieldOf returns the value of key=value in a marker detail.
func fieldOf(s, key string) string {
	for _, f := range strings.Fields(s) {
		if v, ok := strings.CutPrefix(f, key+"="); ok {
			return v
		}
	}
	return ""
}

// FuzzParseGossip: gossip datagrams come from the network; any bytes give a
// verdict, never a panic, and an accepted one round-trips.
func FuzzParseGossip(f *testing.F) {
	for _, s := range []string{"l2guest sync from=10.0.0.1 all=1", "l2guest sync from=::1 all=0", "l2guest  sync", "\xff\x00"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		from, all, ok := parseGossip(b, "sync")
		if !ok {
			return
		}
		msg := "l2guest sync from=" + from.String() + " all=" + strconv.Itoa(b2i(all))
		from2, all2, ok2 := parseGossip([]byte(msg), "sync")
		if !ok2 || from2 != from || all2 != all {
			t.Fatalf("got parseGossip(%q) = %v %v %v, want %v %v true", msg, from2, all2, ok2, from, all)
		}
	})
}
