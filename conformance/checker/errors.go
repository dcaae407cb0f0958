package checker

import "errors"

// A StopError says where a capture broke part-way (a corrupt block, not a
// cut tail): the report returned with it covers the frames before it.
type StopError struct {
	Name string // the capture
	Err  error  // a *capture.ReadError: the packet number and byte offset
}

func (e *StopError) Error() string { return e.Name + ": " + e.Err.Error() }
func (e *StopError) Unwrap() error { return e.Err }

var (
	// ErrUnknownProfile: a profile name other than nexus-v1 or noise-xk.
	ErrUnknownProfile = errors.New(`unknown profile (want "nexus-v1" or "noise-xk")`)
	// ErrClosed: Feed after Close.
	ErrClosed = errors.New("checker closed")
	// ErrNoInput: CheckFiles or CheckReaders without any capture.
	ErrNoInput = errors.New("no capture to check")
)
