package serve

import "time"

// DropReasons is dropReasons, for a test of the series each transport
// pre-declares.
var DropReasons = dropReasons

// SetNoPeerTick makes the session look for ports no VM ever reached at
// each tick, not every noPeerAfter.
func SetNoPeerTick(opts *Options, tick <-chan time.Time) { opts.noPeerTick = tick }
