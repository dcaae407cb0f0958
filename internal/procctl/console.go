package procctl

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
)

// Console says on stderr what is the process's, not a command's: the stop
// notice and the command's error. They are "l2hub: ..." lines, unless the
// command logs JSON records (serve --log-format json) and has given its
// log (LogTo, LogConsoleTo): then they are records of that log, the
// notice of kind "notice" and the error at level ERROR, so that stderr
// carries JSON alone. That log must not filter them by level
// (serve.OutputLog).
type Console struct {
	stderr io.Writer
	log    atomic.Pointer[slog.Logger]
}

// NewConsole returns a Console that writes lines to stderr.
func NewConsole(stderr io.Writer) *Console { return &Console{stderr: stderr} }

type consoleKey struct{}

// WithConsole returns ctx carrying c, for LogConsoleTo.
func WithConsole(ctx context.Context, c *Console) context.Context {
	return context.WithValue(ctx, consoleKey{}, c)
}

// LogConsoleTo makes the Console of ctx (none in a test that runs the
// command without its process) say what it says as records of log.
func LogConsoleTo(ctx context.Context, log *slog.Logger) {
	if c, ok := ctx.Value(consoleKey{}).(*Console); ok {
		c.LogTo(log)
	}
}

// LogTo makes c say what it says as records of log.
func (c *Console) LogTo(log *slog.Logger) { c.log.Store(log) }

// Logs reports whether c says what it says as records of a log.
func (c *Console) Logs() bool { return c.log.Load() != nil }

// Notice says msg, a notice of the process (the stop notice).
func (c *Console) Notice(msg string) {
	if log := c.log.Load(); log != nil {
		log.Info(msg, "kind", "notice")
		return
	}
	fmt.Fprintln(c.stderr, "l2hub:", msg)
}

// Fail says msg, the command's error.
func (c *Console) Fail(msg string) {
	if log := c.log.Load(); log != nil {
		log.Error(msg)
		return
	}
	fmt.Fprintln(c.stderr, "l2hub:", msg)
}
