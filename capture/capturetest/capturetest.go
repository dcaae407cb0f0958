package capturetest

import (
	"os"
	"testing"

	"l2hub/capture"
)

// Packets returns every record of the pcap or pcapng file at path, each
// owning its data, and fails the test on an unreadable or damaged file.
func Packets(t testing.TB, path string) []capture.Packet {
	t.Helper()
	r, done := open(t, path)
	defer done()
	var out []capture.Packet
	for p, err := range r.All() {
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, p.Clone())
	}
	return out
}

// Section returns the first section header of the pcapng file at path and
// the l2hub meta its comment carries, failing the test on a file that has
// neither.
func Section(t testing.TB, path string) (capture.Section, capture.FileMeta) {
	t.Helper()
	r, done := open(t, path)
	defer done()
	sec := r.Section()
	fm, err := capture.ParseMeta(sec.Comment)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return sec, fm
}

// open returns a reader of the file at path and the function that closes
// it, failing the test on a file it cannot open or read the start of.
func open(t testing.TB, path string) (*capture.Reader, func()) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	r, err := capture.NewReader(f, capture.ReadOptions{})
	if err != nil {
		f.Close()
		t.Fatalf("%s: %v", path, err)
	}
	return r, func() { f.Close() }
}
