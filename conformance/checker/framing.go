package checker

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"l2hub/conformance"
)

// How a session cuts each side's stream bytes into the messages its plan
// names (fixed sizes for nexus-v1, a u32be length prefix for noise-xk) and
// judges their sizes and their order: SESS-002, SESS-003, MUX-001, and the
// order MUX-002 and PROXY-002 ask of the ladder and the proxy. data is the
// sink a connection's reassembled streams feed (conn.go); each whole message
// goes to complete, which hands it to the handshake (handshake.go) or to the
// records (records.go).

// violation is a message that started before the other side completed the
// message it requires. Raised in the sender's own turn, it is judged when the
// turn ends: if the sender did not even complete the early message, the
// previous one was simply too long (a size error); otherwise the sender did
// not wait (an order error).
type violation struct {
	idx      int // the early message
	want     int // the other side's first message not yet complete then
	prevSize int // the size the message before it was cut at
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
	last       int // size of the last message completed
	buf        []byte
	frames     []int
	turnStart  int
	misaligned bool // a size or framing error: boundaries are unknown from here on
	pending    *violation
	// sizing: a proxy-phase record whose size is decided by where it
	// authenticates (275 or 531 bytes). grown: a request (node-a's side
	// only) that did not authenticate at 275 bytes, read on to 531; cut is
	// how many of its frames the first 275 bytes span. A response that
	// does not authenticate at 275 bytes is simply 531 bytes long, so it
	// never grows.
	sizing bool
	grown  bool
	cut    int
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
			st.last = st.filled
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
		st.size = conformance.ResponseRecordLen
		if side == 0 {
			st.grown, st.cut = true, len(st.frames)
		}
		return true
	}
	if st.grown && s.authenticates(side, st.buf) {
		st.grown = false // a 531-byte request
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
			st.pending = &violation{idx: idx, want: o.msgs, boundary: st.pos, frame: frame, prevSize: st.last}
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
	// If the sender did not complete the early message, the one before it
	// was too long: as long as it was cut, plus n. Proxy-phase records are
	// cut where they authenticate (275 or 531 bytes, resize), not always at
	// their planned size: an early response complete at 275 bytes is an
	// order error, and a 531-byte request before the early message is 531.
	pl := s.plan(side, v.idx)
	if pl.size > 0 && n < pl.size && st.msgs <= v.idx && v.idx > 0 {
		prev := s.plan(side, v.idx-1)
		s.sizeError(a, side, prev, v.prevSize+n, v.frame)
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
