package lab

import (
	"fmt"
	"regexp"
	"regexp/syntax"
	"strings"
	"unicode/utf8"
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
		if syn, err := syntax.Parse(s[1:len(s)-1], syntax.Perl); err == nil {
			if r, ok := controlIn(syn); ok {
				return Pattern{}, controlError(s, r)
			}
		}
		return Pattern{text: s, re: re}, nil
	}
	if i := strings.IndexFunc(s, controlChar); i >= 0 {
		r, _ := utf8.DecodeRuneInString(s[i:])
		return Pattern{}, controlError(s, r)
	}
	return Pattern{text: s}, nil
}

// controlChar reports whether r is a control character a pattern must not
// hold: an escape sequence's ESC, or any other but tab. A line is matched
// as a terminal shows it (consoleText): its escape sequences are gone, and
// the other control characters show as nothing.
func controlChar(r rune) bool {
	return (r < 0x20 && r != '\t') || r == 0x7f || (r >= 0x80 && r <= 0x9f)
}

// controlIn finds, in a regular expression, a literal control character
// or a character class of nothing else ([\x1b]).
func controlIn(re *syntax.Regexp) (rune, bool) {
	switch re.Op {
	case syntax.OpLiteral:
		for _, r := range re.Rune {
			if controlChar(r) {
				return r, true
			}
		}
	case syntax.OpCharClass:
		first, only := rune(-1), len(re.Rune) > 0
		for i := 0; i+1 < len(re.Rune); i += 2 {
			lo, hi := re.Rune[i], re.Rune[i+1]
			only = only && (hi < 0x20 || (lo >= 0x7f && hi <= 0x9f))
			for r := lo; r <= hi && first < 0 && only; r++ {
				if controlChar(r) {
					first = r
				}
			}
		}
		if only && first >= 0 {
			return first, true
		}
	}
	for _, sub := range re.Sub {
		if r, ok := controlIn(sub); ok {
			return r, true
		}
	}
	return 0, false
}

func controlError(pattern string, r rune) error {
	name := fmt.Sprintf("the control character %U", r)
	if r == 0x1b {
		name = "ESC, which begins an escape sequence"
	}
	return fmt.Errorf("%q holds %s: lines are matched as a terminal shows them, without escape sequences (colours, cursor moves) or control characters; write only the text", pattern, name)
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
