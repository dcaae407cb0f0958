package report

import "errors"

var (
	// ErrNoCapture reports Options without a capture.
	ErrNoCapture = errors.New("no capture given")
	// ErrTooManyPorts reports a capture with more ports than a page can
	// draw lifelines for (Limits.MaxPorts).
	ErrTooManyPorts = errors.New("too many ports")
	// ErrUnknownPort reports a console for a port the capture does not have.
	ErrUnknownPort = errors.New("no such port in the capture")
	// ErrConsole reports a console log that cannot be read as one.
	ErrConsole = errors.New("console log")
)
