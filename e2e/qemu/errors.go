package qemu

import "errors"

var (
	// ErrExited is returned by Guest.Wait when QEMU ended before the marker.
	ErrExited = errors.New("QEMU exited")
	// ErrFailed is returned by Guest.Wait when the guest reported a failure
	// that rules the marker out.
	ErrFailed = errors.New("guest reported failure")
)
