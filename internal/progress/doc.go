// Package progress draws the progress line long commands show on a
// terminal (l2hub replay): one self-overwriting line, at most ten times a
// second by the clock it is given.
//
// A Bar is used by one goroutine.
//
// Imports: hub (for its Clock) only.
package progress
