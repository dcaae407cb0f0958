package suggest

// Nearest is the candidate nearest typo by edit distance (ties go to the
// alphabetically first), when it is near enough to be what was meant: at
// most max(2, len(typo)/3) edits away, or typo, of 3 or more letters, is
// its prefix. ok is false when no candidate is.
func Nearest(typo string, candidates []string) (best string, ok bool) {
	bestDist := 0
	for _, c := range candidates {
		d := Distance(typo, c)
		if len(typo) >= 3 && len(c) >= len(typo) && c[:len(typo)] == typo {
			d = min(d, 1) // a prefix is a near miss
		}
		if !ok || d < bestDist || d == bestDist && c < best {
			best, bestDist, ok = c, d, true
		}
	}
	if !ok || bestDist > max(2, len(typo)/3) {
		return "", false
	}
	return best, true
}

// Distance is the Levenshtein distance between a and b: the fewest
// single-byte insertions, deletions and substitutions that make one the
// other.
func Distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
