package checker

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"l2hub/capture"
)

var update = flag.Bool("update", false, "rewrite the golden captures and reports in testdata")

// goldens are captures of whole runs, as l2hub would record them (both
// capture points), with the report the checker gives for each. They are
// also what `l2hub check` is tested on.
var goldens = []struct {
	name   string
	frames func(t *testing.T) []Frame
}{
	{"healthy", lossyHealthy},
	{"data-before-handshake", func(t *testing.T) []Frame {
		s := newScript(t)
		s.add(0, s.Handshake[0]).add(0, s.step(1)).add(1, s.Handshake[1]).add(0, s.Handshake[2])
		return runScript(t, s, 1460).frames
	}},
	{"wrong-key", wrongKeyInAnnounce},
}

func TestGoldenReports(t *testing.T) {
	for _, g := range goldens {
		t.Run(g.name, func(t *testing.T) {
			capPath := filepath.Join("testdata", g.name+".pcapng")
			txtPath := filepath.Join("testdata", g.name+".txt")
			if *update {
				if err := os.MkdirAll("testdata", 0o755); err != nil {
					t.Fatal(err)
				}
				writeHubCapture(t, capPath, capture.FormatPcapng, g.frames(t))
			}
			r, err := CheckFiles(Options{}, capPath)
			if err != nil {
				t.Fatal(err)
			}
			var got bytes.Buffer
			if err := r.WriteText(&got); err != nil {
				t.Fatal(err)
			}
			if *update {
				if err := os.WriteFile(txtPath, got.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(txtPath)
			if err != nil {
				t.Fatal(err)
			}
			if got.String() != string(want) {
				g, w := strings.Split(got.String(), "\n"), strings.Split(string(want), "\n")
				for i := range max(len(g), len(w)) {
					var gl, wl string
					if i < len(g) {
						gl = g[i]
					}
					if i < len(w) {
						wl = w[i]
					}
					if gl != wl {
						t.Fatalf("report differs from %s (run with -update to accept) at line %d:\ngot  %s\nwant %s", txtPath, i+1, gl, wl)
					}
				}
			}
		})
	}
}
