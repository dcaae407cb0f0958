package shell

import "strings"

// Quote renders args as one line a POSIX shell reads back as the same
// words: a word with nothing the shell treats specially stays as it is,
// any other (and the empty word) goes in single quotes.
func Quote(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if a != "" && !strings.ContainsAny(a, " \t\n'\"\\$`;&|<>()*?[]{}~!#") {
			q[i] = a
			continue
		}
		q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}

// Ident turns name into an upper-case identifier, for a shell variable
// ("vm-a" gives VM_A) or a failure code ("session" gives SESSION): letters
// upper-cased, digits kept, anything else '_'.
func Ident(name string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z':
			return r - 'a' + 'A'
		case r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			return r
		}
		return '_'
	}, name)
}
