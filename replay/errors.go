package replay

import "errors"

var (
	// ErrNoInput is returned by Open without inputs.
	ErrNoInput = errors.New("no input captures")
	// ErrPortMap reports a port mapping that cannot be honoured: a MAC given
	// to two ports, two inputs with one port name, a malformed NAME=VALUE.
	ErrPortMap = errors.New("bad port mapping")
	// ErrRewrite reports a malformed --rewrite-mac or --rewrite-ip value.
	ErrRewrite = errors.New("bad rewrite")
	// ErrPacing reports pacing options that contradict each other.
	ErrPacing = errors.New("bad pacing")
	// ErrNoMatch reports --from or --from-mac keeping none of a capture's
	// frames: Inject would send nothing.
	ErrNoMatch = errors.New("nothing to send")
	// ErrNothingToReplay reports inputs that hold no frame to replay:
	// no record, only egress copies, or none readable.
	ErrNothingToReplay = errors.New("nothing to replay")
	// ErrTooManyPorts reports inputs that would make a replay of more
	// ports than Config.MaxPorts.
	ErrTooManyPorts = errors.New("too many ports")
	// ErrSameCapture reports one capture given twice: the same file, or a
	// copy of it.
	ErrSameCapture = errors.New("capture given twice")
)
