package replay

import (
	"context"
	"slices"
	"strings"
	"testing"

	"l2hub/hub/hubtest"
)

// spbCapture is a pcapng whose frames are Simple Packet Blocks, which
// carry no time: a section header, an Ethernet interface, and one block
// per frame.
func spbCapture(frames ...[]byte) []byte {
	block := func(b []byte, typ uint32, body []byte) []byte {
		n := uint32(12 + len(body))
		b = appendLE32(appendLE32(b, typ), n)
		return appendLE32(append(b, body...), n)
	}
	shb := appendLE32(nil, 0x1a2b3c4d)
	shb = append(shb, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff) // version 1.0, length unknown
	b := block(nil, 0x0a0d0d0a, shb)
	b = block(b, 1, []byte{1, 0, 0, 0, 0, 0, 0, 0}) // Ethernet, no snaplen
	for _, f := range frames {
		body := appendLE32(nil, uint32(len(f)))
		body = append(body, f...)
		for len(body)%4 != 0 {
			body = append(body, 0)
		}
		b = block(b, 3, body)
	}
	return b
}

// TestReplaySimplePacketBlocksHaveNoTime: frames of Simple Packet Blocks
// have no time; they are replayed at the time reached, counted and said
// so, not taken for a clock that ran back to 1970.
func TestReplaySimplePacketBlocksHaveNoTime(t *testing.T) {
	data := spbCapture(hubtest.Frame(macB, macA, "one"), hubtest.Frame(macA, macB, "two"), hubtest.Frame(macB, macA, "three"))
	r, err := Open(Config{Inputs: []Input{memInput("spb.pcapng", data)}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.Run(context.Background(), RunConfig{})
	if err != nil {
		t.Fatal(err)
	}
	in := res.Inputs[0]
	if res.Replayed != 3 || in.Untimed != 3 || in.Back != 0 {
		t.Errorf("got %d replayed, %d untimed, %d stamped back, want 3, 3 and 0", res.Replayed, in.Untimed, in.Back)
	}
	ws := (&JobResult{Result: res}).Warnings()
	if !slices.ContainsFunc(ws, func(n Note) bool { return strings.Contains(n.Text, "Simple Packet Blocks, which carry no time") }) ||
		slices.ContainsFunc(ws, func(n Note) bool { return strings.Contains(n.Text, "ran backwards") }) {
		t.Errorf("got warnings %q, want one on the blocks without time and none of a clock that ran backwards", ws)
	}
}

// TestReplaySimplePacketBlocksAreNoEchoes: an echo is told by its time
// (the same frame again within echoWindow); frames without one are not
// echoes of each other, however alike.
func TestReplaySimplePacketBlocksAreNoEchoes(t *testing.T) {
	f := hubtest.Frame(hubtest.Broadcast, macA, "same")
	r, err := Open(Config{Inputs: []Input{memInput("spb.pcapng", spbCapture(f, f, f, f))}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.Run(context.Background(), RunConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Replayed != 4 || res.Echoes != 0 {
		t.Errorf("got %d replayed and %d echoes, want 4 and none", res.Replayed, res.Echoes)
	}
}
