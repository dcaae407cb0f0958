// server.go holds the Server: what it drives (Target, and the InjectFlow
// and RuleEditor a Target may also be), its limits and their defaults,
// and Serve, which runs the routes (routes.go) behind the connection cap
// (slots.go) until its context ends, then stops them in order: the
// changes being applied are answered before any connection is cut.
// serveHTTP and acceptLog serve the MetricsServer too.

package control

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"l2hub/filter"
	"l2hub/hub"
)

// maxHeaderBytes bounds a request's head: ctl's are a few hundred bytes.
const maxHeaderBytes = 16 << 10

// Limits of the control API. The connection cap is the API's whole budget
// of file descriptors (and one more, a connection accepted to wait for a
// place): connections beyond it wait in the kernel's accept queue, where
// they cost the process none, so a flood of connections can slow the
// control plane but never take the descriptors the VM ports accept with.
// The server reads each connection's request head itself and answers it
// once it is complete; a request that passes the checks (the token, on
// TCP) claims its connection's place until it is answered. When no place
// is free, connections without a complete request give way to the
// newcomer, answered 503 (CodeBusy): one that has sent nothing for
// FirstByteTimeout since it connected (on Linux, since its handshake, time
// in the kernel's queue included, so a queue of silent connections drains
// as fast as they can be accepted), one that sent part of a request at
// once; a connection whose request is waiting to be read never does. So
// connections that send nothing, trickle their headers or lack the token
// cannot keep a client with the token out: it waits at most about
// FirstByteTimeout behind them. AuthTimeout bounds a complete request's
// wait to pass the checks (a backstop: it is checked at once); the other
// timeouts free the places that idle or trickling clients hold while no
// one waits, and those of claimed requests.
const (
	DefaultMaxConns         = 16
	DefaultFirstByteTimeout = 100 * time.Millisecond
	DefaultAuthTimeout      = time.Second
	DefaultHeaderTimeout    = 5 * time.Second
	DefaultBodyTimeout      = 10 * time.Second
	// DefaultIdleTimeout bounds an injection stream's wait for its next
	// record.
	DefaultIdleTimeout = 30 * time.Second
	// InjectKeepalive is how often a client pacing an injection stream
	// sends a keepalive record (a zero length) while it waits for a
	// frame's time, well inside DefaultIdleTimeout.
	InjectKeepalive = 10 * time.Second
	// DefaultMaxInjections bounds the injection streams at once. An
	// injection lasts as long as its capture, so streams have places of
	// their own, beyond MaxConns: however many run, the short requests
	// (ctl ports, set-policy, link down, the one meant to end them) keep
	// every one of MaxConns. The stream beyond is answered 503
	// (CodeBusy), unread.
	DefaultMaxInjections = 16
)

// Target is what the API drives: the running hub and its policy.
// serve.Session implements it; every method is safe for concurrent use.
type Target interface {
	Ports(ctx context.Context) ([]hub.PortStatus, error)
	// State reports the policy's link and partition state now; the zero
	// State (every link up, no partitions) when there is no policy.
	State(ctx context.Context) (State, error)
	// Policy describes the policy in force, nil if none.
	Policy(ctx context.Context) (*filter.Description, error)
	// Rules returns per-rule counters.
	Rules(ctx context.Context) (filter.Stats, error)
	// ReplacePolicy validates src whole and swaps it in, or changes nothing.
	ReplacePolicy(ctx context.Context, name string, src []byte) error
	StartPartition(ctx context.Context, name string, groups [][]string) error
	HealPartition(ctx context.Context, name string) error
	SetLink(ctx context.Context, port string, up bool) error
	// Inject sends frame to the named port's peer, as if the hub had
	// forwarded it there. It must not retain frame. The API's answer names
	// the port and the frame, and says hub.ErrNoPort, hub.ErrFrameTooLarge
	// and hub.ErrStopped in its own words: the error need not name them
	// (hub.Inject's does).
	Inject(ctx context.Context, port string, frame []byte) error
}

// An InjectFlow is a Target whose ports hold an injection back as they
// hold back a VM that sends faster than the port's VM reads (serve.Session
// is one). An injection stream then waits, before it reads each frame,
// until the port has room (so TCP pushes back on the client), and its
// answer counts the frames the port dropped all the same.
type InjectFlow interface {
	// WaitRoom returns once port takes frames without holding its senders
	// back (hub.Hub.WaitRoom): at once unless it pauses its senders and
	// what waits for it passed its high-water mark.
	WaitRoom(ctx context.Context, port string) error
	// InjectFrame is Inject that says what became of the frame:
	// hub.DropNone when it was queued for the port's VM, else why the port
	// dropped it.
	InjectFrame(ctx context.Context, port string, frame []byte) (hub.DropReason, error)
}

// RuleEditor is what a Target may add to edit the policy's rules one at a
// time (serve.Session does): src is one rule in the policy file's syntax,
// whose name, if it gives one, must be name. Each returns the rule as the
// policy describes it (RemoveRule: as it was, with its last counters).
// Without it the rule routes answer 501.
type RuleEditor interface {
	AddRule(ctx context.Context, name string, src []byte, before string) (filter.RuleDescription, error)
	UpdateRule(ctx context.Context, name string, src []byte) (filter.RuleDescription, error)
	RemoveRule(ctx context.Context, name string) (filter.RuleDescription, error)
}

// A PortOpener is a Target that may run without some of its ports' transports:
// serve --optional keeps a port whose transport could not be opened on
// the hub, where no VM can ever attach to it. GET /v1/ports shows such a
// port's link as "not-open", with the reason (PortStatus.NotOpen), so that
// it does not read as a bound port waiting for its VM ("no-peer").
type PortOpener interface {
	// NotOpen says, by port name, why each port whose transport could
	// not be opened was not; nil or empty when every one was.
	NotOpen() map[string]string
}

// A UserError is a request the target refused as invalid (bad policy, unknown
// port); the API answers 400 with its message rather than 500.
type UserError struct{ Err error }

func (e *UserError) Error() string { return e.Err.Error() }
func (e *UserError) Unwrap() error { return e.Err }

// Server serves the control API.
type Server struct {
	Target   Target
	Registry *prometheus.Registry // served at /metrics with the target's link and partition state; nil for none
	Token    string               // when set, every request needs "Authorization: Bearer <Token>" (the scheme in any case)
	Logger   *slog.Logger

	// Limits; zero means the Default of the same name.
	MaxConns         int           // connections held at once
	FirstByteTimeout time.Duration // to send a first byte after connecting, while another connection waits for a place
	AuthTimeout      time.Duration // to claim a place with a request that passes the checks once its head is read, while another connection waits
	HeaderTimeout    time.Duration // to read a request's headers
	BodyTimeout      time.Duration // to read a request's body (an injection stream: see IdleTimeout) and write the answer
	IdleTimeout      time.Duration // between an injection stream's records
	// MaxInjections bounds the injection streams at once, in places of
	// their own beyond MaxConns (see DefaultMaxInjections, which 0 or
	// less means).
	MaxInjections int

	refused   atomic.Uint64 // connections and requests refused, for rate-limited logs
	injecting atomic.Int64  // injection streams being read

	// beforeError, when set, runs as a refusal's answer is about to be
	// written: a test's stand-in for a machine that delays it.
	beforeError func()
	// grace, when set, replaces shutdownGrace, for a test.
	grace time.Duration
	// clock, when set, replaces the system's timers that bound an
	// injection's waits for room, for a test.
	clock hub.Clock
}

func (s *Server) maxConns() int { return cmp.Or(s.MaxConns, DefaultMaxConns) }
func (s *Server) maxInjections() int {
	if s.MaxInjections <= 0 {
		return DefaultMaxInjections // a negative bound would refuse every stream
	}
	return s.MaxInjections
}
func (s *Server) authTimeout() time.Duration   { return cmp.Or(s.AuthTimeout, DefaultAuthTimeout) }
func (s *Server) headerTimeout() time.Duration { return cmp.Or(s.HeaderTimeout, DefaultHeaderTimeout) }
func (s *Server) bodyTimeout() time.Duration   { return cmp.Or(s.BodyTimeout, DefaultBodyTimeout) }
func (s *Server) idleTimeout() time.Duration   { return cmp.Or(s.IdleTimeout, DefaultIdleTimeout) }

// afterFunc is time.AfterFunc, on the test's clock if it set one.
func (s *Server) afterFunc(d time.Duration, f func()) hub.Timer {
	if s.clock != nil {
		return s.clock.AfterFunc(d, f)
	}
	return time.AfterFunc(d, f)
}

// Serve answers requests on l until ctx is done: at most MaxConns
// connections at once, each bounded by the timeouts, an unclaimed one
// giving its slot up after AuthTimeout to one that waits. On a unix socket
// it serves only processes of the socket owner's user or root. As ctx
// ends, a connection taken from the kernel whose request was not read yet
// is answered 503 CodeStopped (nothing applied); one still in the
// kernel's queue is reset as the listener closes, unread (nothing applied
// either). An injection stream ends at the record it waits for, answered
// the same with the frames it took, and the other requests get two
// seconds to finish; a change being applied then is answered before the
// rest are cut, however long it takes.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	return s.serve(ctx, s.slots(l))
}

// slots is the listener Serve takes connections from: l, its peers
// checked on a unix socket, behind the connection cap.
func (s *Server) slots(l net.Listener) *slotListener {
	if l.Addr().Network() == "unix" {
		l = &peerListener{Listener: l, s: s}
	}
	return newSlotListener(l, slotLimits{max: s.maxConns(), firstByte: cmp.Or(s.FirstByteTimeout, DefaultFirstByteTimeout), grace: s.authTimeout(),
		headerTimeout: s.headerTimeout(), maxHeader: maxHeaderBytes},
		func(remote net.Addr) {
			s.logRefused("connection", "remote", remote, "err", "no complete request yet, and another connection needed its place")
		})
}

// serve is Serve on the listener slots made.
func (s *Server) serve(ctx context.Context, l *slotListener) error {
	srv := &http.Server{
		ConnContext: func(c context.Context, nc net.Conn) context.Context {
			return slotContext(context.WithValue(c, stopKey{}, ctx), nc)
		},
		Handler:           s.Handler(),
		ReadHeaderTimeout: s.headerTimeout(),
		ReadTimeout:       s.headerTimeout() + s.bodyTimeout(),
		WriteTimeout:      s.headerTimeout() + 2*s.bodyTimeout(),
		IdleTimeout:       s.idleTimeout(),
		MaxHeaderBytes:    maxHeaderBytes,
	}
	return serveHTTP(ctx, srv, l, s.Logger, "control API", cmp.Or(s.grace, shutdownGrace))
}

// shutdownGrace is how long a stopping server waits for the requests in
// flight (Serve) before it cuts their connections.
const shutdownGrace = 2 * time.Second

// stopKey is where a request's context holds the context of the Serve
// that serves it, which ends as the server stops (stopContext).
type stopKey struct{}

// stopContext is the context of the Serve that serves r, which ends as
// the server stops; one that never ends for a handler called without
// Serve.
func stopContext(r *http.Request) context.Context {
	if ctx, ok := r.Context().Value(stopKey{}).(context.Context); ok {
		return ctx
	}
	return context.Background()
}

// errStopping answers a request that changes something and that the
// server did not apply because it is stopping: 503, CodeStopped.
var errStopping error = stoppingError{}

type stoppingError struct{}

func (stoppingError) Error() string        { return "hub stopping: not applied" }
func (stoppingError) Is(target error) bool { return target == hub.ErrStopped }

// serveHTTP runs srv on l until ctx is done, then shuts it down, giving
// requests in flight grace (shutdownGrace) to finish, and the changes
// being applied as long as they take to be answered. One request per connection: a client's
// kept-alive connection would hold a slot of the cap while it idles (ctl
// and a Prometheus scrape send one request anyway). srv's errors are
// logged at debug level to logger, when there is one, but for l's (out
// of file descriptors), which are warnings (acceptLog), what being the
// service that logs them ("control API").
func serveHTTP(ctx context.Context, srv *http.Server, l net.Listener, logger *slog.Logger, what string, grace time.Duration) error {
	srv.SetKeepAlivesEnabled(false)
	served := l
	if logger != nil {
		srv.ErrorLog = slog.NewLogLogger(logger.Handler(), slog.LevelDebug)
		served = &acceptLog{Listener: l, log: logger, what: what, now: time.Now}
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(served) }()
	select {
	case <-ctx.Done():
		shut, cancel := context.WithTimeout(context.Background(), grace)
		defer cancel()
		if srv.Shutdown(shut) != nil {
			// The grace ran out. A change being applied is answered
			// first, whatever the grace (each is bounded: a hub.Do, and
			// set-policy's wait for the capture's new file), so that a
			// client never loses the answer to a change in force; no
			// other starts. Then every connection left is cut, and no
			// handler outlives Serve reading one.
			if sl, ok := l.(*slotListener); ok {
				<-sl.cutOff()
			}
			srv.Close()
		}
		<-errc
		return nil
	case err := <-errc:
		return err
	}
}

// acceptLogEvery is the least time between two warnings that a
// server's accepts fail, as for the ports' listeners.
const acceptLogEvery = 10 * time.Second

// acceptLog is a listener that logs its Accept errors at warn level: out
// of file descriptors, http.Server waits and asks again (and says so only
// at debug level) while clients, ctl among them, wait in the kernel's
// backlog with no answer; the log then says why. At most one warning per
// acceptLogEvery, with how many it left out, as the ports' listeners
// log theirs. Accept is for one goroutine (http.Server's).
type acceptLog struct {
	net.Listener
	log        *slog.Logger
	what       string
	now        func() time.Time
	last       time.Time
	logged     bool
	suppressed int
}

func (l *acceptLog) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil && !errors.Is(err, net.ErrClosed) {
		now := l.now()
		if l.logged && now.Sub(l.last) < acceptLogEvery {
			l.suppressed++
		} else {
			l.log.Warn(l.what+": accept failed; clients wait unanswered until it succeeds", "err", err, "suppressed", l.suppressed)
			l.logged, l.last, l.suppressed = true, now, 0
		}
	}
	return c, err
}
