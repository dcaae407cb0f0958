//go:build linux

package transport

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"

	"l2hub/tap"
)

// openTAPRunner opens the TAP device a tap spec describes.
func openTAPRunner(b *runnerBase) (Runner, error) {
	s := b.spec
	cfg := tap.TAPConfig{Name: s.Address, Netns: s.Options["netns"], MaxFrame: b.opts.MaxFrame, MAC: tap.DefaultTAPMAC(s.Name)}
	if m, ok := s.Options["mac"]; ok {
		hw, err := net.ParseMAC(m)
		if err != nil {
			return nil, err
		}
		cfg.MAC = hw
	}
	if ip, ok := s.Options["ip"]; ok {
		p, err := netip.ParsePrefix(ip)
		if err != nil {
			return nil, err
		}
		cfg.Addr = p
	}
	dev, err := tap.OpenTAP(cfg)
	if err != nil {
		return nil, err
	}
	opts := maps.Clone(s.Options)
	if opts == nil {
		opts = map[string]string{}
	}
	opts["mac"] = dev.MAC().String()
	b.spec.Options = opts
	return &tapRunner{runnerBase: b, dev: dev}, nil
}

// tapRunner attaches a TAP device once and holds it until ctx ends or the
// hub lets go of it; then the device is closed and undone.
type tapRunner struct {
	*runnerBase
	dev *tap.TAPDevice
}

var _ Runner = (*tapRunner)(nil)

func (r *tapRunner) Run(ctx context.Context, a Attacher) error {
	ctx, stop, err := r.start(ctx)
	if err != nil {
		return err
	}
	defer stop()
	if ctx.Err() != nil {
		r.closeDev()
		return nil
	}
	done, err := a.Attach(r.spec.Name, r.dev)
	if err != nil {
		r.closeDev()
		return r.attachErr(ctx, err)
	}
	r.log.Info("attached", "device", r.dev.Describe())
	select {
	case <-done:
		if ctx.Err() == nil {
			r.log.Warn("hub let go of the TAP device; the port stays down", "device", r.dev.Describe())
		}
	case <-ctx.Done():
		r.closeDev()
		<-done
	}
	return nil
}

// closeDev closes the device, logging what could not be undone.
func (r *tapRunner) closeDev() {
	if err := r.dev.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		r.log.Warn("closing the TAP device", "err", err)
	}
}

func (r *tapRunner) Close() error {
	r.signalQuit()
	if err := r.dev.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("port %q: %w", r.spec.Name, err)
	}
	return nil
}
