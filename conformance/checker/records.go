package checker

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"l2hub/conformance"
)

// Records: after the handshake, each nexus-v1 record (or noise-xk transport
// message) is opened with the transport keys, following each receiver's
// nonce as §5.1 defines it (SESS-006, MUX-003), and judged: its size
// (MUX-001), its padding (MUX-004), the mux ladder (MUX-002), and the
// proxy's requests and responses, each response matched to the prediction
// its request made (PROXY-001..003). Records that complete before the keys
// exist wait (await) until the handshake is judged.

type prediction struct {
	index  int
	action conformance.GateAction
	svc    byte
	why    string
	frames []int
	notBN  bool // a svc-2 request that is not a BN LIST (NX-15)
	// o.rx false: node-b cannot decrypt the request, so it skips it
	// without a reply (§5.1).
	o opened
}

// await keeps a record that completed before the keys exist.
func (s *session) await(side int, wire []byte, frames []int) bool {
	if s.cipher[side] != nil || s.noKeys || s.hsFailed {
		return false
	}
	if len(s.awaiting[side]) < maxAwaitingKeys {
		s.awaiting[side] = append(s.awaiting[side], bytes.Clone(wire))
		s.awaitFr[side] = append(s.awaitFr[side], append([]int(nil), frames...))
	}
	return true
}

// opened is where a record decrypted: at nonce at, and whether its
// receiver could decrypt it (rx) at its receive nonce rxAt. In nexus-v1
// each receiver's nonce is modelled as §5.1 defines it; for noise-xk the
// receiver is assumed to follow the sender.
type opened struct {
	at, rxAt uint64
	rx       bool
}

// open decrypts the next record or transport message of side. For
// nexus-v1 records it tries the receiver's nonce first (s.rx[side]: the
// count of side's records the peer could decrypt in order, §5.1: n
// advances only on success, and a record with a bad tag is skipped or
// fails the ladder). Failing that it follows the sender's counter a few
// nonces ahead, so that the conversation can still be read after a nonce
// missing from the stream; a record found that way is one the receiver
// could not decrypt.
func (s *session) open(side, k int, wire []byte, frames []int) ([]byte, opened, bool) {
	a := s.c.agg
	c := s.cipher[side]
	name := s.plan(side, k+2-side).name
	keyName := "k_i2r"
	if side == 1 {
		keyName = "k_r2i"
	}
	who := s.by(side, frames...)
	n := c.Nonce()
	model := s.nexus()
	rxN := n
	if model {
		rxN = s.rx[side]
	}
	var plain []byte
	var err error
	if rxN == n {
		plain, err = c.Open(s.plain[:0], wire)
	} else {
		// The checker followed the sender past a nonce the receiver is
		// still at: a record at that nonce, arriving now, is one the
		// receiver decrypts.
		plain, err = conformance.OpenRecordAt(s.plain[:0], s.keys[side], rxN, wire)
	}
	o := opened{at: rxN, rxAt: rxN, rx: err == nil}
	if err != nil {
		first, skip := uint64(1), uint64(maxNonceSkip)
		if rxN != n {
			first = 0
		}
		if s.given[side] {
			skip = 0 // only the checker's counter itself
		}
		for d := first; d <= skip; d++ {
			p, err2 := conformance.OpenRecordAt(s.plain[:0], s.keys[side], n+d, wire)
			if err2 != nil {
				continue
			}
			c.SetNonce(n + d + 1)
			plain, err, o.at = p, nil, n+d
			if model {
				a.add(Warn, MUX003, "skip "+s.conn.subject+fmt.Sprint(side), frames, "%s's %s decrypts at n=%d, but %s's receive nonce is %d: %s cannot decrypt it (§5.1); the checker follows %s's counter from here", who, name, n+d, s.from[1-side], rxN, s.from[1-side], who)
			} else {
				o.rx = true // the receiver is assumed to resync with the sender
				a.add(Warn, MUX003, "skip "+s.conn.subject+fmt.Sprint(side), frames, "%s's %s decrypts at n=%d, not the expected %d: %d nonces skipped (a retried step?)", who, name, n+d, n, d)
			}
			break
		}
	} else if model {
		s.rx[side]++
	}
	s.plain = plain[:0]
	if err != nil {
		s.bad[side]++
		if k == 0 {
			a.add(Fail, SESS006, s.conn.subject+fmt.Sprint(side), frames, "the first message from %s does not decrypt with %s at n=0: the transport keys do not follow from the handshake", who, keyName)
		}
		id := MUX003
		if !s.nexus() {
			id = SESS006
		}
		a.add(Fail, id, s.conn.subject+fmt.Sprint(side), frames, "%s's %s does not authenticate with %s at n=%d..%d: tampered, misaligned or the wrong key", who, name, keyName, min(rxN, n), n+maxNonceSkip)
		if s.bad[side] == maxBadRecords {
			s.given[side] = true
			a.add(Warn, MUX003, "given "+s.conn.subject+fmt.Sprint(side), frames, "%d messages in a row from %s fail to authenticate: the checker stops looking past n=%d for that direction's next message and tries each only at %s's receive nonce and that counter, since a message that fails does not advance the nonce (§5.1)", maxBadRecords, who, n, s.from[1-side])
		}
		return nil, o, false
	}
	if s.given[side] {
		s.given[side] = false
		a.add(Info, MUX003, "resumed "+s.conn.subject+fmt.Sprint(side), frames, "%s's %s authenticates at n=%d after %d messages that did not: the checker reads that direction again", who, name, o.at, s.bad[side])
	}
	s.bad[side] = 0
	if k == 0 && o.at != 0 {
		a.add(Fail, SESS006, s.conn.subject+fmt.Sprint(side), frames, "the first message from %s decrypts with %s at n=%d, not 0: n starts at 0 (§5.1)", who, keyName, o.at)
	} else if k == 0 {
		s.firstOK[side] = true
		if s.firstOK[0] && s.firstOK[1] {
			a.pass(SESS006, frames...)
		}
	}
	return plain, o, true
}

// record judges one nexus-v1 record.
func (s *session) record(side, k int, wire []byte, frames []int) {
	a := s.c.agg
	s.records[side] = k + 1
	size := conformance.RequestRecordLen
	if side == 1 && k >= 3 {
		size = conformance.ResponseRecordLen
	}
	if len(wire) != size {
		receiver := s.from[1-side]
		a.add(Fail, MUX001, s.conn.subject, frames, "%s's %s is %d bytes, nexus-v1 records are exactly %d: %s reads %d-byte records, so its stream is misaligned from here (§5.1); the checker reads on record by record", s.by(side, frames...), s.plan(side, k+2-side).name, len(wire), size, receiver, size)
	} else {
		a.pass(MUX001, frames...)
	}
	if s.await(side, wire, frames) || s.cipher[side] == nil {
		return
	}
	plain, o, ok := s.open(side, k, wire, frames)
	if !ok {
		if k < 3 {
			s.ladderBad = true
		}
		return
	}
	if len(wire) != size {
		// Its content is not judged: the receiver never reads it as sent.
		if side == 0 {
			s.requests++
		} else if s.responses++; len(s.preds) > 0 {
			s.preds = s.preds[1:] // the request it answers
		}
		return
	}
	if o.rx {
		a.pass(MUX003, frames...)
	}
	s.padding(side, k, plain, frames)
	if k < 3 {
		if !o.rx {
			s.ladderBad = true
			a.add(Fail, MUX002, s.conn.subject, frames, "%s's ladder step %d is sealed at n=%d, but %s's receive nonce is %d: %s cannot decrypt it, so its ladder fails there and dsoftbusd stops (§5.1, §5.2)", s.by(side, frames...), ladderSteps[2*k+side].Step, o.at, s.from[1-side], o.rxAt, s.from[1-side])
			return
		}
		s.ladder(side, k, plain, frames)
		return
	}
	if side == 0 {
		s.request(k-3, plain, frames, o)
	} else {
		s.response(k-3, plain, frames, o)
	}
}

// padding judges the sender's zero padding after a record's payload
// (§5.1). The receiver ignores it, so non-zero padding is a warning.
func (s *session) padding(side, k int, plain []byte, frames []int) {
	class := conformance.RequestRecord
	if side == 1 && k >= 3 {
		class = conformance.ResponseRecord
	}
	if err := conformance.CheckRecordPadding(class, plain); err != nil {
		name := s.plan(side, k+2-side).name
		a := s.c.agg
		a.add(Warn, MUX004, "pad "+s.conn.subject+fmt.Sprint(side), frames, "%s's %s: %v; §5.1 has the sender zero-pad the plaintext (the receiver ignores the padding)", s.by(side, frames...), name, err)
		return
	}
	s.c.agg.pass(MUX004, frames...)
}

func (s *session) ladder(side, k int, plain []byte, frames []int) {
	a := s.c.agg
	step := ladderSteps[2*k+side]
	rec, err := conformance.ParseRecordPlain(conformance.RequestRecord, plain)
	if err == nil {
		err = step.Check(rec)
	}
	if err != nil {
		s.ladderBad = true
		a.add(Fail, MUX002, s.conn.subject, frames, "%s's ladder step %d: %v", s.by(side, frames...), step.Step, err)
		return
	}
	s.ladderOK++
	s.ladderAt = frames
	if s.ladderOK == len(ladderSteps) && !s.ladderBad {
		a.pass(MUX002, frames...)
		s.c.milestone("nexus mux ok")
	}
}

func (s *session) request(j int, plain []byte, frames []int, o opened) {
	a := s.c.agg
	s.requests++
	d := conformance.GateRequest(plain)
	p := prediction{index: j, action: d.Action, svc: d.Service, why: d.Why, frames: append([]int(nil), frames...), o: o}
	switch {
	case d.Why == "oversized":
		a.add(Fail, PROXY001, "oversized "+s.conn.subject, frames, "request %d (service %d) declares %d payload bytes, at most %d: node-b drops it without a reply", j, d.Service, binary.LittleEndian.Uint16(plain[1:3]), conformance.MaxRequestPayload)
	case conformance.ServiceName(d.Service) == "unknown":
		a.add(Info, PROXY001, fmt.Sprintf("svc %d %s", d.Service, s.conn.subject), frames, "request %d uses service id %d, outside 1..4: §5.3's deny path (status 1, no payload, nexus.neg01), judged by PROXY-002", j, d.Service)
	case d.Service == conformance.ServiceSamgr:
		_, err := conformance.ParseSMRequest(d.Payload)
		switch {
		case d.Action == conformance.GateDeny:
			a.add(Fail, PROXY001, "sm "+s.conn.subject, frames, "request %d to samgrd is not SM v1 (magic \"SM\", version 1, at least 5 bytes): node-b denies it", j)
		case err != nil:
			a.add(Warn, PROXY001, "sm-body "+s.conn.subject, frames, "request %d to samgrd passes node-b's gate but is not a valid SM request: %v", j, err)
			if s.nexus() {
				a.add(Info, NX15, "svc1", frames, "node-b's gate checks only the SM magic and version of a samgrd request and forwards the rest unchecked")
			}
		default:
			a.pass(PROXY001, frames...)
		}
	case d.Service == conformance.ServiceBundle:
		if op, err := conformance.ParseBNRequest(d.Payload); err != nil || op != conformance.BNOpList {
			p.notBN = true
			a.add(Warn, PROXY001, "bn "+s.conn.subject, frames, "request %d to bundlemgrd is not a BN v1 LIST (% x)", j, d.Payload[:min(len(d.Payload), 8)])
		} else {
			a.pass(PROXY001, frames...)
		}
	default:
		a.pass(PROXY001, frames...)
	}
	if len(s.preds) >= maxPending {
		s.preds = s.preds[1:]
		s.predLost++
	}
	s.preds = append(s.preds, p)
}

func (s *session) response(j int, plain []byte, frames []int, o opened) {
	a := s.c.agg
	s.responses++
	rec, err := conformance.ParseRecordPlain(conformance.ResponseRecord, plain)
	if err != nil {
		a.add(Fail, PROXY003, "rsp "+s.conn.subject, frames, "response %d: %v", j, err)
		return
	}
	// Requests node-b answers with no reply come first: the response is
	// for a later one.
	for len(s.preds) > 1 && (!s.preds[0].o.rx || s.preds[0].action == conformance.GateDrop) {
		a.pass(PROXY002, s.preds[0].frames...)
		if s.preds[0].o.rx {
			s.c.milestone("nexus proxy denied service=" + conformance.ServiceName(s.preds[0].svc) + " oversized")
		}
		s.preds = s.preds[1:]
	}
	if len(s.preds) == 0 {
		a.add(Fail, PROXY002, "unasked "+s.conn.subject, frames, "node-b sent response %d with no request outstanding", j)
		return
	}
	p := s.preds[0]
	s.preds = s.preds[1:]
	name := conformance.ServiceName(p.svc)
	fr := append(append([]int(nil), p.frames...), frames...)
	if !p.o.rx {
		a.add(Fail, PROXY002, "undecryptable "+s.conn.subject, fr, "node-b answered request %d, sealed at n=%d, which it could not have decrypted: its receive nonce was %d, and §5.1 skips a record that fails there silently, without a reply", p.index, p.o.at, p.o.rxAt)
		return
	}
	if !o.rx {
		a.add(Fail, PROXY003, "undecryptable "+s.conn.subject, fr, "%s cannot decrypt response %d (to request %d): it is sealed at n=%d, but %s's receive nonce is %d (§5.1), so the request fails", s.from[0], j, p.index, o.at, s.from[0], o.rxAt)
		s.c.milestone("nexus proxy fail service=" + name)
		return
	}
	switch p.action {
	case conformance.GateDrop:
		a.add(Fail, PROXY002, "drop "+s.conn.subject, fr, "node-b answered request %d, which declares an oversized payload: the OS drops it without a reply", p.index)
	case conformance.GateDeny:
		if rec.Kind != conformance.ProxyStatusFail || len(rec.Payload) != 0 {
			a.add(Fail, PROXY002, "deny "+s.conn.subject, fr, "node-b answered denied request %d (service %d, %s) with status %d and %d payload bytes: a deny is status 1 with no payload", p.index, p.svc, p.why, rec.Kind, len(rec.Payload))
			return
		}
		a.pass(PROXY002, fr...)
		s.c.milestone("nexus proxy denied service=" + name)
	case conformance.GateForward:
		a.pass(PROXY002, fr...)
		if err := conformance.CheckProxyResponse(p.svc, rec); err != nil {
			a.add(Fail, PROXY003, "verdict "+name+" "+s.conn.subject, fr, "response to request %d fails node-a's verdict: %v", p.index, err)
			s.c.milestone("nexus proxy fail service=" + name)
			return
		}
		a.pass(PROXY003, fr...)
		if err := conformance.CheckProxyResponseHeader(p.svc, rec.Payload); err != nil {
			a.add(Warn, PROXY003, "header "+name+" "+s.conn.subject, fr, "response to request %d passes node-a's verdict, but its payload is not %s v1 (%v): node-a ignores magic and version, the backend's documented reply has them (§5.3)", p.index, protoName(p.svc), err)
		}
		if p.notBN && s.nexus() {
			a.add(Info, NX15, "svc2", fr, "node-b forwarded request %d to bundlemgrd although it is not BN v1: svc 2 has no gate", p.index)
		}
		s.c.milestone("nexus proxy ok service=" + name)
	}
}

// protoName is the reply format of a proxied service: SM or BN.
func protoName(svc byte) string {
	if svc == conformance.ServiceSamgr {
		return "SM"
	}
	return "BN"
}

// transport judges one noise-xk transport message.
func (s *session) transport(side, k int, body []byte, frames []int) {
	s.records[side] = k + 1
	if s.await(side, body, frames) || s.cipher[side] == nil {
		return
	}
	if _, _, ok := s.open(side, k, body, frames); ok && k == 0 && side == 0 {
		s.c.milestone("nexus transport ok " + s.pair())
	}
}
