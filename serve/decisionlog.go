package serve

import (
	"context"
	"log/slog"

	"l2hub/capture"
	"l2hub/hub"
)

// decisionLog logs, at debug level, every frame that carries a note: one
// a rule acted on or the hub dropped (port-down, queue-full, ...), with
// the port, the capture point, the frame's length and the decisions in
// the words the capture's packet comments use ("dropped: a->b: rule loss:
// drop (p=0.05 draw=0.0213)"). Frames forwarded untouched are not logged.
//
// It is an observer on the hub loop and logs there: it costs the loop a
// record's formatting per decision, so serve adds it only at --log-level
// debug, and otherwise it costs nothing. A log that blocks would hold the
// loop; l2hub serve's stderr is a bounded queue that drops (and counts)
// what a slow reader cannot take instead (cmd/l2hub, internal/logq), so a
// terminal slower than the decisions loses lines, which the capture's
// comments keep, rather than slowing the hub to its pace. A caller of Run
// with a logger of its own gives that promise itself.
type decisionLog struct {
	log *slog.Logger
	buf []byte // reused for the comment; owned by the hub loop
}

var _ hub.Observer = (*decisionLog)(nil)

// newDecisionLog returns a decisionLog if log records debug messages, nil
// otherwise.
func newDecisionLog(log *slog.Logger) *decisionLog {
	if !log.Enabled(context.Background(), slog.LevelDebug) {
		return nil
	}
	return &decisionLog{log: log}
}

// Observe implements hub.Observer; it keeps nothing of ev.
func (d *decisionLog) Observe(ev *hub.Event) {
	if len(ev.Notes) == 0 {
		return
	}
	d.buf = capture.AppendComment(d.buf[:0], ev)
	d.log.LogAttrs(context.Background(), slog.LevelDebug, "decision",
		slog.String("port", ev.PortName),
		slog.String("dir", ev.Dir.String()),
		slog.Int("len", len(ev.Frame)),
		slog.String("why", string(d.buf)))
}
