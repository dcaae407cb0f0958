// Package suggest finds the known word nearest a mistyped one, for "did you
// mean" hints: "unknown flag: --captur (did you mean --capture?)".
//
// Concurrency: Nearest and Distance are pure.
//
// Imports: nothing of l2hub.
package suggest
