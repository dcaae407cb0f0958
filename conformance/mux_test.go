package conformance

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

func TestLadderTableMatchesSpec(t *testing.T) {
	// nexus-wire.md §5.2, payload column, and the lengths column.
	want := []struct {
		hex string
		len int
	}{
		{"4d5801020101000000000f63726f7373766d2f636f6e74726f6c0102000000040c63726f7373766d2f62756c6b", 45},
		{"4d580102020100000000020200000004", 16},
		{"4d58010203010000000020000302000000046000", 20},
		{"4d58010203010000000018000302000000044000", 20},
		{"", 0},
		{"", 0},
	}
	steps := Ladder()
	if len(steps) != 6 {
		t.Fatalf("len(Ladder()) = %d, want 6", len(steps))
	}
	for i, s := range steps {
		p, err := s.Payload()
		if err != nil {
			t.Fatalf("step %d: %v", i+1, err)
		}
		if got := hexString(p); got != want[i].hex || len(p) != want[i].len {
			t.Errorf("step %d payload = %s (%d bytes), want %s (%d)", i+1, got, len(p), want[i].hex, want[i].len)
		}
		if s.Step != i+1 || s.Kind != byte(KindOpenBatch+i) || s.Nonce != uint64(i/2) {
			t.Errorf("step %d: Step %d Kind %#02x Nonce %d", i+1, s.Step, s.Kind, s.Nonce)
		}
		if wantFrom := []Role{RoleA, RoleB}[i%2]; s.From != wantFrom {
			t.Errorf("step %d: From %v, want %v", i+1, s.From, wantFrom)
		}
	}
}

func hexString(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

func TestParseBatchRoundTrip(t *testing.T) {
	for _, s := range Ladder() {
		if s.Events == nil {
			continue
		}
		p, _ := s.Payload()
		got, err := ParseBatch(p)
		if err != nil || !reflect.DeepEqual(got, s.Events) {
			t.Errorf("step %d: ParseBatch = %+v, %v; want %+v", s.Step, got, err, s.Events)
		}
	}
	if got, err := ParseBatch([]byte("MX\x01\x00")); err != nil || len(got) != 0 {
		t.Errorf("empty batch = %v, %v", got, err)
	}
}

func TestParseBatchErrors(t *testing.T) {
	open1, _ := Ladder()[0].Payload()
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrTruncated},
		{"short-header", []byte("MX\x01"), ErrTruncated},
		{"bad-magic", []byte("MY\x01\x00"), ErrBadMagic},
		{"version-2", []byte("MX\x02\x00"), ErrUnsupportedVersion},
		{"count-9", []byte("MX\x01\x09"), ErrInvalidInput},
		{"missing-event", []byte("MX\x01\x01"), ErrTruncated},
		{"trailing", append(bytes.Clone(open1), 0), ErrTrailingBytes},
		{"truncated-name", open1[:len(open1)-1], ErrTruncated},
		{"stream-0", []byte("MX\x01\x01\x02\x00\x00\x00\x00\x00"), ErrInvalidInput},
		{"prio-8", []byte("MX\x01\x01\x02\x01\x00\x00\x00\x08"), ErrInvalidInput},
		{"unknown-event", []byte("MX\x01\x01\x04\x01\x00\x00\x00\x00"), ErrUnknownKind},
		{"name-len-0", []byte("MX\x01\x01\x01\x01\x00\x00\x00\x00\x00"), ErrInvalidInput},
		{"name-len-65", append([]byte("MX\x01\x01\x01\x01\x00\x00\x00\x00\x41"), make([]byte, 65)...), ErrInvalidInput},
		{"name-utf8", []byte("MX\x01\x01\x01\x01\x00\x00\x00\x00\x01\xff"), ErrUTF8},
		{"data-short", []byte("MX\x01\x01\x03\x01\x00\x00\x00\x00\x20"), ErrTruncated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ParseBatch(tt.in); !errors.Is(err, tt.want) {
				t.Errorf("ParseBatch(%x) error = %v, want %v", tt.in, err, tt.want)
			}
		})
	}
	if _, err := AppendBatch(nil, make([]MuxEvent, 9)); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("AppendBatch(9 events) error = %v, want ErrInvalidInput", err)
	}
	if _, err := AppendBatch(nil, []MuxEvent{{Kind: EventOpen, Stream: 1}}); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("AppendBatch(open without a name) error = %v, want ErrInvalidInput", err)
	}
}

func TestLadderCheck(t *testing.T) {
	steps := Ladder()
	rec := func(s LadderStep) Record { p, _ := s.Payload(); return Record{Kind: s.Kind, Payload: p} }
	withEvents := func(s LadderStep, mod func([]MuxEvent)) Record {
		s.Events = append([]MuxEvent(nil), s.Events...)
		mod(s.Events)
		return rec(s)
	}
	// split sends stream 1's Data as two events of n and the rest.
	split := func(s LadderStep, n uint16, short uint16) Record {
		ctl, bulk := s.Events[0], s.Events[1]
		first, second := ctl, ctl
		first.Len, second.Len = n, ctl.Len-n-short
		s.Events = []MuxEvent{first, bulk, second}
		return rec(s)
	}
	tests := []struct {
		name string
		step int
		rec  Record
		want error
	}{
		{"open-ok", 0, rec(steps[0]), nil},
		{"data-split-summed-per-stream", 2, split(steps[2], 16, 0), nil},
		{"data-split-short-of-b", 2, split(steps[2], 16, 1), ErrLadder},
		{"echo-split-summed-per-stream", 3, split(steps[3], 20, 0), nil},
		{"wrong-kind", 0, Record{Kind: KindDataBatch, Payload: rec(steps[0]).Payload}, ErrLadder},
		{"reordered-ladder", 2, rec(steps[4]), ErrLadder},
		{"open-wrong-name", 0, withEvents(steps[0], func(e []MuxEvent) { e[1].Name = "crossvm/other" }), ErrLadder},
		{"open-missing-stream", 0, withEvents(steps[0], func(e []MuxEvent) { e[1].Stream = 3 }), ErrLadder},
		{"data-too-small-for-b", 2, withEvents(steps[2], func(e []MuxEvent) { e[1].Len = 95 }), ErrLadder},
		{"data-larger-ok", 2, withEvents(steps[2], func(e []MuxEvent) { e[0].Len = 1000 }), nil},
		{"echo-too-small-for-a", 3, withEvents(steps[3], func(e []MuxEvent) { e[0].Len = 23 }), ErrLadder},
		{"echo-at-a-minimum", 3, rec(steps[3]), nil},
		{"bad-batch", 1, Record{Kind: KindOpenAckBatch, Payload: []byte("MX")}, ErrTruncated},
		{"final-sync-ok", 4, rec(steps[4]), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := steps[tt.step].Check(tt.rec); !errors.Is(err, tt.want) {
				t.Errorf("step %d Check error = %v, want %v", tt.step+1, err, tt.want)
			}
		})
	}
}
