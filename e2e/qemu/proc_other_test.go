//go:build !linux

package qemu

// tieParent serves TestStartTied, which needs Linux's parent-death signal.
func tieParent() int { return 2 }
