package report

import (
	"bytes"
	"strings"
	"testing"
	"unicode"
)

// FuzzBuild feeds any bytes as a capture: a report is built (or refused
// with an error) and written, and never panics.
func FuzzBuild(f *testing.F) {
	for _, path := range []string{scenario, hubScenario, perVMPcap} {
		b, err := readFileBytes(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(pcapngFile([]string{"a", "b"}, []string{"", ""}, []rec{{0, 1, true, udpFrame("a", "b", 37020, 1, 0), "dropped: a->b: rule r: partition (a|b)"}}))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		path := writeTemp(t, "fuzz.pcapng", data)
		m, err := Build(Options{Capture: path, Limits: Limits{MaxFrames: 500, MaxPorts: 16}})
		if err != nil {
			return
		}
		var buf bytes.Buffer
		if err := m.WriteHTML(&buf); err != nil {
			t.Fatalf("WriteHTML: %v", err)
		}
		if n := bytes.Count(bytes.ToLower(buf.Bytes()), []byte("<script")); n != 2 {
			t.Fatalf("got %d script elements, want 2", n)
		}
	})
}

// FuzzConsole reads any bytes as a console log: markers are single lines
// of printable text within the bounds.
func FuzzConsole(f *testing.F) {
	f.Add([]byte("# t0=2026-12-06T08:39:37.5Z\n  2.351 GUEST: up\n[ 1.5] x\n2026-01-02T03:04:05Z y\n"))
	f.Add([]byte("  1.0 \x1b[31m\x00\xff\xfe red\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		lim := Limits{MaxLineBytes: 256, MaxMarkers: 50, MaxConsoleBytes: 1 << 16}.withDefaults()
		log, err := parseConsole(bytes.NewReader(data), nil, lim)
		if err != nil {
			return
		}
		if len(log.lines) > 50 {
			t.Fatalf("got %d markers, want at most 50", len(log.lines))
		}
		for _, l := range log.lines {
			if len(l.text) > 256 || strings.ContainsFunc(l.text, func(r rune) bool { return unicode.IsControl(r) || r == '\u2028' || r == '\uFFFD' }) {
				t.Fatalf("got marker text %q, want one printable line within 256 bytes", l.text)
			}
		}
	})
}
