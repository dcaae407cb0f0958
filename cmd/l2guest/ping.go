package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync/atomic"
	"time"

	gchecksum "gvisor.dev/gvisor/pkg/tcpip/checksum"
)

// ICMP echo over a raw socket (the guest runs as root). Go's "ip4:icmp"
// conn strips the IPv4 header on read, so buffers hold the ICMP message.
const (
	icmpEchoReply   = 0
	icmpEchoRequest = 8
	icmpHeaderLen   = 8
	pingPayload     = "l2guest-ping-0123456789abcdef" // 29 bytes, like a short ping
)

var pingIDs atomic.Uint32

// pinger sends ICMP echo requests and matches their replies by peer, id and
// sequence number.
type pinger struct {
	conn net.PacketConn
	id   uint16
	seq  uint16
	buf  []byte
}

func newPinger(bind netip.Addr) (*pinger, error) {
	conn, err := net.ListenPacket("ip4:icmp", bind.String())
	if err != nil {
		return nil, fmt.Errorf("icmp socket: %w", err)
	}
	id := uint16(os.Getpid()) ^ uint16(pingIDs.Add(1)<<8)
	return &pinger{conn: conn, id: id, buf: make([]byte, 1500)}, nil
}

func (p *pinger) Close() error { return p.conn.Close() }

// errNoReply is an echo that got no answer in time.
var errNoReply = errors.New("no echo reply")

// echo sends one request to dst and waits up to wait for its reply.
func (p *pinger) echo(ctx context.Context, dst netip.Addr, wait time.Duration) (time.Duration, error) {
	p.seq++
	msg := make([]byte, icmpHeaderLen+len(pingPayload))
	msg[0] = icmpEchoRequest
	binary.BigEndian.PutUint16(msg[4:], p.id)
	binary.BigEndian.PutUint16(msg[6:], p.seq)
	copy(msg[icmpHeaderLen:], pingPayload)
	binary.BigEndian.PutUint16(msg[2:], checksum(msg))

	until := time.Now().Add(wait)
	if d := deadline(ctx); d.Before(until) {
		until = d
	}
	start := time.Now()
	if _, err := p.conn.WriteTo(msg, &net.IPAddr{IP: dst.AsSlice()}); err != nil {
		// Typically EHOSTUNREACH after ARP gave up: count it as no reply.
		time.Sleep(time.Until(until))
		return 0, fmt.Errorf("%w: %v", errNoReply, err)
	}
	for {
		p.conn.SetReadDeadline(until)
		n, from, err := p.conn.ReadFrom(p.buf)
		if err != nil {
			return 0, errNoReply
		}
		src, ok := from.(*net.IPAddr)
		if !ok || !src.IP.Equal(dst.AsSlice()) || n < icmpHeaderLen {
			continue
		}
		b := p.buf[:n]
		if b[0] == icmpEchoReply && binary.BigEndian.Uint16(b[4:]) == p.id &&
			binary.BigEndian.Uint16(b[6:]) == p.seq && string(b[icmpHeaderLen:]) == pingPayload {
			return time.Since(start), nil
		}
	}
}

// firstReply pings dst once a second until it answers: the peer may still be
// booting, and the first request also waits for ARP.
func (p *pinger) firstReply(ctx context.Context, dst netip.Addr) error {
	for {
		_, err := p.echo(ctx, dst, time.Second)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("no reply from %s: %w", dst, ctx.Err())
		}
	}
}

// checksum is the Internet checksum (RFC 1071) of b, as packet.Checksum
// computes it (TestChecksumIsPackets): with gVisor's checksum package,
// which the guest links alone. Importing package packet would bring its
// header parser and the rest of gVisor's tcpip along, 22 packages and half
// a megabyte (13%) of the static guest binary, for this one function: the
// guest reads bare ICMP messages (the raw socket strips the IPv4 header),
// not the Ethernet frames packet.Parse reads.
func checksum(b []byte) uint16 { return ^gchecksum.Checksum(b, 0) }

// checkPing waits for each peer's first reply, then sends l2.count echoes
// 200 ms apart and wants every one answered.
func checkPing(ctx context.Context, e *env) (string, error) {
	if len(e.cfg.Peers) == 0 {
		return "", errors.New("no peers (l2.peer=)")
	}
	p, err := newPinger(e.bind)
	if err != nil {
		return "", err
	}
	defer p.Close()
	var details []string
	for _, peer := range e.cfg.Peers {
		if err := p.firstReply(ctx, peer); err != nil {
			return "", err
		}
		var rtts []time.Duration
		for i := range e.cfg.Count {
			if i > 0 {
				// Past the deadline every echo fails at once; waiting
				// out the remaining intervals would only delay the
				// FAIL marker by up to Count × 200 ms.
				select {
				case <-ctx.Done():
				case <-time.After(200 * time.Millisecond):
				}
			}
			if ctx.Err() != nil {
				break
			}
			rtt, err := p.echo(ctx, peer, 2*time.Second)
			if err == nil {
				rtts = append(rtts, rtt)
			}
		}
		if len(rtts) != e.cfg.Count {
			return "", fmt.Errorf("%s %d/%d replies", peer, len(rtts), e.cfg.Count)
		}
		details = append(details, fmt.Sprintf("%s %d/%d rtt=%s", peer, len(rtts), e.cfg.Count, rttStats(rtts)))
	}
	return strings.Join(details, " "), nil
}

// rttStats formats min/avg/max in milliseconds, as ping(8) does.
func rttStats(rtts []time.Duration) string {
	lo, hi, sum := rtts[0], rtts[0], time.Duration(0)
	for _, r := range rtts {
		lo, hi, sum = min(lo, r), max(hi, r), sum+r
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	return fmt.Sprintf("%.2f/%.2f/%.2fms", ms(lo), ms(sum/time.Duration(len(rtts))), ms(hi))
}

// Resume: how often to ping and how many misses in a row mean the path is
// down (5 × 200 ms: a hub restart is much longer, a lost frame much shorter).
const (
	resumeEvery  = 200 * time.Millisecond
	resumeMisses = 5
)

// checkResume watches the path to the first peer go down and come back, for
// the resilience scenarios: it prints "resume watching" once the peer
// answers (the host may now break the path), "resume lost" after
// resumeMisses misses in a row, and succeeds on the first reply after that.
func checkResume(ctx context.Context, e *env) (string, error) {
	if len(e.cfg.Peers) == 0 {
		return "", errors.New("no peers (l2.peer=)")
	}
	peer := e.cfg.Peers[0]
	p, err := newPinger(e.bind)
	if err != nil {
		return "", err
	}
	defer p.Close()
	if err := p.firstReply(ctx, peer); err != nil {
		return "", err
	}
	e.mark("%s", resumeWatchingMarker(peer))
	var misses, replies int
	var lostAt time.Time
	for {
		next := time.Now().Add(resumeEvery)
		_, err := p.echo(ctx, peer, resumeEvery)
		switch {
		case err == nil && !lostAt.IsZero():
			return fmt.Sprintf("peer=%s outage=%.1fs", peer, time.Since(lostAt).Seconds()), nil
		case err == nil:
			replies++
			misses = 0
		default:
			misses++
			if misses == resumeMisses && lostAt.IsZero() {
				lostAt = time.Now().Add(-resumeMisses * resumeEvery)
				e.mark("%s", resumeLostMarker(peer, replies))
			}
		}
		if ctx.Err() != nil {
			if lostAt.IsZero() {
				return "", fmt.Errorf("path to %s never went down (%d replies)", peer, replies)
			}
			return "", fmt.Errorf("%s did not come back in %.0fs", peer, time.Since(lostAt).Seconds())
		}
		time.Sleep(time.Until(next))
	}
}
