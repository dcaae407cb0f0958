package suggest

import "testing"

func TestDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"kitten", "sitting", 3}, {"", "abc", 3}, {"abc", "", 3}, {"same", "same", 0},
		{"polcy", "policy", 1}, {"ab", "ba", 2},
	} {
		if got := Distance(tc.a, tc.b); got != tc.want {
			t.Errorf("Distance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
		if got := Distance(tc.b, tc.a); got != tc.want {
			t.Errorf("Distance(%q, %q) = %d, want %d (it is symmetric)", tc.b, tc.a, got, tc.want)
		}
	}
}

func TestNearest(t *testing.T) {
	flags := []string{"capture", "capture-format", "policy", "ready-file", "port", "control"}
	for _, tc := range []struct {
		typo, want string
		ok         bool
	}{
		{"captur", "capture", true},
		{"polcy", "policy", true},
		{"ready", "ready-file", true}, // a prefix of 3 or more letters
		{"contrl", "control", true},
		{"prot", "port", true},  // two edits, within the floor of 2
		{"re", "", false},       // a prefix too short to mean anything
		{"zzzzzzzz", "", false}, // nothing near
		{"capturex-format", "capture-format", true},
		{"cxxxxx-format", "", false},               // six edits in 13 letters: past a third of them
		{"cxxxxre-format", "capture-format", true}, // four edits in 14 letters: within a third
	} {
		got, ok := Nearest(tc.typo, flags)
		if got != tc.want || ok != tc.ok {
			t.Errorf("Nearest(%q) = %q, %v; want %q, %v", tc.typo, got, ok, tc.want, tc.ok)
		}
	}
	if got, ok := Nearest("x", nil); ok || got != "" {
		t.Errorf("Nearest with no candidates = %q, %v", got, ok)
	}
	// Ties go to the alphabetically first, whatever the candidates' order.
	for _, c := range [][]string{{"bat", "cat"}, {"cat", "bat"}} {
		if got, _ := Nearest("aat", c); got != "bat" {
			t.Errorf("Nearest(aat, %v) = %q, want bat", c, got)
		}
	}
}
