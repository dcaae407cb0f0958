package serve

import (
	"context"
	"log/slog"

	"l2hub/capture"
	"l2hub/hub"
)

// decisionLog logs, at debug level, every frame a rule acted on: the port,
// the capture point, the frame's length and the decisions in the words the
// capture's packet comments use ("dropped: a->b: rule loss: drop (p=0.05
// draw=0.0213)"). Frames no rule touched are not logged.
//
// It is an observer on the hub loop and logs synchronously, so it slows
// the loop down to the log's pace: serve adds it only at --log-level debug,
// and otherwise it costs nothing.
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
