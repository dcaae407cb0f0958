package filter

import (
	"slices"
	"strings"
	"testing"
)

func TestChangedSince(t *testing.T) {
	for _, tc := range []struct {
		v    string
		want []string // the versions of the changes listed
		ok   bool
	}{
		{"0.1.0", []string{"0.2.0", "0.3.0"}, true},
		{"0.2.0", []string{"0.3.0"}, true},
		{"0.2.9", []string{"0.3.0"}, true},
		{"0.3.0", nil, true},
		{"1.0.0", nil, true},
		{"test", nil, false},
		{"0.2", nil, false},
		{"0.2.x", nil, false},
		{"0.02.0", nil, false},
	} {
		what, ok := ChangedSince(tc.v)
		var got []string
		for _, w := range what {
			v, _, _ := strings.Cut(w, ": ")
			got = append(got, v)
		}
		if ok != tc.ok || !slices.Equal(got, tc.want) {
			t.Errorf("got ChangedSince(%q) = %q, %v; want changes of %q, %v", tc.v, what, ok, tc.want, tc.ok)
		}
	}
	if got := DecidesAsOf(); got != "0.3.0" {
		t.Errorf("got DecidesAsOf() = %q, want 0.3.0", got)
	}
}
