package checker

import "errors"

var (
	// ErrUnknownProfile: a profile name other than nexus-v1 or noise-xk.
	ErrUnknownProfile = errors.New(`unknown profile (want "nexus-v1" or "noise-xk")`)
	// ErrClosed: Feed after Close.
	ErrClosed = errors.New("checker closed")
	// ErrNoInput: CheckFiles or CheckReaders without any capture.
	ErrNoInput = errors.New("no capture to check")
)
