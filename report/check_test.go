package report

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"testing"
)

// captureBlocks splits a little-endian pcapng file into its blocks.
func captureBlocks(t *testing.T, data []byte) [][]byte {
	t.Helper()
	var blocks [][]byte
	for len(data) >= 12 {
		n := int(binary.LittleEndian.Uint32(data[4:]))
		if n < 12 || n > len(data) {
			t.Fatalf("block of %d bytes with %d left", n, len(data))
		}
		blocks = append(blocks, data[:n])
		data = data[n:]
	}
	return blocks
}

// endless reads data over and over (zeros when it is nil) up to limit
// bytes, then io.EOF: a stream that does not end, but for the test's
// sake. Once it has given at bytes, it calls then.
type endless struct {
	data        []byte
	offset      int
	read, limit int64
	at          int64
	then        func()
}

func (e *endless) Read(p []byte) (int, error) {
	if e.read >= e.limit {
		return 0, io.EOF
	}
	if e.then != nil && e.read >= e.at {
		e.then()
		e.then = nil
	}
	n := int(min(int64(len(p)), e.limit-e.read))
	if e.data == nil {
		clear(p[:n])
	} else {
		for i := range n {
			p[i] = e.data[e.offset]
			e.offset = (e.offset + 1) % len(e.data)
		}
	}
	e.read += int64(n)
	return n, nil
}

// TestCheckStopsWithTheChecker: a capture that breaks part-way (a block
// that claims 2 GiB) and then never ends (a FIFO its writer keeps open, a
// process substitution of /dev/zero) is drawn and judged up to the break,
// and then no longer read: the report and the checker both stopped there.
// The review: the report read on for the checker that had stopped, for
// ever.
func TestCheckStopsWithTheChecker(t *testing.T) {
	blocks := captureBlocks(t, readFile(t, failingRun))
	var head []byte
	for _, b := range blocks[:14] {
		head = append(head, b...)
	}
	broken := bytes.Clone(blocks[14][:8])
	binary.LittleEndian.PutUint32(broken[4:], 0x7ffffff0)
	head = append(head, broken...)
	rest := &endless{limit: 64 << 20}
	opts, profile, err := Options{Capture: "endless.pcapng", Check: "nexus-v1"}.prepare()
	if err != nil {
		t.Fatal(err)
	}
	m, err := buildFrom(context.Background(), opts, profile, io.MultiReader(bytes.NewReader(head), rest))
	if err != nil {
		t.Fatal(err)
	}
	if m.Stopped == nil || m.Check == nil || m.Check.Error == "" {
		t.Errorf("got the report stopped at %v and the check %+v, want both stopped at the broken block", m.Stopped, m.Check)
	}
	if rest.read > 1<<20 {
		t.Errorf("got %d bytes read past the broken block, want little more than the one read that found it", rest.read)
	}
}

// TestBuildStopsWithItsContext: a report of a capture that does not end
// (a live hub's FIFO) stops reading when its context ends (the first
// Ctrl-C), and says why: it read on, whatever the context said, up to
// Limits.MaxFrames.
func TestBuildStopsWithItsContext(t *testing.T) {
	blocks := captureBlocks(t, readFile(t, failingRun))
	var head []byte
	for _, b := range blocks[:14] {
		head = append(head, b...)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rest := &endless{data: blocks[13], limit: 64 << 20, at: 1 << 20, then: cancel} // the same record, over and over
	opts, profile, err := Options{Capture: "endless.pcapng", Limits: Limits{MaxFrames: 200_000}}.prepare()
	if err != nil {
		t.Fatal(err)
	}
	m, err := buildFrom(ctx, opts, profile, io.MultiReader(bytes.NewReader(head), rest))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("got Build = %v, %v, want %v", m != nil, err, context.Canceled)
	}
	if rest.read > 2<<20 {
		t.Errorf("got %d bytes read, want it to stop soon after the first %d (when the context ended)", rest.read, 1<<20)
	}
}
