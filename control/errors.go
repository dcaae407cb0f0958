package control

import (
	"errors"
	"fmt"
	"net"
	"syscall"
)

var (
	// ErrInUse reports a control socket that a running hub of the caller's
	// (or root's) already answers on.
	ErrInUse = errors.New("another l2hub is listening there")
	// ErrNotYours reports a control socket, or the directory of the default
	// one, that belongs to another user: someone may be squatting the path
	// to catch a hub's commands, so neither serve nor ctl goes near it. A
	// token file of another user's is refused with it too: that user knows
	// the token.
	ErrNotYours = errors.New("belongs to another user")
	// ErrNeedToken reports a TCP control address without a token: any local
	// user (and, without one, a web page) could reach it.
	ErrNeedToken = errors.New("a TCP control address needs a token")
	// ErrRemote reports a TCP control address other than loopback, refused
	// unless AllowRemoteEnv allows it: the API is plain HTTP.
	ErrRemote = errors.New("not a loopback address")
	// ErrMetricsNeedToken reports a metrics address other than loopback
	// without a token: any host that reaches it could read the hub's
	// counters.
	ErrMetricsNeedToken = errors.New("it needs a token")
	// ErrShortToken reports a token shorter than MinTokenLen where one is
	// required (a TCP control address, a metrics address other than
	// loopback), which a hub refuses to be guarded by.
	ErrShortToken = errors.New("the token is too short")
)

// ErrBusy reports a request the control API turned away unread (503,
// CodeBusy): to make room, when every place was held by connections that
// had sent no complete request, or an injection stream beyond those it
// takes at once (Server.MaxInjections). Nothing was done; the request may
// be sent again.
var ErrBusy = errors.New("the control API is busy")

// ErrTooLarge reports a request body over its route's bound (413,
// CodeTooLarge): MaxPolicyBytes for a policy, filter.MaxRuleBytes for a
// rule, 64 KiB for a JSON request. It was refused unread past the bound,
// and nothing was done.
var ErrTooLarge = errors.New("request body too large")

// ErrOtherHub reports a control address answered, until the wait ended,
// by a process other than the hub waited for (Client.WaitReadyPID).
var ErrOtherHub = errors.New("is another process")

// ErrInjectDropped reports an injection stream some of whose frames the
// port dropped for flow control (409, CodeDropped): stalled, queue-full or
// backlog-full, so its VM did not get them all. The stream was read to its
// end; the error says how many frames went and which were dropped.
var ErrInjectDropped = errors.New("dropped for flow control")

// ErrNoHub reports a control address at which no hub answers: no socket
// file there, or the connection refused. Its error names the address and
// wraps the dial's error too (syscall.ENOENT, syscall.ECONNREFUSED); what
// to do about it is the caller's to say (l2hub ctl: start a hub, or give
// one's address with --control).
var ErrNoHub = errors.New("no hub answers")

// noHubError is a dial that found no hub at addr.
type noHubError struct {
	addr      string
	isDefault bool
	err       error // the dial's error
}

func (e *noHubError) Error() string {
	where := e.addr
	if e.isDefault {
		where += ", the default control socket"
	}
	cause := e.err.Error()
	var oe *net.OpError
	if errors.As(e.err, &oe) && oe.Err != nil {
		cause = oe.Err.Error() // "connect: connection refused": the address is said already
	}
	return fmt.Sprintf("%s at %s (%s)", ErrNoHub, where, cause)
}

func (e *noHubError) Unwrap() []error { return []error{ErrNoHub, e.err} }

// noHub rewords a dial's error that means nothing listens at addr: no
// socket file, or the connection refused. Any other error is returned as
// it is.
func noHub(addr string, isDefault bool, err error) error {
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Op != "dial" ||
		!(errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOENT)) {
		return err
	}
	return &noHubError{addr: addr, isDefault: isDefault, err: err}
}
