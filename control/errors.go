package control

import "errors"

var (
	// ErrInUse reports a control socket that a running hub of the caller's
	// (or root's) already answers on.
	ErrInUse = errors.New("another l2hub is listening there")
	// ErrNotYours reports a control socket, or the directory of the default
	// one, that belongs to another user: someone may be squatting the path
	// to catch a hub's commands, so neither serve nor ctl goes near it.
	ErrNotYours = errors.New("belongs to another user")
	// ErrNeedToken reports a TCP control address without a token: any local
	// user (and, without one, a web page) could reach it.
	ErrNeedToken = errors.New("a TCP control address needs a token")
	// ErrMetricsNeedToken reports a metrics address other than loopback
	// without a token: any host that reaches it could read the hub's
	// counters.
	ErrMetricsNeedToken = errors.New("it needs a token")
)
