package filter

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// changes are the versions of l2hub whose policies decide differently
// from the one before, each with what changed, in brief (POLICY.md's
// "Changes in decisions" says it in full). A change that alters decisions
// comes with a new version (internal/buildinfo) and an entry here, so that
// `l2hub replay` can say why a capture made before it may replay
// differently.
var changes = []struct {
	version [3]int
	what    string
}{
	{[3]int{0, 2, 0}, "duplicated copies' corrupt, reorder and delay draws; delayed frames dropped for a cut at any time in their wait; control calls made while a frame was due"},
	{[3]int{0, 3, 0}, "rates whose time per byte is not a whole number of ns (3Mbit, 768kbit, 10Gbit, …); the rate queue's bound, now exact"},
}

// ChangedSince lists what decides differently here than in l2hub version
// v ("0.2.0"): the changes of every version after it, oldest first, each
// as "0.3.0: what changed". ok is false when v is not a version of that
// form (a test's "test").
func ChangedSince(v string) (what []string, ok bool) {
	parts := strings.Split(v, ".")
	if len(parts) != 3 {
		return nil, false
	}
	var ver [3]int
	for i, s := range parts {
		n, err := strconv.Atoi(s)
		if err != nil || s != strconv.Itoa(n) || n < 0 {
			return nil, false
		}
		ver[i] = n
	}
	for _, c := range changes {
		if slices.CompareFunc(ver[:], c.version[:], cmp.Compare[int]) < 0 {
			what = append(what, fmt.Sprintf("%d.%d.%d: %s", c.version[0], c.version[1], c.version[2], c.what))
		}
	}
	return what, true
}

// DecidesAsOf is the version of the latest change in decisions: a capture
// recorded by an l2hub older than it may replay differently.
func DecidesAsOf() string {
	v := changes[len(changes)-1].version
	return fmt.Sprintf("%d.%d.%d", v[0], v[1], v[2])
}
