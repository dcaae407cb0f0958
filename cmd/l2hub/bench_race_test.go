//go:build race

package main

// benchRaceEnabled says the race detector is on: it allocates and slows
// everything, so allocation counts and memory bounds do not apply.
const benchRaceEnabled = true
