package conformance

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
)

// The probes that play node-a: each takes node-b's one connection (§6.2,
// Probe.ConsumesSlot) and sends what node-b must refuse (a low-order msg1)
// or skip and survive (a tampered or truncated record, a denied service,
// an oversized request), then judges node-b by what it sends back: no
// msg2, or its answer to a genuine request.

func probeWrongMsg1(ctx context.Context, n *Node, udp net.PacketConn, wg *sync.WaitGroup) (outcome, error) {
	announce, _ := n.role.Announce().MarshalBinary()
	n.startAnnouncing(ctx, udp, wg, every(announce))
	if err := n.waitDiscovery(ctx); err != nil {
		return outcome{}, err
	}
	var c net.Conn
	for {
		var err error
		if c, _, err = n.dial(ctx); err == nil {
			break
		}
		if err := n.wait(ctx, n.cfg.RetryInterval); err != nil {
			return outcome{}, err
		}
	}
	defer c.Close()
	lowOrder := make([]byte, NexusMsg1Len) // the all-zero point: every DH with it is zero
	if err := n.write(ctx, c, lowOrder); err != nil {
		return lost(ctx, err, "node-b took the connection but not msg1: %v", err)
	}
	got, hungUp, err := n.watch(ctx, c, NexusMsg2Len)
	switch {
	case err != nil:
		return outcome{}, err
	case got != nil:
		return failed("node-b answered a low-order msg1 with msg2 %x…", got[:4]), nil
	case hungUp != nil: // the OS closes the connection of a failed handshake
		return passed("node-b sent no msg2 for a low-order msg1 and closed the connection"), nil
	}
	return passed("node-b sent no msg2 for a low-order msg1"), nil
}

func resolveRequest() ProxyRequest { return BringUpRequests()[0] }

func probeTamperedRecord(ctx context.Context, n *Node, udp net.PacketConn, wg *sync.WaitGroup) (outcome, error) {
	s, err := n.establishA(ctx, udp, wg)
	if err != nil {
		return lost(ctx, err, "no session with node-b: %v", err)
	}
	defer s.conn.Close()
	req := resolveRequest()
	at := s.send.Nonce()
	rec, err := s.send.SealRecord(nil, RequestRecord, req.Service, req.Payload)
	if err != nil {
		return outcome{}, err
	}
	rec[10] ^= 0x01
	if err := n.write(ctx, s.conn, rec); err != nil {
		return lost(ctx, err, "node-b ended the session before it took the tampered record: %v", err)
	}
	s.send.SetNonce(at) // the tampering happened in transit: resend at the same nonce
	rsp, err := n.request(ctx, s, req)
	switch {
	case stoppedBy(ctx, err):
		return outcome{}, err
	case errors.Is(err, ErrTimeout):
		return failed("no reply to the genuine request at n=%d: node-b advanced its nonce on a bad tag, or stopped", at), nil
	case ended(err):
		return failed("node-b ended the session on the tampered record (%v): it must skip it silently and stay (§5.1)", err), nil
	case err != nil:
		return failed("reply at n=%d: %v", at, err), nil
	}
	return passed("node-b skipped the tampered record and answered the genuine one at n=%d with status %d", at, rsp.Kind), nil
}

// probeTruncatedRecord cuts a record short and judges whether node-b, whose
// records are fixed-size and unframed, skips what then fails and still
// serves: it sends 137 bytes of a record and the whole record again, which
// node-b reads as one record that fails (137 + 138 bytes) with 137 bytes
// left over; 138 bytes of filler complete those into a second record that
// fails; the stream is then aligned again, and the genuine request at the
// same nonce must be answered. Silence alone would prove nothing: a node-b
// that hung, or advanced its nonce on a bad tag, is silent too.
func probeTruncatedRecord(ctx context.Context, n *Node, udp net.PacketConn, wg *sync.WaitGroup) (outcome, error) {
	s, err := n.establishA(ctx, udp, wg)
	if err != nil {
		return lost(ctx, err, "no session with node-b: %v", err)
	}
	defer s.conn.Close()
	req := resolveRequest()
	at := s.send.Nonce()
	rec, err := s.send.SealRecord(nil, RequestRecord, req.Service, req.Payload)
	if err != nil {
		return outcome{}, err
	}
	const cut = 137
	filler := make([]byte, len(rec)-cut) // with the cut bytes of rec node-b holds, a second record
	if err := n.write(ctx, s.conn, rec[:cut]); err != nil {
		return lost(ctx, err, "node-b ended the session before it took %d bytes of a record: %v", cut, err)
	}
	if err := n.write(ctx, s.conn, rec); err != nil { // the whole record again, same nonce
		return lost(ctx, err, "node-b ended the session on %d bytes of a record, before it took the whole record again: %v", cut, err)
	}
	if err := n.write(ctx, s.conn, filler); err != nil {
		return lost(ctx, err, "node-b took no more after %d + %d bytes at n=%d, not the %d bytes of filler that realign the stream: %v", cut, len(rec), at, len(filler), err)
	}
	s.send.SetNonce(at)
	rsp, err := n.request(ctx, s, req)
	switch {
	case stoppedBy(ctx, err):
		return outcome{}, err
	case errors.Is(err, ErrTimeout):
		return failed("no reply to the genuine request at n=%d after two records that failed (%d + %d bytes, then %d of filler): node-b stopped serving, or advanced its nonce on a bad tag", at, cut, len(rec), len(filler)), nil
	case ended(err):
		return failed("node-b ended the session (%v) after %d + %d bytes at n=%d: it must skip the records that fail and stay in its proxy loop (§5.1)", err, cut, len(rec), at), nil
	case err != nil:
		return failed("node-b's first reply after the records that failed is not the genuine request's at n=%d (%v): it answered a record that failed, or the request wrongly", at, err), nil
	}
	return passed("node-b skipped both records that failed (%d + %d bytes, then %d of filler) and, realigned, answered the genuine request at n=%d with status %d", cut, len(rec), len(filler), at, rsp.Kind), nil
}

func probeDisallowedService(ctx context.Context, n *Node, udp net.PacketConn, wg *sync.WaitGroup) (outcome, error) {
	s, err := n.establishA(ctx, udp, wg)
	if err != nil {
		return lost(ctx, err, "no session with node-b: %v", err)
	}
	defer s.conn.Close()
	denied := []ProxyRequest{
		{Service: 9}, // nexus.neg01 at n = 3
		{Service: ServiceSamgr, Payload: []byte("SX\x01\x06\x01a")}, // fails the SM gate
	}
	var notes []string
	for _, req := range denied {
		if err := n.writeRecord(ctx, s, RequestRecord, req.Service, req.Payload); err != nil {
			return lost(ctx, err, "service %d: node-b ended the session before it took the request: %v", req.Service, err)
		}
		rsp, err := n.readRecord(ctx, s, ResponseRecord, n.cfg.ReplyTimeout)
		switch {
		case stoppedBy(ctx, err):
			return outcome{}, err
		case ended(err):
			return failed("service %d: node-b ended the session instead of denying the request (%v)", req.Service, err), nil
		case err != nil:
			return failed("service %d: no deny response: %v", req.Service, err), nil
		case rsp.Kind != ProxyStatusFail || len(rsp.Payload) != 0:
			return failed("service %d: status %d with %d bytes, want status 1 and none", req.Service, rsp.Kind, len(rsp.Payload)), nil
		}
		notes = append(notes, fmt.Sprintf("svc %d denied", req.Service))
	}
	if _, err := n.request(ctx, s, resolveRequest()); err != nil {
		return lost(ctx, err, "%s, then the genuine resolve failed: %v", strings.Join(notes, ", "), err)
	}
	return passed("%s, then the genuine resolve succeeded", strings.Join(notes, ", ")), nil
}

func probeOversizedRequest(ctx context.Context, n *Node, udp net.PacketConn, wg *sync.WaitGroup) (outcome, error) {
	s, err := n.establishA(ctx, udp, wg)
	if err != nil {
		return lost(ctx, err, "no session with node-b: %v", err)
	}
	defer s.conn.Close()
	at := s.send.Nonce()
	lying := appendRecordPlain(nil, RequestRecord, ServiceSamgr, MaxRequestPayload+44, nil)
	if err := n.write(ctx, s.conn, s.send.Seal(nil, lying)); err != nil {
		return lost(ctx, err, "node-b ended the session before it took the oversized request: %v", err)
	}
	rsp, err := n.request(ctx, s, resolveRequest())
	switch {
	case stoppedBy(ctx, err):
		return outcome{}, err
	case errors.Is(err, ErrProxy) && rsp.Kind == ProxyStatusFail:
		return failed("node-b answered the oversized request (status 1)"), nil
	case ended(err):
		return failed("node-b ended the session on the oversized request (%v): it must drop it and serve on", err), nil
	case err != nil:
		return failed("no valid reply to the request after the oversized one: %v", err), nil
	}
	return passed("node-b dropped the oversized request at n=%d and answered the next (n=%d) at its send nonce %d", at, at+1, at), nil
}
