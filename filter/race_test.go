//go:build race

package filter

// raceEnabled: the race detector slows the toggle's locks tenfold; a
// long single-goroutine check has nothing for it to find.
const raceEnabled = true
