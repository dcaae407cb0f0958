package filter

import "testing"

// A probability's error echoes the number as the user wrote it: dividing
// by 100 and multiplying back would print 100.5% as 100.49999999999999%.
func TestProbabilityErrorEchoesInput(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"100.5%", "100.5% is more than 100%"},
		{"100.000001%", "100.000001% is more than 100%"},
		{" 250 % ", "250% is more than 100%"},
		{"1.0000001", "1.0000001 is more than 1 (100%)"},
		{"5", "5 is more than 1 (100%); for 5 percent, write 5%"},
		{"150", "150 is more than 1 (100%)"},
		{"-0.7%", "-0.7% is negative"},
		{"-0.3", "-0.3 is negative (a probability is 0 to 1, or 0% to 100%)"},
		{"5x%", `"5x" is not a probability (write 5% or 0.05)`},
	} {
		p, err := parseProbability(tc.in)
		if err == nil {
			t.Errorf("parseProbability(%q) = %v, nil; want the error %q", tc.in, p, tc.want)
			continue
		}
		if err.Error() != tc.want {
			t.Errorf("parseProbability(%q) error = %q, want %q", tc.in, err, tc.want)
		}
	}
	// And the values just inside the bounds are taken.
	for _, in := range []string{"100%", "100.0%", "1", "0%", "-0", "0.05"} {
		if _, err := parseProbability(in); err != nil {
			t.Errorf("parseProbability(%q) = %v, want a probability", in, err)
		}
	}
}

// TestFormatSize: formatSize writes what parseSize reads back, in the
// largest binary unit that divides it.
func TestFormatSize(t *testing.T) {
	for _, tc := range []struct {
		n    int64
		want string
	}{{0, "0B"}, {64, "64B"}, {1514, "1514B"}, {1536, "1536B"}, {64 << 10, "64KiB"}, {64 << 20, "64MiB"}, {3 << 19, "1536KiB"}} {
		got := formatSize(tc.n)
		if back, err := parseSize(got); got != tc.want || err != nil || back != tc.n {
			t.Errorf("got formatSize(%d) = %q (read back as %d, %v), want %q", tc.n, got, back, err, tc.want)
		}
	}
}

// TestDurationErrors: a duration past the policy's bound says so and names
// the bound, also when it is past what time.Duration holds; one that is
// not a duration says how to write one.
func TestDurationErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"25h", "25h0m0s is longer than 24h, the most a policy's times may be"},
		{"99999999999999999999h", "99999999999999999999h is longer than 24h, the most a policy's times may be"},
		{"1h99999999999999999999s", "1h99999999999999999999s is longer than 24h, the most a policy's times may be"},
		{"-99999999999999999999h", "-99999999999999999999h is negative"},
		{"-5ms", "-5ms is negative"},
		{"20", `"20" needs a unit (e.g. 20ms)`},
		{"soon", `"soon" is not a duration (write 20ms, 1.5s)`},
		{"5 ms", `"5 ms" is not a duration (write 20ms, 1.5s)`},
		{"5xs", `"5xs" is not a duration (write 20ms, 1.5s)`},
	} {
		if d, err := parseDuration(tc.in); err == nil || err.Error() != tc.want {
			t.Errorf("got parseDuration(%q) = %v, %v; want the error %q", tc.in, d, err, tc.want)
		}
	}
	for _, in := range []string{"24h", "0", "1.5s", "1h30m", "500us", "500µs"} {
		if _, err := parseDuration(in); err != nil {
			t.Errorf("got parseDuration(%q) = %v, want a duration", in, err)
		}
	}
}
