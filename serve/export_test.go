package serve

import "time"

// DropReasons is dropReasons, for a test of the series each transport
// pre-declares.
var DropReasons = dropReasons

// SetNoPeerTick makes the session look for ports no VM ever reached at
// each tick, not every noPeerPoll, and takes the time a tick carries for
// the time.
func SetNoPeerTick(opts *Options, tick <-chan time.Time) { opts.noPeerTick = tick }

// NoPeerAfter is noPeerAfter, for a test of when the no-peer hint comes.
const NoPeerAfter = noPeerAfter
