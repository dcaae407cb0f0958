package checker

import (
	"errors"
	"fmt"
)

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
	// Its text is worded as serve's --check refusal is, so that check,
	// report and serve say the same of the same mistake.
	ErrUnknownProfile = errors.New("want nexus-v1 or noise-xk")
	// ErrClosed: Feed after Close.
	ErrClosed = errors.New("checker closed")
	// ErrNoInput: CheckFiles or CheckReaders without any capture.
	ErrNoInput = errors.New("no capture to check")
	// ErrFailed: a check failed (Outcome); l2hub check exits with status 2
	// and says nothing more than its report.
	ErrFailed = errors.New("a check failed")
)

// Outcome sorts out what CheckFiles or CheckReaders returned, r and err,
// for a command that shows the report and then says how the check went.
// show is false when err left no report to show (it is not a StopError):
// verdict is then err. Otherwise verdict, to be said after the report, is
// nil when every check passed; the StopError, with the number of frames
// the report covers, when reading stopped part-way; else ErrFailed when a
// check failed.
func Outcome(r Report, err error) (show bool, verdict error) {
	var stop *StopError
	switch {
	case err != nil && !errors.As(err, &stop):
		return false, err
	case stop != nil:
		return true, fmt.Errorf("%w; the report covers the %d frames before it", stop, r.Frames)
	case !r.OK():
		return true, ErrFailed
	}
	return true, nil
}
