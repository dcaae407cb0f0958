package loadgen

import "errors"

var (
	// ErrScenario is wrapped by every error about a scenario that cannot be
	// run as described (too few ports, a frame too short for the payload).
	ErrScenario = errors.New("invalid scenario")
	// ErrWarmup is returned when the VMs could not hear each other before
	// the measurement (a target that does not forward, or never attached).
	ErrWarmup = errors.New("warm-up: peers never heard each other")
	// ErrUnsupported is wrapped when a target cannot offer a transport or
	// pattern, or the machine lacks what it needs (multicast on loopback).
	ErrUnsupported = errors.New("not supported")
	// ErrNoScenario is returned by Suite.Run when its Filter selects no
	// scenario: a typo in --run would otherwise measure nothing, silently.
	ErrNoScenario = errors.New("no scenario selected")
)
