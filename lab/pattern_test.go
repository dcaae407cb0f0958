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
