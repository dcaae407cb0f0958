package netstack

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	glog "gvisor.dev/gvisor/pkg/log"
)

// LogTo sends what gVisor logs to l, for the whole process: gVisor keeps
// one global logger, which otherwise writes glog-style lines to standard
// error (a stack's rate-limited warnings about segments it cannot take,
// say), past the command's handler and its --log-format. A warning becomes
// one of l's, info and debug lines l's info and debug, each with
// component=gvisor and gVisor's time. A command calls LogTo once, where it
// builds its logger, before it starts any Host.
func LogTo(l *slog.Logger) {
	glog.SetTarget(emitter{l.Handler()})
}

// emitter is a glog.Emitter that writes to a slog handler.
type emitter struct{ h slog.Handler }

var _ glog.Emitter = emitter{}

// Emit implements glog.Emitter.
func (e emitter) Emit(_ int, level glog.Level, at time.Time, format string, v ...any) {
	lvl := slog.LevelDebug
	switch level {
	case glog.Warning:
		lvl = slog.LevelWarn
	case glog.Info:
		lvl = slog.LevelInfo
	}
	ctx := context.Background()
	if !e.h.Enabled(ctx, lvl) {
		return
	}
	r := slog.NewRecord(at, lvl, strings.TrimSuffix(fmt.Sprintf(format, v...), "\n"), 0)
	r.AddAttrs(slog.String("component", "gvisor"))
	e.h.Handle(ctx, r)
}
