package replay

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestStdinInput: "-" as an input is standard input, as "-o -" is
// standard output: replay reads it into a temporary file (it reads its
// inputs twice), and inject's check lets it through to be read once.
func TestStdinInput(t *testing.T) {
	path := filepath.Join(t.TempDir(), "in.pcap")
	data := writePcap(t, time.Unix(100, 0), []pcapRecord{{0, udpFrame(t, macA, macB, ipA, ipB, 1, 2, 1, "x")}})
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	stdin := os.Stdin
	os.Stdin = f
	t.Cleanup(func() { os.Stdin = stdin })

	if err := CheckInjectCapture(Stdin); err != nil {
		t.Errorf("CheckInjectCapture(%q) = %v, want nil", Stdin, err)
	}
	res, err := (&Job{Files: []string{Stdin}}).Run(context.Background())
	if err != nil {
		t.Fatalf("replay -: %v", err)
	}
	if res.Replayed != 1 || res.Inputs[0].Path != Stdin {
		t.Errorf("replayed %d frames of %v, want 1 of -", res.Replayed, res.Inputs)
	}
}
