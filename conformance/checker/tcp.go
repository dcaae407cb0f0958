package checker

import (
	"slices"
)

// Reassembly bounds.
const (
	// DefaultMaxBuffered is the default cap on out-of-order bytes one
	// stream buffers while it waits for a hole to fill.
	DefaultMaxBuffered = 64 << 10
	// maxWindow: data further ahead than this is not buffered at all (a
	// corrupt or foreign sequence number, not a hole).
	maxWindow = 1 << 20
	// maxLost bounds the remembered hub drops per stream.
	maxLost = 64
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
// tail drop at egress): the retransmission that follows is explained by it.
type lostSeg struct {
	seq, end uint32
	frame    int
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

	lost []lostSeg

	delivered      int64
	retrans        int // segments carrying only bytes seen before
	explained      int // retransmissions of a segment the hub dropped
	retransFrames  []int
	explainFrames  []int // the dropped originals
	keepalives     int
	outOfWindow    int
	outOfWinFrames []int
}

// sink receives contiguous stream bytes; it must not retain data.
type sink func(data []byte, frame int)

// segment feeds one TCP segment. reverseDrop reports (and consumes) a drop
// in the other direction, which explains a retransmission whose ACK was lost.
func (s *stream) segment(seq uint32, data []byte, flags uint8, frame int, out sink, reverseDrop func() bool) {
	if flags&tcpSYN != 0 {
		if s.synSeen && seq == s.isn {
			s.retransmitted(seq, seq+1, frame, reverseDrop)
			return
		}
		if !s.started {
			s.isn, s.next, s.synSeen, s.started = seq, seq+1, true, true
			if f, ok := s.takeLost(seq, seq+1); ok { // the first SYN was dropped
				s.retrans++
				s.explained++
				s.retransFrames = appendFrames(s.retransFrames, frame)
				s.explainFrames = appendFrames(s.explainFrames, f)
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
	} else if f, ok := s.takeLost(seq, end); ok {
		// The first copy the peer could see, of bytes the hub dropped.
		s.retrans++
		s.explained++
		s.retransFrames = appendFrames(s.retransFrames, frame)
		s.explainFrames = appendFrames(s.explainFrames, f)
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
func (s *stream) retransmitted(seq, end uint32, frame int, reverseDrop func() bool) {
	s.retrans++
	s.retransFrames = appendFrames(s.retransFrames, frame)
	if f, ok := s.takeLost(seq, end); ok {
		s.explained++
		s.explainFrames = appendFrames(s.explainFrames, f)
	} else if reverseDrop != nil && reverseDrop() {
		s.explained++
	}
}

// dropped remembers a segment the hub did not deliver.
func (s *stream) dropped(seq uint32, n int, flags uint8, frame int) {
	if flags&tcpSYN != 0 {
		n++
	}
	if n == 0 {
		return
	}
	if len(s.lost) >= maxLost {
		s.lost = s.lost[1:]
	}
	s.lost = append(s.lost, lostSeg{seq: seq, end: seq + uint32(n), frame: frame})
}

func (s *stream) matchLost(seq, end uint32) bool {
	for _, l := range s.lost {
		if seqLT(seq, l.end) && seqLT(l.seq, end) {
			return true
		}
	}
	return false
}

func (s *stream) takeLost(seq, end uint32) (frame int, ok bool) {
	for i, l := range s.lost {
		if seqLT(seq, l.end) && seqLT(l.seq, end) {
			s.lost = slices.Delete(s.lost, i, i+1)
			return l.frame, true
		}
	}
	return 0, false
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
