package checker

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"l2hub/conformance"
)

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

// violation is a message that started before the other side completed the
// message it requires. Raised in the sender's own turn, it is judged when the
// turn ends: if the sender did not even complete the early message, the
// previous one was simply too long (a size error); otherwise the sender did
// not wait (an order error).
type violation struct {
	idx      int // the early message
	want     int // the other side's first message not yet complete then
	boundary int // stream offset where it started
	frame    int
	framing  bool   // noise-xk: no valid length prefix at boundary
	declared uint32 // framing: what the 4 bytes there read
}

type sideState struct {
	pos        int // stream bytes seen
	msgs       int // messages completed
	filled     int
	size       int // of the current message; 0 while a framed header is read
	buf        []byte
	frames     []int
	turnStart  int
	misaligned bool // a size or framing error: boundaries are unknown from here on
	pending    *violation
	// sizing: a proxy-phase record whose size is decided by where it
	// authenticates (275 or 531 bytes); cut is how many of its frames the
	// first 275 bytes span, once it has grown past them.
	sizing bool
	grown  bool
	cut    int
}

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

// data takes contiguous stream bytes of one side.
func (s *session) data(side int, b []byte, frame int) {
	if side == 1 && (s.msg1Bad || s.msg1Sealed) && !s.answered {
		s.answered = true
		if s.msg1Bad {
			why := "the OS sends nothing after a msg1 it cannot use and closes the connection (§4.5)"
			if s.msg1Keys != "" {
				why = s.msg1Keys + "; " + why
			}
			s.c.agg.add(Fail, SESS004, "answered "+s.conn.subject, []int{frame}, "%s answered a msg1 it must reject on %s: %s", s.by(1, frame), s.conn.subject, why)
		} else {
			s.hsFailed = false // its msg2 tells which static it holds (judgeSealedMsg2)
		}
	}
	if s.last != side {
		if s.last >= 0 {
			s.endTurn(s.c.agg, s.last, &s.sides[s.last])
		}
		s.last = side
		s.sides[side].turnStart = s.sides[side].pos
	}
	st := &s.sides[side]
	for len(b) > 0 {
		if st.misaligned {
			st.pos += len(b)
			return
		}
		if st.filled == 0 {
			s.start(side, frame)
		}
		need := st.size - st.filled
		if st.size == 0 {
			need = conformance.FrameHeaderLen - st.filled
		}
		take := min(need, len(b))
		st.buf = append(st.buf, b[:take]...)
		st.filled += take
		st.pos += take
		b = b[take:]
		if len(st.frames) < maxMsgFrames && !containsInt(st.frames, frame) {
			st.frames = append(st.frames, frame)
		}
		if st.size == 0 && st.filled == conformance.FrameHeaderLen {
			n := binary.BigEndian.Uint32(st.buf)
			if n > conformance.MaxFrameLen {
				s.framingError(side, st, frame, n)
				st.pos += len(b)
				return
			}
			st.size = conformance.FrameHeaderLen + int(n)
		}
		if st.size > 0 && st.filled == st.size {
			var rest []byte
			if st.sizing {
				if s.resize(side, st) {
					continue
				}
				if st.grown && st.filled != conformance.RequestRecordLen {
					// A 275-byte record that fails, and 256 bytes of the next.
					rest = bytes.Clone(st.buf[conformance.RequestRecordLen:])
					st.buf, st.frames = st.buf[:conformance.RequestRecordLen], st.frames[:st.cut]
					st.filled, st.pos = conformance.RequestRecordLen, st.pos-len(rest)
				}
			}
			s.complete(side, frame)
			st.msgs++
			st.filled, st.size, st.buf, st.frames = 0, 0, st.buf[:0], st.frames[:0]
			st.sizing, st.grown = false, false
			if rest != nil {
				b = append(rest, b...)
			}
		}
	}
}

// resize decides the size of a proxy-phase record once st.filled bytes of
// it are in, and reports whether it goes on. The OS reads fixed sizes
// (§5.1), so a request of 531 bytes or a response of 275 must be a MUX-001
// finding at its frame, not a stream misread for the rest of the capture:
// a record is as long as the first size at which it authenticates. A
// response that does not at 275 bytes is 531; a request that does not at
// 275 nor at 531 is a 275-byte record that fails, and the bytes after it
// are read again as the next.
func (s *session) resize(side int, st *sideState) bool {
	if st.filled == conformance.RequestRecordLen && !s.authenticates(side, st.buf) {
		st.size, st.grown, st.cut = conformance.ResponseRecordLen, true, len(st.frames)
		return true
	}
	if side == 1 || s.authenticates(side, st.buf) {
		st.grown = false
	}
	st.sizing = false
	return false
}

// authenticates reports whether wire opens as one of side's records at its
// receiver's nonce or at the checker's counter up to maxNonceSkip past it.
func (s *session) authenticates(side int, wire []byte) bool {
	n := s.cipher[side].Nonce()
	for m := min(n, s.rx[side]); m <= n+maxNonceSkip; m++ {
		if _, err := conformance.OpenRecordAt(s.plain[:0], s.keys[side], m, wire); err == nil {
			return true
		}
	}
	return false
}

func containsInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// start begins message st.msgs of side and checks it may start now.
func (s *session) start(side, frame int) {
	st, o := &s.sides[side], &s.sides[1-side]
	idx := st.msgs
	pl := s.plan(side, idx)
	st.size = pl.size
	if (pl.kind == kindRequest || pl.kind == kindResponse) && s.cipher[side] != nil && !s.given[side] {
		st.size, st.sizing = conformance.RequestRecordLen, true
	}
	if s.nexus() && side == 0 && idx == 2 && st.pos > st.turnStart && !s.nx12 {
		s.nx12 = true
		s.c.agg.add(Info, NX12, "", []int{frame}, "node-a sends ladder step 1 right after msg3: it declares the session up without any sign that node-b verified msg3")
	}
	if o.msgs >= pl.req {
		return
	}
	want := s.plan(1-side, o.msgs)
	switch {
	case o.filled > 0 && o.msgs == pl.req-1:
		s.ordering(s.c.agg, side, idx, o.msgs, frame, fmt.Sprintf("when %s's %s had %d of %d bytes", s.from[1-side], want.name, o.filled, max(o.size, o.filled)))
	case st.pos > st.turnStart:
		if st.pending == nil {
			st.pending = &violation{idx: idx, want: o.msgs, boundary: st.pos, frame: frame}
		}
	default:
		s.ordering(s.c.agg, side, idx, o.msgs, frame, fmt.Sprintf("before %s's %s", s.from[1-side], want.name))
	}
}

// ordering reports message idx of side starting before the other side's
// message wantIdx was complete.
func (s *session) ordering(a *agg, side, idx, wantIdx, frame int, when string) {
	pl := s.plan(side, idx)
	want := s.plan(1-side, wantIdx)
	if a == s.c.agg {
		s.orderErr = true
	}
	a.add(Fail, orderID(want.kind), s.conn.subject, []int{frame}, "%s sent %s %s%s", s.by(side, frame), pl.name, when, orderNote(want.kind))
}

// endTurn judges a violation raised during side's turn, which just ended.
func (s *session) endTurn(a *agg, side int, st *sideState) {
	v := st.pending
	if v == nil {
		return
	}
	if a == s.c.agg {
		st.pending = nil
	}
	n := st.pos - v.boundary
	if v.framing {
		body := stdSize(side, v.idx)
		what := s.plan(side, v.idx).name
		if v.idx == 0 && side == 0 {
			a.add(Fail, SESS002, s.conn.subject, []int{v.frame}, "handshake is not Noise XK: %s is %d bytes with no length prefix (its first 4 bytes read %d, above the Noise maximum of 65535), the spec's is %d (+4-byte u32be length)", what, n, v.declared, body)
		} else {
			a.add(Fail, SESS002, s.conn.subject, []int{v.frame}, "%s's %s has no valid u32be length prefix: it reads %d, above the Noise maximum of 65535 (%d bytes in the turn)", s.by(side, v.frame), what, v.declared, n)
		}
		return
	}
	pl := s.plan(side, v.idx)
	if pl.size > 0 && n < pl.size && v.idx > 0 {
		prev := s.plan(side, v.idx-1)
		s.sizeError(a, side, prev, prev.size+n, v.frame)
		if a == s.c.agg {
			st.misaligned = true
		}
		return
	}
	want := s.plan(1-side, v.want)
	if a == s.c.agg {
		s.orderErr = true
	}
	prev := s.plan(side, v.idx-1)
	a.add(Fail, orderID(want.kind), s.conn.subject, []int{v.frame}, "%s sent %d bytes after its %s before %s's %s%s",
		s.by(side, v.frame), n, prev.name, s.from[1-side], want.name, orderNote(want.kind))
}

// orderID is the check a message sent too early violates, by the kind of
// the message it should have waited for.
func orderID(k msgKind) string {
	switch k {
	case kindLadder:
		return MUX002
	case kindRequest:
		return PROXY002
	}
	return SESS003
}

func orderNote(k msgKind) string {
	if k == kindHandshake {
		return ": data before the handshake completes"
	}
	return ""
}

func (s *session) sizeError(a *agg, side int, pl msgPlan, got, frame int) {
	if a == s.c.agg {
		s.sizeErr = true
	}
	if pl.kind == kindHandshake {
		msg := fmt.Sprintf("%s's %s is %d bytes, %s's is %d", s.by(side, frame), pl.name, got, s.c.opts.Profile, pl.size)
		if side == 0 && pl.name == "msg1" && (got == conformance.StdMsg1Len || got == conformance.StdMsg1Len+4) {
			msg += " (a noise-xk msg1?)"
		}
		a.add(Fail, SESS002, s.conn.subject, []int{frame}, "%s", msg)
		return
	}
	a.add(Fail, MUX001, s.conn.subject, []int{frame}, "%s's %s is %d bytes, %s records are exactly %d", s.by(side, frame), pl.name, got, s.c.opts.Profile, pl.size)
}

// framingError: a noise-xk length above 65535, so the stream has no valid
// framing here; judged at the end of the turn with the turn's size.
func (s *session) framingError(side int, st *sideState, frame int, n uint32) {
	st.misaligned = true
	s.sizeErr = true
	if st.msgs <= 1 {
		st.pending = &violation{idx: st.msgs, boundary: st.pos - st.filled, frame: frame, framing: true, declared: n}
		return
	}
	s.c.agg.add(Fail, SESS002, s.conn.subject, []int{frame}, "%s's stream announces a %d-byte message, above the Noise maximum of 65535", s.by(side, frame), n)
}

// complete handles one whole message.
func (s *session) complete(side, frame int) {
	st := &s.sides[side]
	idx := st.msgs
	body := st.buf
	if !s.nexus() {
		body = body[conformance.FrameHeaderLen:]
	}
	if idx == 0 || (side == 0 && idx == 1) {
		s.handshakeMessage(side, idx, body, st.frames)
		return
	}
	k := idx - 1
	if side == 0 {
		k = idx - 2
	}
	if s.nexus() {
		s.record(side, k, body, st.frames)
	} else {
		s.transport(side, k, body, st.frames)
	}
}

func (s *session) handshakeMessage(side, idx int, body []byte, frames []int) {
	a := s.c.agg
	n := 0 // msg1
	switch {
	case side == 1:
		n = 1
	case idx == 1:
		n = 2
	}
	s.hs[n] = bytes.Clone(body)
	s.hsFrames = appendFrames(s.hsFrames, frames...)
	if !s.nexus() {
		if want := stdSize(side, idx); len(body) != want {
			name := s.plan(side, idx).name
			if n == 0 {
				a.add(Fail, SESS002, s.conn.subject, frames, "handshake is not Noise XK: %s is %d bytes, the spec's is %d", name, len(body), want)
			} else {
				a.add(Fail, SESS002, s.conn.subject, frames, "%s's %s is %d bytes, the spec's is %d", s.by(side, frames...), name, len(body), want)
			}
			s.sizeErr = true
		}
	} else {
		switch n {
		case 0:
			a.add(Info, NX01, "", frames, "handshake is not Noise XK: msg1 is %d bytes, the spec's is %d (tokens -> e / <- e, ee, s, es / -> s, se instead of -> e, es / <- e, ee / -> s, se)", len(body), conformance.StdMsg1Len)
			a.add(Info, NX05, "", frames, "the handshake and the records carry no length prefix: msg1 is the bare 32-byte ephemeral, records are fixed-size")
			if [32]byte(body) == bringUpEphemeral(conformance.RoleA) {
				a.add(Info, NX08, "", frames, "msg1 is node-a's bring-up ephemeral derive_test_secret(E0, 34567): the transcript is the same on every boot and replayable")
			}
		case 1:
			a.add(Info, NX02, "", frames, "msg2 is %d bytes: node-b re-sends its pre-message static, encrypted (the spec's msg2 is %d)", len(body), conformance.StdMsg2Len)
		}
	}
	if n == 1 && s.msg1Sealed && !s.sizeErr {
		s.judgeSealedMsg2(body, frames)
	}
	if n == 0 && !s.sizeErr {
		s.judgeMsg1(body, frames)
	}
	if s.hs[1] != nil && s.hs[2] != nil && !s.hsDone && !s.hsFailed {
		s.handshake()
	}
}

// judgeMsg1 fails a msg1 that node-b rejects before it writes msg2,
// whatever its keys: a low-order ephemeral (every DH with it is all zeros,
// which the OS rejects, §4.1), or a noise-xk msg1 whose es payload does not
// decrypt with node-b's bring-up static, nor with a key node-b announced
// (tampered, forged, or sealed to a key no announce names). The fault is
// node-a's: node-b must then send nothing and close the connection (§4.5),
// and its silence is no failure. A noise-xk msg1 that node-a's bring-up
// keys give sealed to the key node-b announced instead of its bring-up
// static waits for node-b's answer (see msg1Sealed).
func (s *session) judgeMsg1(m1 []byte, frames []int) {
	err := msg1Error(s.c.opts.Profile, m1)
	if err == nil {
		return
	}
	s.msg1Err, s.hsFailed = err, true
	what := fmt.Sprintf("does not read with node-b's bring-up keys (%v)", err)
	switch {
	case errors.Is(err, conformance.ErrZeroDH):
		what = "is a low-order point: node-b's DH with it is all zeros, which the OS rejects (§4.1)"
	case errors.Is(err, conformance.ErrDecrypt):
		s.msg1Keys = "msg1 does not read with its bring-up static and it announced no other key, so it answered a msg1 it could not authenticate, or holds a static it never announced"
		dev, ok := s.c.disc.announced(conformance.RoleB.String())
		if !ok || dev.learnedKey == bringUpStatic(conformance.RoleB) {
			break
		}
		k, ann := short(dev.learnedKey), dev.learnedFrame
		switch _, sealed := stdInitiatorAt(dev.learnedKey, m1); {
		case sealed:
			s.msg1Sealed, s.sealedTo, s.sealedAnn = true, dev.learnedKey, ann
			return
		case [32]byte(m1[:32]) == bringUpEphemeral(conformance.RoleA):
			// msg1 (e, es) depends on E_A and the static it is sealed to.
			what = fmt.Sprintf("does not read with node-b's bring-up static (%v), nor is it what node-a's bring-up keys give for the key %s node-b's announce (frame %d) names", err, k, ann)
			s.msg1Keys = fmt.Sprintf("msg1 does not read with its bring-up static, nor is it sealed to the key %s it announced, so it answered a msg1 it could not authenticate, or holds a static it never announced", k)
		default:
			what = fmt.Sprintf("does not read with node-b's bring-up static (%v); whether it is sealed to the key %s node-b's announce (frame %d) names, where §4.8 pins S_B, the checker cannot tell: its ephemeral is not node-a's bring-up one", err, k, ann)
			s.msg1Keys = fmt.Sprintf("msg1 does not read with its bring-up static, so it holds the key %s it announced, which msg1 may be sealed to, where §3.3 pins the bring-up key, or it answered a msg1 it could not authenticate", k)
		}
	}
	s.msg1Bad = true
	s.c.agg.add(Fail, SESS004, s.conn.subject, frames, "%s's msg1 on %s %s; %s must reject it, send no msg2 and close the connection (§4.5)", s.by(0, frames...), s.conn.subject, what, s.from[1])
}

// judgeSealedMsg2 judges node-b's answer to a msg1 sealed to the key it
// announced (msg1Sealed): if its msg2 reads with node-a's bring-up keys
// and that key, node-b holds it, not its bring-up static; if not, it
// answered a msg1 it could not read.
func (s *session) judgeSealedMsg2(m2 []byte, frames []int) {
	fr := append(slices.Clone(s.hsFrames), s.sealedAnn)
	i, ok := stdInitiatorAt(s.sealedTo, s.hs[0])
	if !ok {
		return // judgeMsg1 found it so
	}
	if _, err := i.ReadMessage(m2); err != nil {
		s.hsFailed = true
		s.c.agg.add(Fail, SESS004, "answered "+s.conn.subject, fr, "%s answered node-a's msg1 on %s, sealed to the key %s its announce (frame %d) names, with a msg2 that does not read with that key (%v): it answered a msg1 it could not read; the OS sends nothing after a msg1 it cannot use and closes the connection (§4.5)",
			s.by(1, frames...), s.conn.subject, short(s.sealedTo), s.sealedAnn, err)
		return
	}
	s.c.agg.add(Fail, SESS005, "static "+s.conn.subject, fr, "%s holds the static %s its announce (frame %d) names, not its bring-up key %s (§3.3): it read node-a's msg1 on %s, sealed to that key, and its msg2 reads with it; node-a sealed msg1 to the announced key where §4.8 pins S_B, the bring-up key",
		s.by(1, frames...), short(s.sealedTo), s.sealedAnn, short(bringUpStatic(conformance.RoleB)), s.conn.subject)
}

// msg1Error is why node-b's bring-up responder rejects msg1, nil if it
// takes it.
func msg1Error(p Profile, m1 []byte) error {
	if p == ProfileNexus {
		return conformance.NewNexusResponder(conformance.BringUpNexusConfig(conformance.RoleB)).ReadMsg1(m1)
	}
	r, err := conformance.NewStdHandshake(conformance.BringUpStdConfig(conformance.RoleB))
	if err != nil {
		return nil // no responder to judge by
	}
	_, err = r.ReadMessage(m1)
	return err
}

// handshake judges the whole transcript.
func (s *session) handshake() {
	a := s.c.agg
	fr := s.hsFrames
	if !s.sizeErr {
		a.pass(SESS002, fr...)
	}
	if !s.orderErr {
		a.pass(SESS003, fr...)
	}
	var keys conformance.SessionKeys
	var decryptable bool
	var err error
	with := "the bring-up keys"
	switch {
	case s.msg1Sealed:
		// node-b holds the key it announced (SESS-005 said so): the
		// transcript is node-a's bring-up keys' with that key.
		keys, decryptable, err = verifyStdFromA(s.sealedTo, s.hs[0], s.hs[1], s.hs[2])
		with = "node-a's bring-up keys and node-b's announced static " + short(s.sealedTo)
	case s.nexus():
		keys, decryptable, err = verifyNexus(s.hs[0], s.hs[1], s.hs[2])
	default:
		keys, decryptable, err = verifyStd(s.hs[0], s.hs[1], s.hs[2])
	}
	switch {
	case !decryptable:
		s.noKeys, s.hsDone = true, true
		a.add(Warn, SESS004, s.conn.subject, fr, "neither ephemeral on %s is a bring-up key, so the transcript cannot be decrypted passively: identity binding, transport keys and records are not checked", s.conn.subject)
		s.c.milestone("nexus session ok " + s.pair() + " unverified")
	case errors.Is(err, conformance.ErrStaticKeyMismatch):
		s.hsFailed = true
		a.add(Fail, SESS005, s.conn.subject, fr, "the handshake on %s carries a static key that is not the pinned bring-up key: %v", s.conn.subject, err)
	case err != nil:
		s.hsFailed = true
		a.add(Fail, SESS004, s.conn.subject, fr, "the transcript on %s does not verify with %s: %v", s.conn.subject, with, err)
	default:
		s.verified, s.hsDone = true, true
		if s.msg1Sealed {
			a.add(Info, SESS004, "sealed "+s.conn.subject, fr, "the transcript on %s verifies with %s: transport keys and records are checked with them", s.conn.subject, with)
		} else {
			a.pass(SESS004, fr...)
		}
		if s.nexus() {
			a.add(Info, NX03, "", fr, "the transcript verifies only without MixHash(prologue): no prologue is hashed, not even an empty one")
			a.add(Info, NX04, "", fr, "the transcript verifies only without EncryptAndHash(payload) for msg1, so no MixHash(\"\") after E_A")
		}
		if s.msg1Sealed {
			s.bindIdentity(a, fr, conformance.RoleA) // node-b's: SESS-005 above
		} else {
			s.bindIdentity(a, fr, conformance.RoleA, conformance.RoleB)
		}
		s.keys[0], s.keys[1] = keys.I2R, keys.R2I
		s.cipher[0] = conformance.NewRecordCipher(keys.I2R, 0)
		s.cipher[1] = conformance.NewRecordCipher(keys.R2I, 0)
		s.c.milestone("nexus session ok " + s.pair())
	}
	for side := range s.awaiting {
		waiting, frames := s.awaiting[side], s.awaitFr[side]
		s.awaiting[side], s.awaitFr[side] = nil, nil
		for i, w := range waiting {
			k := s.records[side]
			if s.nexus() {
				s.record(side, k, w, frames[i])
			} else {
				s.transport(side, k, w, frames[i])
			}
		}
	}
}

// bindIdentity compares the verified statics of roles (the pinned
// bring-up keys) with what each node announced and its peer learned
// (SESS-005).
func (s *session) bindIdentity(a *agg, fr []int, roles ...conformance.Role) {
	ok := true
	for _, r := range roles {
		dev, learned := s.c.disc.announced(r.String())
		pinned := bringUpStatic(r)
		switch {
		case !learned:
			ok = false
			a.add(Info, SESS005, "unbound "+r.String()+" "+s.conn.subject, fr, "no announce of %s reached its peer before the handshake on %s: nothing binds its static to discovery (the OS passes, NX-06)", r, s.conn.subject)
		case dev.learnedKey != pinned:
			ok = false
			a.add(Fail, SESS005, "key "+r.String()+" "+s.conn.subject, append([]int{dev.learnedFrame}, fr...), "%s announced key %s (frame %d), but its handshake static is %s: identity is not bound",
				r, short(dev.learnedKey), dev.learnedFrame, short(pinned))
		}
	}
	if ok {
		a.pass(SESS005, fr...)
	}
}

// verifyNexus decrypts a nexus-v1 transcript with whichever side's
// bring-up keys reproduce it: node-b's when msg2 is what node-b's keys give
// for this msg1, else node-a's when msg1 is node-a's bring-up ephemeral.
// decryptable is false when neither is.
func verifyNexus(m1, m2, m3 []byte) (keys conformance.SessionKeys, decryptable bool, err error) {
	r := conformance.NewNexusResponder(conformance.BringUpNexusConfig(conformance.RoleB))
	if err := r.ReadMsg1(m1); err != nil {
		return keys, true, fmt.Errorf("msg1: %w", err)
	}
	if w, err := r.WriteMsg2(); err == nil && bytes.Equal(w, m2) {
		if err := r.ReadMsg3(m3); err != nil {
			return keys, true, fmt.Errorf("msg3, read with node-b's keys: %w", err)
		}
		keys, err = r.Keys()
		return keys, true, err
	}
	i := conformance.NewNexusInitiator(conformance.BringUpNexusConfig(conformance.RoleA))
	if w, err := i.WriteMsg1(); err != nil || !bytes.Equal(w, m1) {
		return keys, false, nil
	}
	if err := i.ReadMsg2(m2); err != nil {
		return keys, true, fmt.Errorf("msg2, read with node-a's keys: %w", err)
	}
	w, err := i.WriteMsg3()
	if err != nil {
		return keys, true, fmt.Errorf("msg3: %w", err)
	}
	if !bytes.Equal(w, m3) {
		return keys, true, fmt.Errorf("msg3 is not what node-a's bring-up keys give: %w", conformance.ErrTranscriptMismatch)
	}
	keys, err = i.Keys()
	return keys, true, err
}

// verifyStd is verifyNexus for noise-xk, on flynn/noise.
func verifyStd(m1, m2, m3 []byte) (keys conformance.SessionKeys, decryptable bool, err error) {
	r, err := conformance.NewStdHandshake(conformance.BringUpStdConfig(conformance.RoleB))
	if err != nil {
		return keys, false, err
	}
	if _, err := r.ReadMessage(m1); err != nil {
		return keys, true, fmt.Errorf("msg1: %w", err)
	}
	if w, err := r.WriteMessage(nil); err == nil && bytes.Equal(w, m2) {
		if _, err := r.ReadMessage(m3); err != nil {
			return keys, true, fmt.Errorf("msg3, read with node-b's keys: %w", err)
		}
		keys, err = r.Keys()
		return keys, true, err
	}
	return verifyStdFromA(bringUpStatic(conformance.RoleB), m1, m2, m3)
}

// verifyStdFromA verifies a noise-xk transcript from node-a's side, with
// its bring-up keys sealing msg1 to peer; decryptable is false when msg1 is
// not what they give.
func verifyStdFromA(peer [32]byte, m1, m2, m3 []byte) (keys conformance.SessionKeys, decryptable bool, err error) {
	i, ok := stdInitiatorAt(peer, m1)
	if !ok {
		return keys, false, nil
	}
	if _, err := i.ReadMessage(m2); err != nil {
		return keys, true, fmt.Errorf("msg2, read with node-a's keys: %w", err)
	}
	w, err := i.WriteMessage(nil)
	if err != nil {
		return keys, true, fmt.Errorf("msg3: %w", err)
	}
	if !bytes.Equal(w, m3) {
		return keys, true, fmt.Errorf("msg3 is not what node-a's bring-up keys give: %w", conformance.ErrTranscriptMismatch)
	}
	keys, err = i.Keys()
	return keys, true, err
}

// stdInitiatorAt returns node-a's bring-up noise-xk initiator sealing to
// peer, past msg1; ok reports whether msg1 is what it writes.
func stdInitiatorAt(peer [32]byte, m1 []byte) (i *conformance.StdHandshake, ok bool) {
	cfg := conformance.BringUpStdConfig(conformance.RoleA)
	cfg.PeerStatic = peer
	i, err := conformance.NewStdHandshake(cfg)
	if err != nil {
		return nil, false
	}
	w, err := i.WriteMessage(nil)
	return i, err == nil && bytes.Equal(w, m1)
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
			// waiting to be judged at 531.
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
