package transport

// This file holds the runners of stream ports: streamListener (a listening
// port, one VM at a time, with its accept failures) and streamDialer (a
// port that connects, and connects again). runner.go opens them.

import (
	"context"
	"errors"
	"fmt"
	"l2hub/hub"
	"net"
	"slices"
	"sync/atomic"
	"time"
)

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
