//go:build race

package checker

// The race detector adds allocations; allocation tests skip under it.
const raceEnabled = true
