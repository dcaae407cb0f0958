//go:build race

package conformance

// The race detector adds allocations; allocation tests skip under it.
const raceEnabled = true
