package transport

import (
	"errors"
	"fmt"
	"strconv"
)

var (
	// ErrSpec is wrapped by every error about a malformed port spec.
	ErrSpec = errors.New("invalid port spec")
	// ErrRunning is returned by a Runner's Run when it is already running or
	// has run before: a Runner runs once.
	ErrRunning = errors.New("runner already started")
	// ErrAddrInUse is returned by Open when a unix socket path already has a
	// live listener (for TCP and UDP the system's EADDRINUSE says it).
	ErrAddrInUse = errors.New("address already in use")
	// ErrFrameTimeout is wrapped by a stream read's error once a frame that
	// began did not end within its bound (FrameTimeout): the peer stopped
	// in the middle of a frame, and the connection must be closed.
	ErrFrameTimeout = errors.New("frame incomplete: the peer stopped in the middle of it")
)

// A SpecError reports one bad field of a port spec. Field is the spec key
// ("name", "transport", "address", "peer", "local", "options.mac") so that a
// config loader can point at the line that holds it.
type SpecError struct {
	Port   string // the port's name, "" when the name itself is bad
	Field  string
	Value  string
	Reason string
}

func (e *SpecError) Error() string {
	prefix := ""
	if e.Port != "" {
		prefix = "port " + strconv.Quote(e.Port) + ": "
	}
	return fmt.Sprintf("%s%s %q: %s", prefix, e.Field, e.Value, e.Reason)
}

// Unwrap makes errors.Is(err, ErrSpec) true.
func (e *SpecError) Unwrap() error { return ErrSpec }
