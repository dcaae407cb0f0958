//go:build race

package serve_test

// raceEnabled: the race detector's shadow memory grows the resident set.
const raceEnabled = true
