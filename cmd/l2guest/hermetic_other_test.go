//go:build !linux

package main

// The tests need no namespace of their own where setupNet does nothing.
func runHermetic() (int, bool) { return 0, false }
func setUpHermetic() error     { return nil }
