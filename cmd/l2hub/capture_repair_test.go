package main

import (
	"bytes"
	"encoding/binary"
	"os"
	"strings"
	"testing"

	"l2hub/capture"
)

// TestRepairRefusesAWrongLength: `l2hub capture repair` on a capture whose
// second packet's length field has one bit too many (it then runs past the
// end, over every later packet) fails, says where, and leaves the file
// whole, rather than trim 1000 frames away as a "cut last block".
func TestRepairRefusesAWrongLength(t *testing.T) {
	path := writeL2hubCapture(t, t.TempDir(), 1000)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	r, err := capture.NewReader(bytes.NewReader(b), capture.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r.Next()
	second, err := r.Next()
	if err != nil {
		t.Fatal(err)
	}
	at := second.Offset
	binary.LittleEndian.PutUint32(b[at+4:], binary.LittleEndian.Uint32(b[at+4:])|0x80000)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, _, err := runCmd(t, "capture", "repair", path)
	if err == nil || !strings.Contains(err.Error(), "packet 2 at byte ") || !strings.Contains(err.Error(), "nothing was changed") {
		t.Errorf("l2hub capture repair: %v (stdout %q), want an error naming packet 2's offset and that nothing was changed", err, stdout)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, b) {
		t.Errorf("l2hub capture repair changed the file: %d bytes, was %d", len(got), len(b))
	}
}
