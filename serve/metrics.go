package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"l2hub/control"
	"l2hub/filter"
	"l2hub/hub"
	"l2hub/internal/buildinfo"
	"l2hub/transport"
)

// Registry returns the Prometheus registry of the session's metrics, made
// on first use: the ports' counters and flow state (VXLAN ports' remotes
// and learning tables among them), their MAC moves, the links' counters, the rules'
// counters, the capture's (with one), l2hub_build_info, and the Go
// runtime's (go_*) and the process's (process_*). The control API's
// /metrics and the metrics endpoint (Config.Metrics) serve it, with the
// policy's link and partition state.
func (s *Session) Registry() *prometheus.Registry {
	s.regOnce.Do(func() {
		bi := buildinfo.Read()
		reg := prometheus.NewRegistry()
		reg.MustRegister(
			control.NewCollector(s.Ports, s.ruleStats).WithDropReasons(s.portDropReasons()),
			control.NewLinkCollector(s.hub.Links),
			control.NewBuildInfo(s.opts.Version, bi.Revision, bi.GoVersion),
			newMACMovesCollector(s.Stats),
			collectors.NewGoCollector(),
			collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		)
		if s.capture != nil {
			reg.MustRegister(newCaptureCollector(s.capture.Stats))
		}
		s.reg = reg
	})
	return s.reg
}

// portDropReasons returns, for each port, the drop reasons its transport
// can give, for l2hub_port_drops_total (control.Collector.WithDropReasons):
// a hub of 100 stream ports would otherwise export 500 series of VXLAN and
// datagram reasons that stay 0. A port it does not know gets nil (every
// reason).
func (s *Session) portDropReasons() func(port string) []hub.DropReason {
	byPort := map[string][]hub.DropReason{}
	for _, r := range s.runners {
		spec := r.Spec()
		byPort[spec.Name] = dropReasons(spec.Transport)
	}
	for _, p := range s.peers {
		// A virtual node's NIC queue drops what the hub does not read.
		byPort[p.role] = append(commonDropReasons(), hub.DropKernel)
	}
	return func(port string) []hub.DropReason { return byPort[port] }
}

// transportDropReasons are the reasons only some transports give.
var transportDropReasons = []hub.DropReason{hub.DropForeign, hub.DropKernel, hub.DropEncap, hub.DropVNI, hub.DropOwnEcho}

// commonDropReasons are the reasons any port can give: the hub's own
// (policy, flow control, no peer, ...) and every transport's (runt,
// oversize, write-error).
func commonDropReasons() []hub.DropReason {
	return slices.DeleteFunc(hub.DropReasons(), func(r hub.DropReason) bool { return slices.Contains(transportDropReasons, r) })
}

// dropReasons are the reasons a port of transport t can give; nil (every
// reason) for one it does not know.
func dropReasons(t transport.Transport) []hub.DropReason {
	switch t {
	case transport.TCP, transport.TCPDial, transport.Unix, transport.UnixDial:
		return commonDropReasons()
	case transport.UDP, transport.Unixgram:
		// A stranger's datagram; the socket buffer's overflow.
		return append(commonDropReasons(), hub.DropForeign, hub.DropKernel)
	case transport.Mcast:
		// The socket buffer's overflow; anyone may send to the group, so
		// there is no stranger (only its own echo, skipped uncounted).
		return append(commonDropReasons(), hub.DropKernel)
	case transport.TAP:
		// The tun driver's queue overflow.
		return append(commonDropReasons(), hub.DropKernel)
	case transport.VXLAN:
		return append(commonDropReasons(), transportDropReasons...)
	}
	return nil
}

// ruleStats are the policy's per-rule counters for /metrics.
func (s *Session) ruleStats() []filter.RuleStats {
	if p := s.currentPolicy(); p != nil {
		return p.Stats().Rules
	}
	return nil
}

// metricsListener is the metrics endpoint's bound address, not yet
// serving; its zero value is "no metrics endpoint".
type metricsListener struct {
	l     net.Listener
	addr  string // tcp:HOST:PORT, the port bound
	token string // required of every scrape; "" for none (loopback only)
}

// listenMetrics binds cfg.Metrics, if set. A metrics token, when given
// (Config.MetricsAuth), is required of every scrape; a loopback address
// may do without one, any other may not. The control token is never
// accepted there: a metrics token that is the control token is refused,
// since whoever holds the scrape's credentials could then change the hub.
func listenMetrics(cfg Config) (metricsListener, error) {
	if cfg.Metrics == "" {
		return metricsListener{}, nil
	}
	_, needToken, err := control.ParseMetricsAddr(cfg.Metrics)
	if err != nil {
		return metricsListener{}, cfg.blame(fmt.Errorf("address %q: %w", cfg.Metrics, err), "metrics")
	}
	token, err := cfg.MetricsAuth()
	if err != nil {
		return metricsListener{}, err // it names the token's file
	}
	if needToken {
		// As ListenMetrics would, but naming where the token came from.
		if err := control.CheckTokenLen("metrics token from "+cfg.MetricsTokenFrom(), token); err != nil {
			return metricsListener{}, fmt.Errorf("metrics: %w", err)
		}
	}
	if token != "" {
		if ctl, err := cfg.Token(); err == nil && ctl == token {
			return metricsListener{}, errors.New("metrics: the metrics token is the control token: give the metrics endpoint a token of its own " +
				"(a scraper's credentials must not change the hub)")
		}
	}
	l, err := control.ListenMetrics(cfg.Metrics, token)
	if err != nil {
		return metricsListener{}, cfg.blame(err, "metrics")
	}
	return metricsListener{l: l, addr: control.Addr(l), token: token}, nil
}

func (m metricsListener) close() {
	if m.l != nil {
		m.l.Close()
	}
}

// serve answers scrapes of s's metrics until ctx ends; done is closed
// once it stopped (nil without a metrics endpoint).
func (m metricsListener) serve(ctx context.Context, s *Session, log *slog.Logger) (done <-chan struct{}) {
	if m.l == nil {
		return nil
	}
	s.metricsAddr = m.addr // for the ready file
	srv := &control.MetricsServer{Target: s, Registry: s.Registry(), Token: m.token, Logger: log}
	ch := make(chan struct{})
	go func() {
		defer close(ch)
		if err := srv.Serve(ctx, m.l); err != nil && !errors.Is(err, net.ErrClosed) {
			log.Warn("metrics endpoint stopped", "err", err)
		}
	}()
	return ch
}
