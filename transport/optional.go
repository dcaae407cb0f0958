package transport

import (
	"context"
	"errors"
)

// OpenErr returns why Open could not open r's transport when
// Options.Optional turned the failure into a port that stays down, and nil
// for a runner whose transport is open.
func OpenErr(r Runner) error {
	if d, ok := r.(*downRunner); ok {
		return d.err
	}
	return nil
}

// downRunner stands for a port whose transport could not be opened: the
// port exists on the hub but no peer ever attaches, so frames for it are
// counted as port-down while the other ports run.
type downRunner struct {
	*runnerBase
	err error
}

var _ Runner = (*downRunner)(nil)

func (r *downRunner) Run(ctx context.Context, _ Attacher) error {
	ctx, stop, err := r.start(ctx)
	if err != nil {
		return err
	}
	defer stop()
	<-ctx.Done()
	return nil
}

func (r *downRunner) Close() error {
	r.signalQuit()
	return nil
}

// optionalOpen is Open's fallback under Options.Optional.
func (b *runnerBase) optionalOpen(err error) (Runner, error) {
	if errors.Is(err, ErrSpec) {
		return nil, err
	}
	b.log.Warn("port not opened; it stays down while the others run", "err", err)
	return &downRunner{runnerBase: b, err: err}, nil
}
