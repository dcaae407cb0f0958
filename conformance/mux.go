package conformance

import (
	"encoding/binary"
	"fmt"
)

// Mux ladder record kinds (nexus-wire.md §5.2), the Kind of a RequestRecord.
const (
	KindOpenBatch     = 0x31 // A → B
	KindOpenAckBatch  = 0x32 // B → A
	KindDataBatch     = 0x33 // A → B
	KindDataEchoBatch = 0x34 // B → A
	KindFinalSync     = 0x35 // A → B, no payload
	KindFinalAck      = 0x36 // B → A, no payload
)

// Batch format bounds.
const (
	BatchVersion      = 1
	MaxBatchEvents    = 8
	MaxStreamNameLen  = 64
	MaxStreamPriority = 7
)

// BatchMagic opens every batch.
var BatchMagic = [2]byte{'M', 'X'}

// EventKind is the type of one mux event.
type EventKind uint8

const (
	EventOpen    EventKind = 1 // stream id, priority, name
	EventOpenAck EventKind = 2 // stream id, priority
	EventData    EventKind = 3 // stream id, priority, payload length (no bytes follow)
)

func (k EventKind) String() string {
	switch k {
	case EventOpen:
		return "open"
	case EventOpenAck:
		return "open-ack"
	case EventData:
		return "data"
	}
	return fmt.Sprintf("event-%#02x", uint8(k))
}

// MuxEvent is one event of a batch: kind ‖ stream u32le ‖ prio, then the
// name for Open and a u16le length for Data.
type MuxEvent struct {
	Kind     EventKind
	Stream   uint32 // never 0
	Priority uint8  // 0..7
	Name     string // Open only: 1..64 bytes of UTF-8
	Len      uint16 // Data only: the payload length (the bytes are not sent)
}

// AppendBatch appends 'M' 'X' 01 count ‖ events to dst.
func AppendBatch(dst []byte, events []MuxEvent) ([]byte, error) {
	if len(events) > MaxBatchEvents {
		return dst, fmt.Errorf("mux batch: %d events, at most %d: %w", len(events), MaxBatchEvents, ErrInvalidInput)
	}
	out := append(dst, BatchMagic[0], BatchMagic[1], BatchVersion, byte(len(events)))
	for i, e := range events {
		if err := e.check(); err != nil {
			return dst, fmt.Errorf("mux batch event %d: %w", i, err)
		}
		out = append(out, byte(e.Kind))
		out = binary.LittleEndian.AppendUint32(out, e.Stream)
		out = append(out, e.Priority)
		switch e.Kind {
		case EventOpen:
			out = append(out, byte(len(e.Name)))
			out = append(out, e.Name...)
		case EventData:
			out = binary.LittleEndian.AppendUint16(out, e.Len)
		}
	}
	return out, nil
}

func (e MuxEvent) check() error {
	switch {
	case e.Kind != EventOpen && e.Kind != EventOpenAck && e.Kind != EventData:
		return fmt.Errorf("%v: %w", e.Kind, ErrUnknownKind)
	case e.Stream == 0:
		return fmt.Errorf("stream id 0: %w", ErrInvalidInput)
	case e.Priority > MaxStreamPriority:
		return fmt.Errorf("priority %d, at most %d: %w", e.Priority, MaxStreamPriority, ErrInvalidInput)
	case e.Kind == EventOpen:
		return checkName("stream name", e.Name, MaxStreamNameLen)
	}
	return nil
}

// ParseBatch decodes a batch, which must be consumed exactly
// (ErrTrailingBytes otherwise). Names are copied; the result does not alias b.
func ParseBatch(b []byte) ([]MuxEvent, error) {
	r := cursor{b: b}
	hdr, err := r.take(4)
	if err != nil {
		return nil, fmt.Errorf("mux batch header: %w", err)
	}
	if [2]byte(hdr[:2]) != BatchMagic {
		return nil, fmt.Errorf("mux batch: %w % x", ErrBadMagic, hdr[:2])
	}
	if hdr[2] != BatchVersion {
		return nil, &VersionError{What: "mux batch", Version: hdr[2]}
	}
	count := int(hdr[3])
	if count > MaxBatchEvents {
		return nil, fmt.Errorf("mux batch: %d events, at most %d: %w", count, MaxBatchEvents, ErrInvalidInput)
	}
	events := make([]MuxEvent, 0, count)
	for i := range count {
		e, err := r.event()
		if err != nil {
			return nil, fmt.Errorf("mux batch event %d: %w", i, err)
		}
		events = append(events, e)
	}
	if len(r.b) != 0 {
		return nil, fmt.Errorf("mux batch: %d bytes after %d events: %w", len(r.b), count, ErrTrailingBytes)
	}
	return events, nil
}

func (r *cursor) event() (MuxEvent, error) {
	head, err := r.take(6)
	if err != nil {
		return MuxEvent{}, err
	}
	e := MuxEvent{
		Kind:     EventKind(head[0]),
		Stream:   binary.LittleEndian.Uint32(head[1:5]),
		Priority: head[5],
	}
	switch e.Kind {
	case EventOpen:
		if e.Name, err = r.name("stream name", MaxStreamNameLen); err != nil {
			return e, err
		}
	case EventData:
		l, err := r.take(2)
		if err != nil {
			return e, fmt.Errorf("data length: %w", err)
		}
		e.Len = binary.LittleEndian.Uint16(l)
	case EventOpenAck:
	default:
		return e, fmt.Errorf("%v: %w", e.Kind, ErrUnknownKind)
	}
	if err := e.check(); err != nil {
		return e, err
	}
	return e, nil
}

// Ladder stream names and the buffered counts each side requires.
const (
	StreamControl = "crossvm/control" // stream 1, priority 0
	StreamBulk    = "crossvm/bulk"    // stream 2, priority 4
)

// LadderStep is one of the six mandatory records before any proxy traffic.
type LadderStep struct {
	Step   int    // 1..6
	From   Role   // sender
	Nonce  uint64 // the sender's record nonce
	Kind   byte   // Kind* constant
	Events []MuxEvent
	// MinLens, for Data steps, are the bytes the receiver requires buffered
	// per stream (1: control, 2: bulk), the sum of the stream's Data Lens:
	// node-b requires 32 and 96, node-a 24 and 64.
	MinLens map[uint32]uint16
}

// Ladder returns the six ladder steps of nexus-wire.md §5.2, freshly built.
func Ladder() []LadderStep {
	ctl := func(k EventKind) MuxEvent { return MuxEvent{Kind: k, Stream: 1, Priority: 0} }
	bulk := func(k EventKind) MuxEvent { return MuxEvent{Kind: k, Stream: 2, Priority: 4} }
	open := func(e MuxEvent, name string) MuxEvent { e.Name = name; return e }
	data := func(e MuxEvent, n uint16) MuxEvent { e.Len = n; return e }
	return []LadderStep{
		{Step: 1, From: RoleA, Nonce: 0, Kind: KindOpenBatch, Events: []MuxEvent{open(ctl(EventOpen), StreamControl), open(bulk(EventOpen), StreamBulk)}},
		{Step: 2, From: RoleB, Nonce: 0, Kind: KindOpenAckBatch, Events: []MuxEvent{ctl(EventOpenAck), bulk(EventOpenAck)}},
		{Step: 3, From: RoleA, Nonce: 1, Kind: KindDataBatch, Events: []MuxEvent{data(ctl(EventData), 32), data(bulk(EventData), 96)},
			MinLens: map[uint32]uint16{1: 32, 2: 96}},
		{Step: 4, From: RoleB, Nonce: 1, Kind: KindDataEchoBatch, Events: []MuxEvent{data(ctl(EventData), 24), data(bulk(EventData), 64)},
			MinLens: map[uint32]uint16{1: 24, 2: 64}},
		{Step: 5, From: RoleA, Nonce: 2, Kind: KindFinalSync},
		{Step: 6, From: RoleB, Nonce: 2, Kind: KindFinalAck},
	}
}

// Payload is the step's record payload: the encoded batch, or nothing.
func (s LadderStep) Payload() ([]byte, error) {
	if s.Events == nil {
		return nil, nil
	}
	b, err := AppendBatch(nil, s.Events)
	if err != nil {
		return nil, fmt.Errorf("ladder step %d: %w", s.Step, err)
	}
	return b, nil
}

// Check applies the receiver's rule for this step to a decrypted record:
// the kind must match, a batch must decode, Open names must be the ladder's
// streams and each stream's Data lengths, summed, must reach MinLens.
func (s LadderStep) Check(rec Record) error {
	if rec.Kind != s.Kind {
		return fmt.Errorf("ladder step %d: kind %#02x, want %#02x: %w", s.Step, rec.Kind, s.Kind, ErrLadder)
	}
	if s.Events == nil {
		return nil
	}
	events, err := ParseBatch(rec.Payload)
	if err != nil {
		return fmt.Errorf("ladder step %d: %w", s.Step, err)
	}
	// §5.2 says the receiver "requires buffered counts"; the OS ingests
	// every event into its MuxHostEndpoint and then checks buffered_bytes
	// per stream (cross_vm.rs at f5405da0, :366-377 and :466-476), so
	// several Data events of one stream count together.
	seen := map[uint32]MuxEvent{}
	buffered := map[uint32]int{}
	for _, e := range events {
		seen[e.Stream] = e
		if e.Kind == EventData {
			buffered[e.Stream] += int(e.Len)
		}
	}
	for _, want := range s.Events {
		got, ok := seen[want.Stream]
		switch {
		case !ok || got.Kind != want.Kind:
			return fmt.Errorf("ladder step %d: no %v event for stream %d: %w", s.Step, want.Kind, want.Stream, ErrLadder)
		case want.Kind == EventOpen && got.Name != want.Name:
			return fmt.Errorf("ladder step %d: stream %d named %q, want %q: %w", s.Step, want.Stream, got.Name, want.Name, ErrLadder)
		case want.Kind == EventData && buffered[want.Stream] < int(s.MinLens[want.Stream]):
			return fmt.Errorf("ladder step %d: stream %d holds %d bytes, want at least %d: %w", s.Step, want.Stream, buffered[want.Stream], s.MinLens[want.Stream], ErrLadder)
		}
	}
	return nil
}
