package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"l2hub/control"
	"l2hub/filter"
	"l2hub/hub"
	"l2hub/internal/buildinfo"
)

// Registry returns the Prometheus registry of the session's metrics, made
// on first use: the ports' counters and flow state, the links' counters,
// the rules' counters, VXLAN ports' learning tables, the capture's (with
// one), l2hub_build_info, and the Go runtime's (go_*) and the process's
// (process_*). The control API's
// /metrics and the metrics endpoint (Config.Metrics) serve it, with the
// policy's link and partition state.
func (s *Session) Registry() *prometheus.Registry {
	s.regOnce.Do(func() {
		bi := buildinfo.Read()
		reg := prometheus.NewRegistry()
		reg.MustRegister(
			control.NewCollector(s.Ports, s.ruleStats),
			control.NewLinkCollector(s.hub.Links),
			newLearningCollector(s.Ports),
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

// learningCollector exports the learning tables ports keep of their own
// (hub.Learner: a VXLAN port's, of the VTEP each MAC sits behind), read
// at scrape time.
type learningCollector struct {
	ports                         func(ctx context.Context) ([]hub.PortStatus, error)
	entries, size, evicted, moves *prometheus.Desc
}

func newLearningCollector(ports func(ctx context.Context) ([]hub.PortStatus, error)) *learningCollector {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc("l2hub_vxlan_"+name, help, []string{"port"}, nil)
	}
	return &learningCollector{
		ports:   ports,
		entries: d("learned_macs", "MACs the VXLAN port's learning table holds (the remote VTEP each sits behind), none older than the aging time."),
		size:    d("learned_macs_limit", "The most MACs the VXLAN port's learning table holds; a new MAC past it pushes out the least recently seen."),
		evicted: d("learning_evictions_total", "MACs pushed out of the VXLAN port's full learning table by a new one before they aged (frames to them are flooded to every remote until they are seen again)."),
		moves:   d("mac_moves_total", "MACs the VXLAN port's learning table saw at one place and then, before they aged, at another: behind another remote VTEP, or behind a remote after this hub's side (a VM that moved, or a host sending with another's address), or back."),
	}
}

// Describe implements prometheus.Collector.
func (c *learningCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.entries
	ch <- c.size
	ch <- c.evicted
	ch <- c.moves
}

// Collect implements prometheus.Collector.
func (c *learningCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ports, err := c.ports(ctx)
	if err != nil {
		return
	}
	for _, p := range ports {
		if l := p.Learning; l != nil {
			ch <- prometheus.MustNewConstMetric(c.entries, prometheus.GaugeValue, float64(l.Entries), p.Name)
			ch <- prometheus.MustNewConstMetric(c.size, prometheus.GaugeValue, float64(l.Size), p.Name)
			ch <- prometheus.MustNewConstMetric(c.evicted, prometheus.CounterValue, float64(l.Evicted), p.Name)
			ch <- prometheus.MustNewConstMetric(c.moves, prometheus.CounterValue, float64(l.Moves), p.Name)
		}
	}
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
	token string // required of every scrape; "" on loopback
}

// listenMetrics binds cfg.Metrics, if set. A loopback address needs no
// token; any other needs the control token, which scrapes then send.
func listenMetrics(cfg Config) (metricsListener, error) {
	if cfg.Metrics == "" {
		return metricsListener{}, nil
	}
	_, needToken, err := control.ParseMetricsAddr(cfg.Metrics)
	if err != nil {
		return metricsListener{}, fmt.Errorf("address %q: %w", cfg.Metrics, err)
	}
	var token string
	if needToken {
		if token, err = cfg.Token(); err != nil {
			return metricsListener{}, err
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
