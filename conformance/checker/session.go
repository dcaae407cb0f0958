package checker

import (
	"fmt"
	"slices"

	"l2hub/conformance"
)

// A session follows one TCP connection's application bytes, side by side:
// the handshake, then records (nexus-v1) or transport messages (noise-xk).
// This file holds its state, the plan of the messages each side sends, and
// the findings it adds when the stream ends (end). framing.go cuts each
// side's bytes into those messages, handshake.go judges the handshake and
// records.go what follows it.

// Session bounds.
const (
	maxMsgFrames    = 8  // frames cited per message
	maxAwaitingKeys = 4  // records per side kept until the handshake completes
	maxPending      = 64 // outstanding proxy requests
	maxNonceSkip    = 3  // nonces tried beyond the checker's counter, to follow a sender past a gap
	// maxBadRecords: consecutive records that fail before the checker
	// stops searching past its counter for a side's records and reporting
	// each failure; it still tries each record at the receiver's nonce.
	maxBadRecords = 3
)

// msgKind is what a message of the session is.
type msgKind uint8

const (
	kindHandshake msgKind = iota + 1
	kindLadder
	kindRequest
	kindResponse
	kindTransport
)

// msgPlan is one message a side sends: its size on the stream (0: framed,
// read from a u32be prefix), its name, and how many messages the other side
// must have completed before it may start.
type msgPlan struct {
	size int
	name string
	kind msgKind
	req  int
}

// nexus-v1 ladder steps by sender: node-a sends 1, 3, 5 and node-b 2, 4, 6.
var ladderSteps = conformance.Ladder()

// plan returns message idx of side (0: initiator, node-a; 1: responder).
func (s *session) plan(side, idx int) msgPlan {
	if s.c.opts.Profile == ProfileNoiseXK {
		switch {
		case side == 0 && idx == 0:
			return msgPlan{0, "msg1", kindHandshake, 0}
		case side == 0 && idx == 1:
			return msgPlan{0, "msg3", kindHandshake, 1}
		case side == 0:
			return msgPlan{0, fmt.Sprintf("transport message %d", idx-2), kindTransport, 1}
		case idx == 0:
			return msgPlan{0, "msg2", kindHandshake, 1}
		}
		return msgPlan{0, fmt.Sprintf("transport message %d", idx-1), kindTransport, 2}
	}
	req, rsp := conformance.RequestRecordLen, conformance.ResponseRecordLen
	switch {
	case side == 0 && idx == 0:
		return msgPlan{conformance.NexusMsg1Len, "msg1", kindHandshake, 0}
	case side == 0 && idx == 1:
		return msgPlan{conformance.NexusMsg3Len, "msg3", kindHandshake, 1}
	case side == 0 && idx <= 4:
		return msgPlan{req, fmt.Sprintf("ladder step %d", 2*(idx-2)+1), kindLadder, idx - 1}
	case side == 0:
		return msgPlan{req, fmt.Sprintf("request %d", idx-5), kindRequest, 4}
	case idx == 0:
		return msgPlan{conformance.NexusMsg2Len, "msg2", kindHandshake, 1}
	case idx <= 3:
		return msgPlan{req, fmt.Sprintf("ladder step %d", 2*idx), kindLadder, idx + 2}
	}
	return msgPlan{rsp, fmt.Sprintf("response %d", idx-4), kindResponse, 5}
}

// stdSize is a noise-xk handshake message's size with an empty payload.
func stdSize(side, idx int) int {
	switch {
	case side == 0 && idx == 0:
		return conformance.StdMsg1Len
	case side == 1 && idx == 0:
		return conformance.StdMsg2Len
	}
	return conformance.StdMsg3Len
}

// session follows one connection's application bytes: the handshake, then
// records (nexus-v1) or transport messages (noise-xk).
type session struct {
	c    *Checker
	conn *tcpConn
	// from names the sides in findings: their roles, "injected node-a"
	// for a side whose every segment the hub injected (see by); role is
	// the roles.
	from [2]string
	role [2]string
	last int // side that sent last, -1 before any byte

	sides [2]sideState

	hs       [3][]byte // msg1, msg2, msg3 bodies
	hsFrames []int
	hsDone   bool // the handshake completed and was accepted (or cannot be judged)
	hsFailed bool
	// msg1Bad: node-b must reject msg1 before it writes msg2 (msg1Err
	// says why): a low-order ephemeral (§4.1), or for noise-xk a payload
	// that does not decrypt with node-b's bring-up static, and is not
	// node-a's sealed to a key node-b announced (msg1Keys says what the
	// checker can tell of node-b's keys, for its answer). msg1Sealed: for noise-xk, msg1 is what node-a's
	// bring-up keys give sealed to sealedTo, the key node-b's announce
	// (frame sealedAnn) names instead of its bring-up static: node-b reads
	// it only if it holds that key. answered: node-b sent bytes after such
	// a msg1.
	msg1Bad    bool
	msg1Sealed bool
	msg1Err    error
	msg1Keys   string
	sealedTo   [32]byte
	sealedAnn  int
	answered   bool

	verified bool
	noKeys   bool // the transcript cannot be decrypted passively
	sizeErr  bool
	orderErr bool

	keys     [2][32]byte // send keys of side 0 and side 1
	cipher   [2]*conformance.RecordCipher
	awaiting [2][][]byte
	awaitFr  [2][][]int
	records  [2]int // records (or transport messages) completed per side
	firstOK  [2]bool
	bad      [2]int // consecutive failures
	given    [2]bool
	plain    []byte
	ladderOK int
	// ladderAt is the frames of the last ladder step that passed, which a
	// ladder that stops short cites: the failure is after them.
	ladderAt  []int
	ladderBad bool
	rx        [2]uint64 // nexus-v1: the receive nonce of side's peer, side's records it could decrypt in order (§5.1)
	preds     []prediction
	predLost  int
	requests  int
	responses int
	nx12      bool
}

func newSession(c *Checker, conn *tcpConn) *session {
	s := &session{c: c, conn: conn, last: -1}
	s.role[0] = roleName(conn.key.client.Addr())
	s.role[1] = roleName(conn.key.server.Addr())
	s.from = s.role
	if conn.midstream {
		s.sides[0].misaligned, s.sides[1].misaligned = true, true
	}
	return s
}

func (s *session) nexus() bool { return s.c.opts.Profile == ProfileNexus }

func (s *session) pair() string { return s.role[0] + "->" + s.role[1] }

// by names side as the sender of frames, for a finding about them: the
// role, or "injected node-a" when the hub injected them. Where both a VM
// and the hub sent segments of the side, and it is not known which sent
// frames, the name says the side is mixed: "node-a (2 segments
// injected)".
func (s *session) by(side int, frames ...int) string {
	c := s.conn
	if c.injected[side] == 0 || c.whollyInjected(side) {
		return s.from[side]
	}
	in := 0
	for _, n := range frames {
		if slices.Contains(c.injFrames[side], n) {
			in++
		}
	}
	switch {
	case in > 0 && in == len(frames):
		return "injected " + s.role[side]
	case in == 0 && c.injected[side] == len(c.injFrames[side]):
		return s.role[side]
	}
	return fmt.Sprintf("%s (%s injected)", s.role[side], plural(c.injected[side], "segment"))
}

// end adds the session's end-of-stream findings to a without changing s.
func (s *session) end(a *agg) {
	conn := s.conn
	subj := conn.subject
	if conn.midstream {
		if conn.joined && s.sides[0].pos+s.sides[1].pos > 0 {
			a.add(Warn, SESS002, "midstream "+subj, []int{conn.estFrame}, "the capture starts inside the connection %s: its handshake was not seen, so its messages are not checked", subj)
		}
		return
	}
	var pendingSide [2]bool
	for side := range s.sides {
		st := s.sides[side]
		if st.pending != nil {
			pendingSide[side] = true
			s.endTurn(a, side, &st)
		}
	}
	pending := pendingSide[0] || pendingSide[1]
	if (s.msg1Bad || s.msg1Sealed) && !s.answered {
		if s.msg1Sealed {
			// node-b could not read it: it holds its bring-up static, which
			// node-a did not seal msg1 to.
			a.add(Fail, SESS004, subj, append(slices.Clone(s.hsFrames), s.sealedAnn), "%s's msg1 on %s is sealed to the key %s node-b's announce (frame %d) names, not to node-b's bring-up static (§4.8 pins S_B), and %s did not answer it: it holds its bring-up key, so it must reject the msg1, send no msg2 and close the connection (§4.5)",
				s.by(0, s.hsFrames...), subj, short(s.sealedTo), s.sealedAnn, s.from[1])
		}
		how := ""
		if conn.reset || conn.half[1].closed {
			how = " and the connection was closed"
		}
		a.add(Info, SESS004, "rejected "+subj, s.hsFrames, "%s rightly rejected the msg1 it cannot use on %s: it sent no msg2%s (§4.5)", s.from[1], subj, how)
	}
	if !s.hsDone && !s.hsFailed && !s.sizeErr && !pending {
		if s.sides[0].pos+s.sides[1].pos == 0 {
			if conn.accepted && (conn.reset || conn.half[0].closed || conn.half[1].closed) {
				a.add(Warn, SESS002, "empty "+subj, []int{conn.estFrame}, "connection %s closed before msg1", subj)
			}
			return
		}
		how := ""
		if conn.reset {
			how = fmt.Sprintf(" (reset at frame %d)", conn.rstFrame)
		}
		a.add(Fail, SESS002, "incomplete "+subj, s.hsFrames, "handshake on %s incomplete%s: %s", subj, how, s.progress())
		return
	}
	if !s.hsDone {
		return
	}
	open := !conn.reset && !(conn.half[0].closed && conn.half[1].closed)
	for side := range s.sides {
		st := s.sides[side]
		if st.grown && !pendingSide[side] {
			// A request that did not authenticate at 275 bytes, still
			// waiting to be judged at 531 (only node-a's side grows: a
			// response cut short is the tail below).
			pl := s.plan(side, st.msgs)
			n := s.cipher[side].Nonce()
			a.add(Fail, MUX003, s.conn.subject+fmt.Sprint(side), st.frames[:st.cut], "%s's %s does not authenticate with k_i2r at n=%d..%d: tampered, misaligned or the wrong key", s.by(side, st.frames[:st.cut]...), pl.name, min(n, s.rx[side]), n+maxNonceSkip)
			st.msgs++ // st is a copy
			st.filled -= conformance.RequestRecordLen
			st.size = conformance.RequestRecordLen
		}
		if st.filled > 0 && !st.misaligned && !pendingSide[side] {
			pl := s.plan(side, st.msgs)
			v := Fail
			if open {
				v = Warn
			}
			a.add(v, MUX001, "tail "+subj+fmt.Sprint(side), st.frames, "%s's stream ends %d bytes into %s (%d bytes)", s.by(side, st.frames...), st.filled, pl.name, max(pl.size, st.size))
		}
	}
	if !s.nexus() {
		return
	}
	switch {
	case s.ladderBad:
	case s.verified && s.ladderOK < len(ladderSteps):
		a.add(Fail, MUX002, "short "+subj, s.ladderAt, "the ladder on %s stopped after %d of 6 steps", subj, s.ladderOK)
	case s.noKeys && (s.records[0] < 3 || s.records[1] < 3):
		a.add(Fail, MUX002, "short "+subj, nil, "the ladder on %s is incomplete: node-a sent %d and node-b %d of their 3 records", subj, min(s.records[0], 3), min(s.records[1], 3))
	}
	if s.verified && s.ladderOK == len(ladderSteps) && s.requests == 0 {
		a.add(Warn, PROXY001, "none "+subj, nil, "no proxy request followed the ladder on %s", subj)
	}
	for _, p := range s.preds {
		if !p.o.rx || p.action == conformance.GateDrop {
			a.pass(PROXY002, p.frames...)
			continue
		}
		a.add(Warn, PROXY002, fmt.Sprintf("unanswered %s %d", subj, p.index), p.frames, "no response to request %d (service=%s) on %s", p.index, conformance.ServiceName(p.svc), subj)
	}
	if s.predLost > 0 {
		a.add(Warn, PROXY002, "lost "+subj, nil, "more than %d requests outstanding on %s: %d were not matched with responses", maxPending, subj, s.predLost)
	}
}

// progress says how far each handshake message got.
func (s *session) progress() string {
	var parts []string
	for _, m := range []struct{ side, idx int }{{0, 0}, {1, 0}, {0, 1}} {
		st := s.sides[m.side]
		pl := s.plan(m.side, m.idx)
		size := pl.size
		if size == 0 {
			size = conformance.FrameHeaderLen + stdSize(m.side, m.idx)
		}
		got := 0
		switch {
		case st.msgs > m.idx:
			got = size
		case st.msgs == m.idx:
			got = st.filled
			if st.size > size { // a length prefix declared more: say what it declared
				size = st.size
			}
		}
		parts = append(parts, fmt.Sprintf("%s %d/%d", pl.name, got, size))
	}
	return fmt.Sprintf("%s, %s, %s", parts[0], parts[1], parts[2])
}
