package lab

import (
	"strings"
	"testing"
)

// A console line as patterns see it: no escape sequences, nothing a
// carriage return went back over.
func TestConsoleText(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"plain", "plain"},
		{"\x1b[0;32mGUEST: ansi\x1b[0m ok", "GUEST: ansi ok"},
		{"[  \x1b[0;32mOK  \x1b[0m] Reached target \x1b[0;1;39mnetwork.target\x1b[0m.", "[  OK  ] Reached target network.target."},
		{"\x1b[?25l\x1b[2Khidden cursor", "hidden cursor"},
		{"\x1b]0;title\x07after a title", "after a title"},
		{"\x1b]2;title\x1b\\after ST", "after ST"},
		{"\x1b]0;no end", ""},
		{"cut \x1b[1", "cut "},
		{"progress 10%\rprogress 50%\rGUEST: cr ok", "GUEST: cr ok"},
		{"progress\r\x1b[KGUEST: cleared", "GUEST: cleared"},
		{"GUEST: ok\r\x1b[0m", "GUEST: ok"},
		{"\x1b(B charset, other escapes stay", "\x1b(B charset, other escapes stay"},
		{"lone \x1b", "lone \x1b"},
	} {
		if got := consoleText(tt.in); got != tt.want {
			t.Errorf("got consoleText(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// consoleText reads untrusted bytes: it never grows a line, and leaves no
// carriage return in it.
func FuzzConsoleText(f *testing.F) {
	for _, s := range []string{"\x1b[0;32mok\x1b[0m", "a\rb", "\x1b]0;t\x07x", "\x1b]0;t\x1b\\x", "\x1b[", "\x1b]", "\x1b\x1b[m[m"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := consoleText(s)
		if len(got) > len(s) || strings.ContainsRune(got, '\r') {
			t.Errorf("got consoleText(%q) = %q, want no longer and no \\r", s, got)
		}
	})
}

// A pattern that holds an escape sequence or another control character
// could never match (lines are matched as a terminal shows them): it is
// refused, and says why. Tab is text; a class that excludes ESC is fine.
func TestParsePatternRefusesControlCharacters(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want string // "" if accepted
	}{
		{"GUEST:\tok", ""},
		{"\x1b[32mOK\x1b[0m", `"\x1b[32mOK\x1b[0m" holds ESC, which begins an escape sequence: lines are matched as a terminal shows them, without escape sequences`},
		{"bell\a", "holds the control character U+0007"},
		{"c1 \u009b31m", "holds the control character U+009B"},
		{`/\x1b\[31mFAIL/`, "holds ESC"},
		{`/\e/`, "error parsing regexp"}, // RE2 has no \e
		{`/[\x1b]/`, "holds ESC"},
		{`/[\x00-\x1f]+/`, "holds the control character U+0000"},
		{`/^[^\x1b]+ ok$/`, ""},
		{`/\s+ok/`, ""},
		{`/FAIL\t[0-9]+/`, ""},
	} {
		_, err := ParsePattern(tt.in)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("got ParsePattern(%q) error %v, want it accepted", tt.in, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("got ParsePattern(%q) error %v, want one containing %q", tt.in, err, tt.want)
		}
	}
}

// A pattern is one line of at most maxPattern bytes, and says something.
func TestParsePatternBounds(t *testing.T) {
	if _, err := ParsePattern(strings.Repeat("x", maxPattern)); err != nil {
		t.Errorf("got ParsePattern(%d bytes) = %v, want it read", maxPattern, err)
	}
	for _, tt := range []struct{ in, want string }{
		{strings.Repeat("x", maxPattern+1), "1025 bytes: a pattern is at most 1024"},
		{"", "empty: a pattern must say what to look for"},
		{"a\nb", "a pattern is one line"},
	} {
		if _, err := ParsePattern(tt.in); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("got ParsePattern(%.20q) = %v, want an error containing %q", tt.in, err, tt.want)
		}
	}
}

// The zero Pattern (an at: trigger's On, a marker that failed to parse)
// matches no line.
func TestZeroPatternMatchesNothing(t *testing.T) {
	for _, line := range []string{"", "anything"} {
		if (Pattern{}).Match(line) {
			t.Errorf("got Pattern{}.Match(%q) = true, want false", line)
		}
	}
}
