package hub

import (
	"log/slog"
	"time"
)

// discardLogEvery limits how often one port logs frames its transport
// discarded for one reason. Every frame is counted (PortStats); the log
// says that it began and, at most this often, that it goes on.
const discardLogEvery = 10 * time.Second

// discardLog logs frames a port's transport discarded (a *FrameError: a
// runt, a datagram from a stranger, a VXLAN datagram for another VNI, a
// write the underlay refused) and drops the peer's own side counted
// (kernel-overflow): the first of each reason at once, then at most one
// per discardLogEvery with how many went unlogged in between. A user sees
// that a port loses frames and why without reading counters, and a flood
// of bad datagrams costs one line per interval. It belongs to one
// goroutine (a reader or a writer) and is not safe for concurrent use.
type discardLog struct {
	clock Clock
	log   *slog.Logger
	msg   string
	port  string
	last  [numDropReasons]time.Time
	seen  [numDropReasons]bool
	quiet [numDropReasons]uint64 // counted since the last line
}

func newDiscardLog(clock Clock, log *slog.Logger, port, msg string) *discardLog {
	return &discardLog{clock: clock, log: log, msg: msg, port: port}
}

// note records n frames discarded for r; err says what happened to the
// latest, when the transport said (nil for the peer's own drops).
func (d *discardLog) note(r DropReason, n uint64, err error) {
	if r >= numDropReasons || n == 0 {
		return
	}
	now := d.clock.Now()
	if d.seen[r] && now.Sub(d.last[r]) < discardLogEvery {
		d.quiet[r] += n
		return
	}
	args := []any{"port", d.port, "reason", r.String(), "frames", n}
	if d.quiet[r] > 0 {
		args = append(args, "unlogged_since_last", d.quiet[r])
	}
	if err != nil {
		args = append(args, "err", err)
	}
	if !d.seen[r] {
		args = append(args, "note", "counted in `l2hub ctl ports`; logged at most every "+discardLogEvery.String()+" per reason")
	}
	d.log.Warn(d.msg, args...)
	d.seen[r], d.last[r], d.quiet[r] = true, now, 0
}
