package main

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"
)

// fakeICMP is the raw ICMP socket of a pinger: it keeps what the pinger
// writes, and each read returns the next message reply makes of the last
// request written, or a timeout once reply has none left. It never sleeps.
type fakeICMP struct {
	net.PacketConn // nil: only the methods below are used
	sent           [][]byte
	deadlines      []time.Time
	// reply returns the messages (and their sources) the socket receives
	// after request.
	reply   func(request []byte) []fakeMsg
	pending []fakeMsg
}

type fakeMsg struct {
	from netip.Addr
	b    []byte
}

func (f *fakeICMP) WriteTo(b []byte, _ net.Addr) (int, error) {
	f.sent = append(f.sent, append([]byte(nil), b...))
	if f.reply != nil {
		f.pending = f.reply(b)
	}
	return len(b), nil
}

func (f *fakeICMP) ReadFrom(b []byte) (int, net.Addr, error) {
	if len(f.pending) == 0 {
		return 0, nil, os.ErrDeadlineExceeded
	}
	m := f.pending[0]
	f.pending = f.pending[1:]
	return copy(b, m.b), &net.IPAddr{IP: m.from.AsSlice()}, nil
}

func (f *fakeICMP) SetReadDeadline(t time.Time) error {
	f.deadlines = append(f.deadlines, t)
	return nil
}

func (f *fakeICMP) Close() error { return nil }

// TestEchoRequest: the request on the wire is an ICMP echo request with a
// valid checksum (loopback does not verify it; a real NIC's peer does), the
// pinger's id, a sequence number that advances, and the payload.
func TestEchoRequest(t *testing.T) {
	f := &fakeICMP{}
	p := &pinger{conn: f, id: 0x1234, buf: make([]byte, 1500)}
	dst := netip.MustParseAddr("10.0.0.2")
	for range 2 {
		if _, err := p.echo(context.Background(), dst, time.Second); !errors.Is(err, errNoReply) {
			t.Fatalf("got echo error %v with no reply, want errNoReply", err)
		}
	}
	for i, m := range f.sent {
		if len(m) != icmpHeaderLen+len(pingPayload) || m[0] != icmpEchoRequest || m[1] != 0 {
			t.Fatalf("request %d: got % x, want an echo request carrying the payload", i, m)
		}
		if c := checksum(m); c != 0 {
			t.Errorf("request %d: got checksum over the message %#04x, want 0 (a valid checksum)", i, c)
		}
		if id, seq := binary.BigEndian.Uint16(m[4:]), binary.BigEndian.Uint16(m[6:]); id != 0x1234 || seq != uint16(i+1) {
			t.Errorf("request %d: got id %#x seq %d, want id 0x1234 seq %d", i, id, seq, i+1)
		}
		if got := string(m[icmpHeaderLen:]); got != pingPayload {
			t.Errorf("request %d: got payload %q, want %q", i, got, pingPayload)
		}
	}
}

// TestEchoMatchesReply: only the echo reply to this request counts. The
// twin guest runs the same agent, so its own echo request to us can carry
// our id, sequence number and payload; only its type tells it apart.
func TestEchoMatchesReply(t *testing.T) {
	dst := netip.MustParseAddr("10.0.0.2")
	reply := func(req []byte) []byte {
		b := append([]byte(nil), req...)
		b[0] = icmpEchoReply
		return b
	}
	tests := []struct {
		name string
		from netip.Addr
		msg  func(req []byte) []byte
		ok   bool
	}{
		{"reply", dst, reply, true},
		{"request-from-peer", dst, func(req []byte) []byte { return append([]byte(nil), req...) }, false},
		{"other-id", dst, func(req []byte) []byte { b := reply(req); b[4] ^= 0xff; return b }, false},
		{"other-seq", dst, func(req []byte) []byte { b := reply(req); b[7]++; return b }, false},
		{"other-payload", dst, func(req []byte) []byte { b := reply(req); b[len(b)-1] ^= 1; return b }, false},
		{"truncated-payload", dst, func(req []byte) []byte { return reply(req)[:icmpHeaderLen+4] }, false},
		{"other-source", netip.MustParseAddr("10.0.0.3"), reply, false},
		{"short", dst, func(req []byte) []byte { return reply(req)[:4] }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeICMP{reply: func(req []byte) []fakeMsg { return []fakeMsg{{tt.from, tt.msg(req)}} }}
			p := &pinger{conn: f, id: 0x1234, buf: make([]byte, 1500)}
			_, err := p.echo(context.Background(), dst, time.Second)
			if tt.ok && err != nil {
				t.Errorf("got echo error %v, want the reply counted", err)
			}
			if !tt.ok && !errors.Is(err, errNoReply) {
				t.Errorf("got echo error %v, want errNoReply (the message is not our reply)", err)
			}
		})
	}
}

// TestEchoWaitsNoLongerThanCtx: an echo waits for its reply until wait or
// the check's deadline, whichever comes first, so a check ends at its
// l2.timeout.
func TestEchoWaitsNoLongerThanCtx(t *testing.T) {
	f := &fakeICMP{}
	p := &pinger{conn: f, id: 1, buf: make([]byte, 1500)}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p.echo(ctx, netip.MustParseAddr("10.0.0.2"), time.Hour)
	end, _ := ctx.Deadline()
	if len(f.deadlines) == 0 || f.deadlines[0].After(end) {
		t.Errorf("got read deadlines %v, want none after the check's deadline %v", f.deadlines, end)
	}
}

// TestFirstReplyGivesUp: a peer that never answers ends the ping check with
// its FAIL marker at the check's deadline, not in an endless retry.
func TestFirstReplyGivesUp(t *testing.T) {
	p := &pinger{conn: &fakeICMP{}, id: 1, buf: make([]byte, 1500)}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := p.firstReply(ctx, netip.MustParseAddr("10.0.0.2"))
	if err == nil || !strings.Contains(err.Error(), "no reply from 10.0.0.2") || !errors.Is(err, context.Canceled) {
		t.Errorf("got firstReply error %v, want no reply from 10.0.0.2 and the context's error", err)
	}
}

func TestRTTStats(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		rtts []time.Duration
		want string
	}{
		{[]time.Duration{ms}, "1.00/1.00/1.00ms"},
		{[]time.Duration{3 * ms, ms, 2 * ms}, "1.00/2.00/3.00ms"},
		{[]time.Duration{610 * time.Microsecond, 1020 * time.Microsecond, 890 * time.Microsecond}, "0.61/0.84/1.02ms"},
	}
	for _, tt := range tests {
		if got := rttStats(tt.rtts); got != tt.want {
			t.Errorf("got rttStats(%v) = %q, want %q", tt.rtts, got, tt.want)
		}
	}
}
