package lab

import (
	"fmt"
	"regexp"
	"strings"
)

// maxPattern bounds a marker, a fail_on or an evidence pattern: a marker
// is one console line, and a line is cut at maxLine.
const maxPattern = 1024

// A Pattern is what a lab file waits for on a console: plain text found
// anywhere in a line ("GUEST: nexus ok"), or, written between slashes, an
// RE2 regular expression ("/remote .* FAIL/"), which matches in time
// linear in the line whatever the expression.
type Pattern struct {
	text string
	re   *regexp.Regexp // nil for plain text
}

// ParsePattern reads a pattern as a lab file writes it.
func ParsePattern(s string) (Pattern, error) {
	switch {
	case s == "":
		return Pattern{}, fmt.Errorf("empty: a pattern must say what to look for")
	case len(s) > maxPattern:
		return Pattern{}, fmt.Errorf("%d bytes: a pattern is at most %d", len(s), maxPattern)
	case strings.ContainsAny(s, "\n\r"):
		return Pattern{}, fmt.Errorf("%q: a pattern is one line", s)
	}
	if len(s) >= 2 && s[0] == '/' && s[len(s)-1] == '/' {
		re, err := regexp.Compile(s[1 : len(s)-1])
		if err != nil {
			return Pattern{}, fmt.Errorf("%s: %w", s, err)
		}
		return Pattern{text: s, re: re}, nil
	}
	return Pattern{text: s}, nil
}

// Match reports whether line holds the pattern.
func (p Pattern) Match(line string) bool {
	if p.re != nil {
		return p.re.MatchString(line)
	}
	return p.text != "" && strings.Contains(line, p.text)
}

// String returns the pattern as the lab file wrote it.
func (p Pattern) String() string { return p.text }

// IsZero reports whether p is the zero Pattern (matches nothing).
func (p Pattern) IsZero() bool { return p.text == "" }

// consoleText is a console line as patterns are matched against it: without
// its ANSI escape sequences (CSI: colours, cursor moves, as systemd's
// "[  OK  ]" has them; OSC: window titles), and without what a carriage
// return in it sent the cursor back over (progress output: "10%\r20%\rdone"
// reads "done"), as a terminal shows it. The log keeps the line as it came.
func consoleText(s string) string {
	if !strings.ContainsAny(s, "\x1b\r") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		if s[i] != 0x1b || i+1 >= len(s) || (s[i+1] != '[' && s[i+1] != ']') {
			b.WriteByte(s[i])
			i++
			continue
		}
		j := i + 2
		if s[i+1] == '[' {
			// CSI: parameter and intermediate bytes (0x20-0x3f), then a
			// final byte (0x40-0x7e).
			for j < len(s) && s[j] >= 0x20 && s[j] <= 0x3f {
				j++
			}
			if j < len(s) && s[j] >= 0x40 && s[j] <= 0x7e {
				j++
			}
		} else {
			// OSC: to BEL or ST (ESC \), or the end of the line.
			for j < len(s) && s[j] != 0x07 && !(s[j] == 0x1b && j+1 < len(s) && s[j+1] == '\\') {
				j++
			}
			switch {
			case j < len(s) && s[j] == 0x07:
				j++
			case j < len(s):
				j += 2
			}
		}
		i = j
	}
	t := strings.TrimRight(b.String(), "\r")
	if k := strings.LastIndexByte(t, '\r'); k >= 0 {
		t = t[k+1:]
	}
	return t
}
