package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync/atomic"
	"time"

	"l2hub/hub"
	"l2hub/internal/wallclock"
)

// Attacher is the part of *hub.Hub a transport needs.
type Attacher interface {
	// Attach hands io to the named port. done is closed once the hub has stopped
	// using io (reader and writer exited, io closed). Returns hub.ErrPortBusy when
	// the port already has a peer, hub.ErrNoPort for an unknown name.
	Attach(port string, io hub.PortIO) (done <-chan struct{}, err error)
}

// A Runner keeps one port's transport going: it accepts connections, or
// dials and redials a listening VM, or holds a bound datagram socket, and
// hands each PortIO to the hub. Open binds everything a Runner needs, so
// "address in use" is reported before anything runs.
type Runner interface {
	// Run attaches the transport to the port named by Spec().Name and keeps
	// it attached until ctx ends or the hub stops (it then closes what it
	// opened and returns nil) or a fatal error (an unknown port, a busy port
	// for a datagram socket, which cannot wait its turn). A Runner runs once.
	Run(ctx context.Context, a Attacher) error
	// Spec returns the spec with what Open bound filled in: a port 0 becomes
	// the port the system chose. Its QEMUArgs are what a VM needs.
	Spec() Spec
	// Close releases what Open bound and makes a running Run return. Safe
	// to call more than once and from any goroutine.
	Close() error
}

// Options tune how a Spec is opened. The zero value is ready to use.
type Options struct {
	// MaxFrame is the largest frame in either direction; 0 means
	// DefaultMaxFrame. Must be within MinFrame..MaxFrameLimit.
	MaxFrame int
	// Logger receives refusals, retries and redials (the hub itself logs
	// attaches and detaches); nil discards.
	Logger *slog.Logger
	// Clock paces rate-limited log messages; nil means the wall clock.
	Clock hub.Clock
	// Aging is the hub's aging time, which a vxlan port's own learning
	// table takes too; 0 means hub.DefaultAgingTime.
	Aging time.Duration
	// FrameTimeout bounds how long a stream port's frame may take to
	// arrive once it has begun (see the constant FrameTimeout, the default
	// for 0); below 0, no bound.
	FrameTimeout time.Duration
	// MinBackoff and MaxBackoff bound the dialers' redial delay, which
	// doubles from MinBackoff after each failed attempt, and after each
	// connection that ended within MaxBackoff of its attach; it starts over
	// after a connection that lasted longer. Zero means 50ms and 2s.
	MinBackoff, MaxBackoff time.Duration
	// Optional makes Open return, instead of an error about the system (a
	// missing privilege or device, an address in use), a Runner whose port
	// stays down: it logs a warning, and OpenErr reports the error. Spec
	// errors are returned as ever.
	Optional bool
}

const (
	defaultMinBackoff = 50 * time.Millisecond
	defaultMaxBackoff = 2 * time.Second
	// logEvery limits how often a recurring condition (a refused second VM,
	// a VM that is not listening yet) is logged per port.
	logEvery = 10 * time.Second
)

func (o Options) withDefaults() (Options, error) {
	if o.MaxFrame == 0 {
		o.MaxFrame = DefaultMaxFrame
	}
	if o.MaxFrame < MinFrame || o.MaxFrame > MaxFrameLimit {
		return o, fmt.Errorf("maximum frame %d outside %d..%d", o.MaxFrame, MinFrame, MaxFrameLimit)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.Clock == nil {
		o.Clock = wallclock.Clock{}
	}
	if o.FrameTimeout == 0 {
		o.FrameTimeout = FrameTimeout
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = defaultMinBackoff
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = defaultMaxBackoff
	}
	o.MaxBackoff = max(o.MaxBackoff, o.MinBackoff)
	return o, nil
}

// Open validates s and binds what its transport needs: it listens (tcp,
// unix), binds (udp, unixgram), joins the group (mcast) or checks the
// address it will dial (tcp-dial, unix-dial). Every error names the port
// and the address ("port "a": listen tcp 127.0.0.1:7001: bind: address
// already in use"). A tap port creates or opens its TAP device (see
// OpenTAP; Linux only). With opts.Optional, a port that cannot be opened
// stays down instead (see OpenErr).
func (s Spec) Open(opts Options) (Runner, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("port %q: %w", s.Name, err)
	}
	base := &runnerBase{spec: s, opts: opts}
	base.life, base.quit = context.WithCancel(context.Background())
	base.log = opts.Logger.With("port", s.Name, "transport", string(s.Transport))
	r, err := s.open(base)
	if err != nil && opts.Optional {
		return base.optionalOpen(err)
	}
	return r, err
}

// open binds what s's transport needs, for Open.
func (s Spec) open(base *runnerBase) (Runner, error) {
	opts := base.opts
	wrap := func(err error) error { return fmt.Errorf("port %q: %w", s.Name, err) }
	switch s.Transport {
	case TCP:
		ln, err := net.Listen("tcp", s.Address)
		if err != nil {
			return nil, wrap(err)
		}
		base.spec.Address = boundAddress(s.Address, ln.Addr())
		return &streamListener{runnerBase: base, ln: ln}, nil
	case Unix:
		if err := clearStaleSocket("unix", s.Address); err != nil {
			return nil, wrap(err)
		}
		ln, err := listenUnix(s.Address, s.socketMode())
		if err != nil {
			return nil, wrap(err)
		}
		base.spec.Address = absSocketPath(s.Address)
		return &streamListener{runnerBase: base, ln: ln}, nil
	case TCPDial:
		if _, err := net.ResolveTCPAddr("tcp", s.Address); err != nil {
			return nil, wrap(err)
		}
		return &streamDialer{runnerBase: base, network: "tcp"}, nil
	case UnixDial:
		base.spec.Address = absSocketPath(s.Address)
		return &streamDialer{runnerBase: base, network: "unix"}, nil
	case UDP:
		c, err := ListenUDP(s.Address, s.Peer, opts.MaxFrame, s.socketBuffer())
		if err != nil {
			return nil, wrap(err)
		}
		warnSmallBuffer(base.log, c)
		base.spec.Address = boundAddress(s.Address, c.LocalAddr())
		return &boundRunner{runnerBase: base, conn: c, what: "socket", key: "socket"}, nil
	case Unixgram:
		c, err := listenUnixgramConn(s.Address, s.Peer, s.socketMode(), opts.MaxFrame, s.socketBuffer())
		if err != nil {
			return nil, wrap(err)
		}
		warnSmallBuffer(base.log, c)
		base.spec.Address, base.spec.Peer = absSocketPath(s.Address), absSocketPath(s.Peer)
		return &boundRunner{runnerBase: base, conn: c, what: "socket", key: "socket"}, nil
	case Mcast:
		c, err := JoinMcast(s.Address, s.mcastLocal(), opts.MaxFrame, s.socketBuffer())
		if err != nil {
			return nil, wrap(err)
		}
		warnSmallBuffer(base.log, c)
		base.spec.Address = c.LocalAddr().String()
		return &boundRunner{runnerBase: base, conn: c, what: "socket", key: "socket"}, nil
	case VXLAN:
		cfg, err := vxlanConfigOf(s, opts)
		if err != nil {
			return nil, wrap(err)
		}
		c, err := OpenVXLAN(cfg)
		if err != nil {
			return nil, wrap(err)
		}
		return &boundRunner{runnerBase: base, conn: c, what: "VTEP", key: "vtep"}, nil
	case TAP:
		r, err := openTAPRunner(base)
		if err != nil {
			return nil, wrap(err)
		}
		return r, nil
	}
	return nil, wrap(fmt.Errorf("transport %s: %w", s.Transport, errors.ErrUnsupported))
}

// boundAddress is a listening tcp or udp spec's address once bound: the
// port the system chose (for port 0), and the host as written when it is
// an IP address or empty. Go binds an IPv4 wildcard dual-stack and reports
// it as [::], which would show 0.0.0.0:7100 as [::]:7100 and give the VM
// ::1 (QEMUArgs) where 127.0.0.1 is what the user's 0.0.0.0 means. A host
// name becomes the address it resolved to.
func boundAddress(spec string, bound net.Addr) string {
	host, _, err := net.SplitHostPort(spec)
	_, port, berr := net.SplitHostPort(bound.String())
	if err != nil || berr != nil {
		return bound.String()
	}
	if _, err := netip.ParseAddr(host); err != nil && host != "" {
		return bound.String()
	}
	return net.JoinHostPort(host, port)
}

// warnSmallBuffer says, once at bind, that a datagram port's receive
// buffer is smaller than asked: bursts beyond it will be the kernel's
// drops (counted as kernel-overflow), and how to get the size asked for.
func warnSmallBuffer(log *slog.Logger, c *DatagramConn) {
	if granted, asked := c.ReceiveBuffer(); granted > 0 && granted < asked {
		log.Warn("receive buffer smaller than asked: the kernel caps it at net.core.rmem_max; a burst beyond it is dropped by the kernel and counted as kernel-overflow",
			"asked", asked, "granted", granted, "fix", "run with CAP_NET_ADMIN, or raise net.core.rmem_max")
	}
}

// runnerBase is what every runner shares: its spec and options, the
// run-once guard and its own lifetime, which Close ends.
type runnerBase struct {
	spec    Spec
	opts    Options
	log     *slog.Logger
	started atomic.Bool
	life    context.Context // ends at Close
	quit    context.CancelFunc
}

func (b *runnerBase) Spec() Spec { return b.spec }

// start guards against a second Run and returns Run's one context: it ends
// with ctx or at Close, whichever comes first (context.AfterFunc: no
// goroutine waits for either). stop releases it.
func (b *runnerBase) start(ctx context.Context) (_ context.Context, stop func(), _ error) {
	if !b.started.CompareAndSwap(false, true) {
		return nil, nil, fmt.Errorf("port %q: %w", b.spec.Name, ErrRunning)
	}
	ctx, cancel := context.WithCancel(ctx)
	unlink := context.AfterFunc(b.life, cancel)
	if b.life.Err() != nil { // closed before it ran: end now, not on AfterFunc's goroutine
		cancel()
	}
	return ctx, func() { unlink(); cancel() }, nil
}

func (b *runnerBase) signalQuit() { b.quit() }

// attachErr turns an Attach error into Run's result: nil when the runner or
// the hub is stopping anyway, a wrapped error otherwise.
func (b *runnerBase) attachErr(ctx context.Context, err error) error {
	if ctx.Err() != nil || errors.Is(err, hub.ErrStopped) {
		return nil
	}
	return fmt.Errorf("port %q: attach: %w", b.spec.Name, err)
}

// streamListener accepts QEMU's connect= / server=off connections. One VM
// at a time: a connection while the port is busy is closed with a logged
// reason, and the listener keeps accepting so the VM can come back.
type streamListener struct {
	*runnerBase
	ln net.Listener
	// failing is set while accepts fail, nil once one succeeds
	// (AcceptFailing).
	failing atomic.Pointer[AcceptFailure]
}

var _ Runner = (*streamListener)(nil)

// An AcceptFailure says that a listening port's accepts fail (out of file
// descriptors, say): a VM that connects meanwhile waits in the kernel's
// backlog, connected but not attached, until one succeeds.
type AcceptFailure struct {
	Since time.Time // the first of the failures in a row, on Options.Clock
	Err   error     // the latest
}

// AcceptFailing reports whether r, the Runner of a port that listens for
// its VM (tcp, unix), is failing to accept: every accept since Since has
// failed, and the listener goes on trying. It asks r's own AcceptFailing
// method, which such a runner has (and a Runner that wraps one may pass
// on); other runners never are.
func AcceptFailing(r Runner) (AcceptFailure, bool) {
	if l, ok := r.(interface{ AcceptFailing() (AcceptFailure, bool) }); ok {
		return l.AcceptFailing()
	}
	return AcceptFailure{}, false
}

// AcceptFailing is the package's AcceptFailing for r.
func (r *streamListener) AcceptFailing() (AcceptFailure, bool) {
	if f := r.failing.Load(); f != nil {
		return *f, true
	}
	return AcceptFailure{}, false
}

// acceptFailed records err as the latest of the failing accepts.
func (r *streamListener) acceptFailed(err error) {
	f := &AcceptFailure{Since: r.opts.Clock.Now(), Err: err}
	if prev := r.failing.Load(); prev != nil {
		f.Since = prev.Since
	}
	r.failing.Store(f)
}

func (r *streamListener) Run(ctx context.Context, a Attacher) error {
	ctx, stop, err := r.start(ctx)
	if err != nil {
		return err
	}
	defer stop()
	// The connections the hub holds: closed when Run ends, which it does
	// as soon as ctx does (the listener closes and Accept returns).
	var live []attachedConn
	defer func() {
		for _, c := range live {
			c.conn.Close()
		}
		for _, c := range live {
			<-c.done
		}
	}()
	defer context.AfterFunc(ctx, func() { r.ln.Close() })()
	defer r.ln.Close()

	refused := newLimiter(r.opts.Clock, logEvery)
	failed := newLimiter(r.opts.Clock, logEvery)
	delay := r.opts.MinBackoff
	r.log.Info("listening", "address", r.spec.Address)
	for {
		c, err := r.ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			// Out of file descriptors and the like: wait and retry, as
			// net/http does, rather than lose the port.
			r.acceptFailed(err)
			if ok, n := failed.allow(); ok {
				r.log.Warn("accept failed; retrying", "err", err, "suppressed", n)
			}
			if !sleep(ctx, delay) {
				return nil
			}
			delay = min(2*delay, r.opts.MaxBackoff)
			continue
		}
		delay = r.opts.MinBackoff
		r.failing.Store(nil)
		sc := newStreamConn(c, r.opts.MaxFrame, describeAccepted(r.spec, c))
		sc.frameTimeout = r.opts.FrameTimeout
		// A VM restarted: its old connection hung up, but the hub has not
		// read it to its end yet (its reader is paused behind a slow port,
		// or has not run since). QEMU before 8.0 never retries a connect
		// (newer QEMU only with reconnect-ms=, or reconnect= before 9.2),
		// so the new connection waits for the old, as a QEMU listener's
		// next client waits in its backlog, rather than being refused.
		if prev, ok := current(live); ok && prev.conn.PeerHungUp() {
			r.log.Info("connection waits for the port's previous peer, which hung up, to be read to its end", "from", sc.Describe())
			select {
			case <-prev.done:
			case <-ctx.Done():
				sc.Close()
				return nil
			}
		}
		done, err := a.Attach(r.spec.Name, sc)
		switch {
		case err == nil: // the hub logs the attach and the detach
			live = append(slices.DeleteFunc(live, attachedConn.over), attachedConn{sc, done})
		case errors.Is(err, hub.ErrPortBusy):
			if ok, n := refused.allow(); ok {
				r.log.Warn("refused connection: port already has a peer", "from", sc.Describe(), "suppressed", n)
			}
			sc.Close()
		default:
			sc.Close()
			return r.attachErr(ctx, err)
		}
	}
}

// attachedConn is a connection the hub holds, until done is closed.
type attachedConn struct {
	conn *StreamConn
	done <-chan struct{}
}

// current is the connection the hub holds of live, if any.
func current(live []attachedConn) (attachedConn, bool) {
	for i := len(live) - 1; i >= 0; i-- {
		if !live[i].over() {
			return live[i], true
		}
	}
	return attachedConn{}, false
}

// over reports whether the hub has let go of the connection.
func (c attachedConn) over() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

func (r *streamListener) Close() error {
	r.signalQuit()
	if err := r.ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("port %q: %w", r.spec.Name, err)
	}
	return nil
}

func describeAccepted(s Spec, c net.Conn) string {
	desc := string(s.Transport) + " " + s.Address
	if remote := c.RemoteAddr(); remote != nil && remote.String() != "" && remote.String() != "@" {
		desc += " from " + remote.String()
	}
	return desc
}

// streamDialer dials a VM that listens (QEMU listen= / server=on) and
// redials with capped exponential backoff whenever the dial fails or the
// connection ends, until ctx ends. QEMU before 8.0 never reconnects by
// itself (newer QEMU does with reconnect-ms=, or reconnect= before 9.2), so
// there the side that may restart (the hub) is the one that dials. A
// connection that ends within MaxBackoff of its attach does not start the
// backoff over: a peer that accepts and hangs up at once is not redialed
// at MinBackoff forever.
type streamDialer struct {
	*runnerBase
	network string
}

var _ Runner = (*streamDialer)(nil)

func (r *streamDialer) Run(ctx context.Context, a Attacher) error {
	ctx, stop, err := r.start(ctx)
	if err != nil {
		return err
	}
	defer stop()
	desc := string(r.spec.Transport) + " " + r.spec.Address
	failed := newLimiter(r.opts.Clock, logEvery)
	refused := newLimiter(r.opts.Clock, logEvery)
	redialed := newLimiter(r.opts.Clock, logEvery)
	delay := r.opts.MinBackoff
	for {
		c, err := DialStream(ctx, r.network, r.spec.Address, r.opts.MaxFrame)
		switch {
		case ctx.Err() != nil:
			if c != nil {
				c.Close()
			}
			return nil
		case err != nil:
			if ok, n := failed.allow(); ok {
				r.log.Info("waiting for the VM to listen", "address", r.spec.Address, "err", err, "suppressed", n)
			}
		default:
			c.desc = desc
			c.frameTimeout = r.opts.FrameTimeout
			done, err := a.Attach(r.spec.Name, c)
			switch {
			case err == nil: // the hub logs the attach and the detach
				since := r.opts.Clock.Now()
				select {
				case <-done:
					// Only a connection that lasted starts the backoff over:
					// a peer that accepts and hangs up at once (another
					// service on the port, a proxy, a QEMU that drops the
					// connection) is redialed ever more slowly, as a
					// refusal would be.
					lived := r.opts.Clock.Now().Sub(since)
					if lived >= r.opts.MaxBackoff {
						delay = r.opts.MinBackoff
					}
					if ok, n := redialed.allow(); ok {
						r.log.Info("redialing the VM", "address", r.spec.Address, "connected_for", lived, "suppressed", n)
					}
				case <-ctx.Done():
					c.Close()
					<-done
					return nil
				}
			case errors.Is(err, hub.ErrPortBusy):
				if ok, n := refused.allow(); ok {
					r.log.Warn("dialed, but the port already has a peer; will retry", "peer", desc, "suppressed", n)
				}
				c.Close()
			default:
				c.Close()
				return r.attachErr(ctx, err)
			}
		}
		if !sleep(ctx, delay) {
			return nil
		}
		delay = min(2*delay, r.opts.MaxBackoff)
	}
}

func (r *streamDialer) Close() error {
	r.signalQuit()
	return nil
}

// boundConn is a socket or device opened once for a port's whole life: a
// datagram socket, a VTEP, a TAP device.
type boundConn interface {
	hub.PortIO
	Describe() string
	Close() error
}

// boundRunner attaches a bound socket (udp, unixgram, mcast, a VXLAN VTEP)
// or a TAP device once and holds it until ctx ends or the hub lets go of
// it; then it is closed. what names it in the log ("socket"), key is the
// log attribute that describes it.
type boundRunner struct {
	*runnerBase
	conn      boundConn
	what, key string
}

var _ Runner = (*boundRunner)(nil)

func (r *boundRunner) Run(ctx context.Context, a Attacher) error {
	ctx, stop, err := r.start(ctx)
	if err != nil {
		return err
	}
	defer stop()
	if ctx.Err() != nil {
		r.closeConn()
		return nil
	}
	done, err := a.Attach(r.spec.Name, r.conn)
	if err != nil {
		r.closeConn()
		return r.attachErr(ctx, err)
	}
	r.log.Info("attached", r.key, r.conn.Describe())
	select {
	case <-done:
		if ctx.Err() == nil {
			r.log.Warn("hub let go of the "+r.what+"; the port stays down", r.key, r.conn.Describe())
		}
	case <-ctx.Done():
		r.closeConn()
		<-done
	}
	return nil
}

// closeConn closes the connection, logging what could not be undone (a
// TAP device's namespace, say).
func (r *boundRunner) closeConn() {
	if err := r.conn.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		r.log.Warn("closing the "+r.what, "err", err)
	}
}

func (r *boundRunner) Close() error {
	r.signalQuit()
	if err := r.conn.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("port %q: %w", r.spec.Name, err)
	}
	return nil
}

// sleep waits d or until ctx ends, and says whether it waited the full d.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
