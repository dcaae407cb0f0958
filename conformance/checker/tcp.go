package checker

import (
	"slices"
	"time"
)

// Reassembly bounds.
const (
	// DefaultMaxBuffered is the default cap on out-of-order bytes one
	// stream buffers while it waits for a hole to fill.
	DefaultMaxBuffered = 64 << 10
	// maxWindow: data further ahead than this is not buffered at all (a
	// corrupt or foreign sequence number, not a hole).
	maxWindow = 1 << 20
	// maxLost bounds the remembered hub drops per stream, and the
	// unexplained retransmissions kept for a held copy to explain.
	maxLost = 64
)

// cause is the hub fault that explains a retransmission.
type cause uint8

const (
	causeLoss    cause = iota // the hub did not deliver the frame to its receiver
	causeCorrupt              // the hub delivered a corrupted copy, which the receiver discards
	causeHeld                 // the hub held the frame, or its ACK, while the sender's timer ran
	numCauses
)

func seqLT(a, b uint32) bool  { return int32(a-b) < 0 }
func seqLEQ(a, b uint32) bool { return int32(a-b) <= 0 }

type oooSeg struct {
	seq   uint32
	data  []byte
	frame int
}

func (s oooSeg) end() uint32 { return s.seq + uint32(len(s.data)) }

// lostSeg is a segment the hub did not deliver (a policy drop at ingress, a
// tail drop at egress) or corrupted: the retransmission that follows is
// explained by it.
type lostSeg struct {
	seq, end uint32
	frame    int
	cause    cause
}

// resent is a retransmission nothing explained yet: a copy of the original,
// or of its ACK, that the hub still holds may explain it when it leaves.
type resent struct {
	seq, end uint32
	frame    int
	at       time.Time
}

// ackMark is an acknowledgement of a stream's bytes below ack, sent at at.
type ackMark struct {
	ack uint32
	at  time.Time
}

// stream reassembles one direction of a TCP connection. Contiguous bytes go
// to the sink as they become contiguous, each chunk with the frame that
// completed it; retransmitted and overlapping bytes are delivered once (the
// first copy wins), out-of-order bytes wait, up to maxBuffered.
type stream struct {
	started, synSeen bool
	isn, next        uint32
	finSeen, closed  bool
	fin              uint32

	ooo         []oooSeg // sorted by sequence, non-overlapping
	oooBytes    int
	maxBuffered int
	capDropped  int
	capFrames   []int

	lost   []lostSeg
	resent []resent // unexplained retransmissions, the last maxLost
	// acks is when the receiver first acknowledged each new high point of
	// this stream, the last maxLost; ackFloor (if ackFloorSet) is the
	// highest that fell out. A held ACK explains a retransmission only of
	// bytes no earlier ACK covered.
	acks        []ackMark
	ackFloor    uint32
	ackFloorSet bool

	// at is the time of the segment being fed, zero if unknown.
	at time.Time

	delivered      int64
	retrans        int // segments carrying only bytes seen before
	explained      int // retransmissions the hub's faults explain
	by             [numCauses]int
	retransFrames  []int
	explainFrames  []int // the dropped, corrupted or held frames
	keepalives     int
	outOfWindow    int
	outOfWinFrames []int
}

// sink receives contiguous stream bytes; it must not retain data.
type sink func(data []byte, frame int)

// reverseLoss reports (and consumes) a loss in the other direction, which
// explains a retransmission whose ACK was lost.
type reverseLoss func() (cause, bool)

// segment feeds one TCP segment, sent at s.at.
func (s *stream) segment(seq uint32, data []byte, flags uint8, frame int, out sink, reverseDrop reverseLoss) {
	if flags&tcpSYN != 0 {
		if s.synSeen && seq == s.isn {
			s.retransmitted(seq, seq+1, frame, reverseDrop)
			return
		}
		if !s.started {
			s.isn, s.next, s.synSeen, s.started = seq, seq+1, true, true
			if l, ok := s.takeLost(seq, seq+1); ok { // the first SYN was dropped
				s.retrans++
				s.retransFrames = appendFrames(s.retransFrames, frame)
				s.explain(l.cause, l.frame)
			}
		}
		seq++
	}
	if !s.started {
		s.started, s.next = true, seq
	}
	end := seq + uint32(len(data))
	if flags&tcpFIN != 0 && !s.finSeen {
		s.finSeen, s.fin = true, end
	}
	defer s.checkClosed()
	if len(data) == 0 {
		return
	}
	if seqLEQ(end, s.next) {
		if len(data) == 1 && end == s.next && !s.matchLost(seq, end) {
			s.keepalives++ // a keep-alive probe: one old byte at snd.nxt-1
			return
		}
		s.retransmitted(seq, end, frame, reverseDrop)
		return
	}
	if seqLT(seq, s.next) {
		s.retransmitted(seq, s.next, frame, reverseDrop)
		data = data[s.next-seq:]
		seq = s.next
	} else if l, ok := s.takeLost(seq, end); ok {
		// The first copy the peer could see, of bytes the hub dropped.
		s.retrans++
		s.retransFrames = appendFrames(s.retransFrames, frame)
		s.explain(l.cause, l.frame)
	}
	if seq != s.next {
		s.buffer(seq, data, frame)
		return
	}
	s.deliver(data, frame, out)
	s.drain(out)
}

func (s *stream) deliver(data []byte, frame int, out sink) {
	s.next += uint32(len(data))
	s.delivered += int64(len(data))
	if out != nil {
		out(data, frame)
	}
}

func (s *stream) drain(out sink) {
	for len(s.ooo) > 0 && seqLEQ(s.ooo[0].seq, s.next) {
		e := s.ooo[0]
		s.ooo = s.ooo[1:]
		s.oooBytes -= len(e.data)
		if seqLT(s.next, e.end()) {
			s.deliver(e.data[s.next-e.seq:], e.frame, out)
		}
	}
	if len(s.ooo) == 0 {
		s.ooo = nil
	}
}

func (s *stream) checkClosed() {
	if s.finSeen && s.next == s.fin {
		s.closed = true
	}
}

// retransmitted counts a segment whose bytes [seq, end) came before.
func (s *stream) retransmitted(seq, end uint32, frame int, reverseDrop reverseLoss) {
	s.retrans++
	s.retransFrames = appendFrames(s.retransFrames, frame)
	if l, ok := s.takeLost(seq, end); ok {
		s.explain(l.cause, l.frame)
		return
	}
	if reverseDrop != nil {
		if c, ok := reverseDrop(); ok {
			s.explain(c, 0)
			return
		}
	}
	if len(s.resent) >= maxLost {
		s.resent = s.resent[1:]
	}
	s.resent = append(s.resent, resent{seq: seq, end: end, frame: frame, at: s.at})
}

// explain counts one retransmission explained by c, citing the hub's frame
// (0 if none).
func (s *stream) explain(c cause, frame int) {
	s.explained++
	s.by[c]++
	s.explainFrames = appendFrames(s.explainFrames, frame)
}

// held explains the unexplained retransmissions the hub caused by holding
// a copy from since until it left at frame: those sent in that time, of
// bytes the copy carried (heldCopy) or acknowledged (heldAck). The
// sender's timer ran out while the hub held the segment, or its ACK.
func (s *stream) held(covers func(r resent) bool, since time.Time, frame int) {
	kept := s.resent[:0]
	for _, r := range s.resent {
		if covers(r) && !r.at.IsZero() && r.at.After(since) && r.frame < frame {
			s.explain(causeHeld, frame)
			continue
		}
		kept = append(kept, r)
	}
	s.resent = kept
}

// heldCopy: the hub held a copy of this stream's bytes [seq, end).
func (s *stream) heldCopy(seq, end uint32, since time.Time, frame int) {
	s.held(func(r resent) bool { return seqLT(seq, r.end) && seqLT(r.seq, end) }, since, frame)
}

// heldAck: the hub held, from since, a segment of the other direction that
// acknowledged this stream's bytes below ack. It explains a retransmission
// of those bytes only if it was the first to acknowledge some of them: the
// sender's timer for them was running while the hub held it. An ACK that
// covered them and came in before since had stopped that timer (or its
// own delay explains the resend).
func (s *stream) heldAck(ack uint32, since time.Time, frame int) {
	before, ok := s.ackedBefore(since)
	s.held(func(r resent) bool {
		return seqLT(r.seq, ack) && (!ok || seqLT(before, r.end))
	}, since, frame)
}

// acked notes that the receiver acknowledged this stream's bytes below ack
// at at (zero if unknown).
func (s *stream) acked(ack uint32, at time.Time) {
	if at.IsZero() || (len(s.acks) > 0 && !seqLT(s.acks[len(s.acks)-1].ack, ack)) {
		return
	}
	if len(s.acks) >= maxLost {
		s.ackFloor, s.ackFloorSet = s.acks[0].ack, true
		s.acks = s.acks[1:]
	}
	s.acks = append(s.acks, ackMark{ack: ack, at: at})
}

// ackedBefore is the highest acknowledgement the receiver sent before t;
// ok is false if none is known.
func (s *stream) ackedBefore(t time.Time) (ack uint32, ok bool) {
	ack, ok = s.ackFloor, s.ackFloorSet
	for _, a := range s.acks {
		if !a.at.Before(t) {
			break
		}
		ack, ok = a.ack, true
	}
	return ack, ok
}

// dropped remembers a segment the hub did not deliver, or corrupted.
func (s *stream) dropped(seq uint32, n int, flags uint8, frame int, c cause) {
	if flags&tcpSYN != 0 {
		n++
	}
	if n == 0 {
		return
	}
	if len(s.lost) >= maxLost {
		s.lost = s.lost[1:]
	}
	s.lost = append(s.lost, lostSeg{seq: seq, end: seq + uint32(n), frame: frame, cause: c})
}

func (s *stream) matchLost(seq, end uint32) bool {
	for _, l := range s.lost {
		if seqLT(seq, l.end) && seqLT(l.seq, end) {
			return true
		}
	}
	return false
}

func (s *stream) takeLost(seq, end uint32) (lostSeg, bool) {
	for i, l := range s.lost {
		if seqLT(seq, l.end) && seqLT(l.seq, end) {
			s.lost = slices.Delete(s.lost, i, i+1)
			return l, true
		}
	}
	return lostSeg{}, false
}

// buffer keeps the bytes of an out-of-order segment that no buffered segment
// already holds, within maxBuffered.
func (s *stream) buffer(seq uint32, data []byte, frame int) {
	if int32(seq-s.next) > maxWindow {
		s.outOfWindow++
		s.outOfWinFrames = appendFrames(s.outOfWinFrames, frame)
		return
	}
	end := seq + uint32(len(data))
	cur := seq
	overlapped := false
	var pieces []oooSeg
	for _, e := range s.ooo {
		if seqLEQ(e.end(), cur) {
			continue
		}
		if seqLEQ(end, e.seq) {
			break
		}
		if seqLT(cur, e.seq) {
			pieces = append(pieces, oooSeg{seq: cur, data: data[cur-seq : e.seq-seq], frame: frame})
		}
		overlapped = true
		cur = e.end()
	}
	if seqLT(cur, end) {
		pieces = append(pieces, oooSeg{seq: cur, data: data[cur-seq:], frame: frame})
	}
	if overlapped {
		s.retrans++
		s.retransFrames = appendFrames(s.retransFrames, frame)
	}
	for _, p := range pieces {
		room := s.maxBuffered - s.oooBytes
		if room <= 0 {
			s.capDropped += len(p.data)
			s.capFrames = appendFrames(s.capFrames, frame)
			continue
		}
		if len(p.data) > room {
			s.capDropped += len(p.data) - room
			s.capFrames = appendFrames(s.capFrames, frame)
			p.data = p.data[:room]
		}
		p.data = slices.Clone(p.data)
		s.oooBytes += len(p.data)
		i, _ := slices.BinarySearchFunc(s.ooo, p.seq, func(e oooSeg, t uint32) int { return int(int32(e.seq - t)) })
		s.ooo = slices.Insert(s.ooo, i, p)
	}
}

// hole returns the bytes waiting beyond a hole and the first frame that
// carried them.
func (s *stream) hole() (bytes, frame int) {
	if len(s.ooo) == 0 {
		return 0, 0
	}
	return s.oooBytes, s.ooo[0].frame
}
