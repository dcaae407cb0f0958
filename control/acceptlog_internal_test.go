package control

import (
	"context"
	"log/slog"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"l2hub/internal/syncbuf"
)

// emfileListener's accepts all fail as out of file descriptors, until
// it is closed.
type emfileListener struct {
	closed chan struct{}
	calls  chan struct{} // told of each failed Accept, if there is room
}

func (l *emfileListener) Accept() (net.Conn, error) {
	select {
	case <-l.closed:
		return nil, net.ErrClosed
	default:
	}
	select {
	case l.calls <- struct{}{}:
	default:
	}
	return nil, &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", syscall.EMFILE)}
}

func (l *emfileListener) Close() error {
	select {
	case <-l.closed:
	default:
		close(l.closed)
	}
	return nil
}

func (l *emfileListener) Addr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 7000}
}

// TestAcceptErrorsAreWarnings: out of file descriptors, the control API
// and the metrics endpoint cannot accept (ctl then waits unanswered in
// the backlog): the log says so at warn level, not only at debug level.
func TestAcceptErrorsAreWarnings(t *testing.T) {
	for _, tc := range []struct {
		what  string
		serve func(context.Context, net.Listener, *slog.Logger) error
	}{
		{"control API", func(ctx context.Context, l net.Listener, log *slog.Logger) error {
			return (&Server{Target: nil, Logger: log}).Serve(ctx, l)
		}},
		{"metrics endpoint", func(ctx context.Context, l net.Listener, log *slog.Logger) error {
			return (&MetricsServer{Logger: log}).Serve(ctx, l)
		}},
	} {
		t.Run(strings.ReplaceAll(tc.what, " ", "-"), func(t *testing.T) {
			var logs syncbuf.Buffer
			log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
			l := &emfileListener{closed: make(chan struct{}), calls: make(chan struct{}, 1)}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- tc.serve(ctx, l, log) }()
			want := "level=WARN msg=\"" + tc.what + ": accept failed"
			deadline := time.Now().Add(time.Minute) // a guard, not a measure
			for !strings.Contains(logs.String(), want) {
				if time.Now().After(deadline) {
					break
				}
				<-l.calls
			}
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Serve() = %v, want nil once its context ended", err)
			}
			got := logs.String()
			if !strings.Contains(got, want) || !strings.Contains(got, "too many open files") {
				t.Errorf("log, with accepts failing for want of file descriptors:\n%s\nwant a line %s... naming the error", got, want)
			}
		})
	}
}

// TestAcceptWarningsRateLimited: at most one warning per acceptLogEvery,
// the next saying how many it left out.
func TestAcceptWarningsRateLimited(t *testing.T) {
	var logs syncbuf.Buffer
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	l := &acceptLog{Listener: &emfileListener{closed: make(chan struct{}), calls: make(chan struct{}, 1)},
		log: slog.New(slog.NewTextHandler(&logs, nil)), what: "control API", now: func() time.Time { return now }}
	for _, at := range []time.Duration{0, time.Second, 5 * time.Second, acceptLogEvery - 1, acceptLogEvery, acceptLogEvery + 1} {
		now = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Add(at)
		if _, err := l.Accept(); err == nil {
			t.Fatal("Accept() = nil error, want EMFILE")
		}
	}
	got := logs.String()
	if n := strings.Count(got, "accept failed"); n != 2 {
		t.Errorf("got %d warnings for 6 failures over %v, want 2:\n%s", n, acceptLogEvery+1, got)
	}
	if !strings.Contains(got, "suppressed=3") {
		t.Errorf("the second warning does not say it left out 3:\n%s", got)
	}
}
