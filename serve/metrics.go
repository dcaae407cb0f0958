package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"l2hub/control"
	"l2hub/filter"
	"l2hub/internal/buildinfo"
)

// Registry returns the Prometheus registry of the session's metrics, made
// on first use: the ports' counters and flow state (VXLAN ports' remotes
// and learning tables among them), the links' counters, the rules'
// counters, the capture's (with one), l2hub_build_info, and the Go
// runtime's (go_*) and the process's (process_*). The control API's
// /metrics and the metrics endpoint (Config.Metrics) serve it, with the
// policy's link and partition state.
func (s *Session) Registry() *prometheus.Registry {
	s.regOnce.Do(func() {
		bi := buildinfo.Read()
		reg := prometheus.NewRegistry()
		reg.MustRegister(
			control.NewCollector(s.Ports, s.ruleStats),
			control.NewLinkCollector(s.hub.Links),
			control.NewBuildInfo(s.opts.Version, bi.Revision, bi.GoVersion),
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
	if _, _, err := control.ParseMetricsAddr(cfg.Metrics); err != nil {
		return metricsListener{}, fmt.Errorf("address %q: %w", cfg.Metrics, err)
	}
	token, err := cfg.MetricsAuth()
	if err != nil {
		return metricsListener{}, err
	}
	if token != "" {
		if ctl, err := cfg.Token(); err == nil && ctl == token {
			return metricsListener{}, errors.New("the metrics token is the control token: give the metrics endpoint a token of its own " +
				"(a scraper's credentials must not change the hub)")
		}
	}
	l, err := control.ListenMetrics(cfg.Metrics, token)
	if err != nil {
		return metricsListener{}, err
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
