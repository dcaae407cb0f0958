package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/netip"
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
		base.spec = s.WithAbsPaths()
		return &streamListener{runnerBase: base, ln: ln}, nil
	case TCPDial:
		if _, err := net.ResolveTCPAddr("tcp", s.Address); err != nil {
			return nil, wrap(err)
		}
		return &streamDialer{runnerBase: base, network: "tcp"}, nil
	case UnixDial:
		base.spec = s.WithAbsPaths()
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
		base.spec = s.WithAbsPaths()
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

// kernelMaxBuffer is the largest socket buffer Linux grants, whatever the
// privileges: it keeps twice the size asked for in an int (socket(7)), so
// it caps a request at INT_MAX/2, a byte short of sockbuf=1G.
const kernelMaxBuffer = math.MaxInt32 / 2

// warnSmallBuffer says, once at bind, that a datagram port's receive
// buffer is smaller than asked: bursts beyond it will be the kernel's
// drops (counted as kernel-overflow), and how to get the size asked for.
// A buffer at the kernel's own ceiling is not warned of: no capability or
// sysctl gets more, and the byte it falls short of 1G is no loss.
func warnSmallBuffer(log *slog.Logger, c *DatagramConn) {
	if granted, asked := c.ReceiveBuffer(); granted > 0 && granted < asked && granted < kernelMaxBuffer {
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
