package replay

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// TestQuoteNoteCutsWholeCharacters: a text longer than a note holds is cut
// before the character that crosses the limit, never inside it, and one
// that fits is kept whole.
func TestQuoteNoteCutsWholeCharacters(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"fits", strings.Repeat("é", 100), `"` + strings.Repeat("é", 100) + `"`},
		{"two-byte across", strings.Repeat("a", 199) + "é tail", `"` + strings.Repeat("a", 199) + `…"`},
		{"four-byte across", strings.Repeat("a", 197) + "😀 tail", `"` + strings.Repeat("a", 197) + `…"`},
		{"ends at limit", strings.Repeat("a", 198) + "é tail", `"` + strings.Repeat("a", 198) + `é…"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := quoteNote(tc.in)
			if got != tc.want || !utf8.ValidString(got) {
				t.Errorf("got %q (valid UTF-8 %v), want %q", got, utf8.ValidString(got), tc.want)
			}
		})
	}
}
