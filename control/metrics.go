package control

import (
	"context"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"l2hub/hub"
)

// RuleCounter is one per-rule counter for /metrics: rule "loss-a", counter
// "dropped", value 12.
type RuleCounter struct {
	Rule    string
	Counter string
	Value   uint64
}

// Collector exports the hub's port counters and the policy's rule counters
// to Prometheus, reading them at scrape time.
type Collector struct {
	ports func(ctx context.Context) ([]hub.PortStatus, error)
	rules func() []RuleCounter

	rxFrames, rxBytes, txFrames, txBytes, drops, attached, attaches, rule *prometheus.Desc
}

// NewCollector returns a collector; rules may be nil.
func NewCollector(ports func(ctx context.Context) ([]hub.PortStatus, error), rules func() []RuleCounter) *Collector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("l2hub_"+name, help, labels, nil)
	}
	return &Collector{
		ports:    ports,
		rules:    rules,
		rxFrames: d("port_rx_frames_total", "Frames received from the port's peer.", "port"),
		rxBytes:  d("port_rx_bytes_total", "Bytes received from the port's peer.", "port"),
		txFrames: d("port_tx_frames_total", "Frames queued for the port's peer.", "port"),
		txBytes:  d("port_tx_bytes_total", "Bytes queued for the port's peer.", "port"),
		drops:    d("port_drops_total", "Frames dropped, by reason.", "port", "reason"),
		attached: d("port_attached", "1 while the port has a peer.", "port"),
		attaches: d("port_attaches_total", "Peers attached over the port's life.", "port"),
		rule:     d("rule_events_total", "Per-rule counters (matched, dropped, delayed, ...).", "rule", "counter"),
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.rxFrames, c.rxBytes, c.txFrames, c.txBytes, c.drops, c.attached, c.attaches, c.rule} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ports, err := c.ports(ctx)
	if err == nil {
		for _, p := range ports {
			counter := func(d *prometheus.Desc, v uint64, labels ...string) {
				ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), append([]string{p.Name}, labels...)...)
			}
			counter(c.rxFrames, p.Stats.RxFrames)
			counter(c.rxBytes, p.Stats.RxBytes)
			counter(c.txFrames, p.Stats.TxFrames)
			counter(c.txBytes, p.Stats.TxBytes)
			counter(c.attaches, p.Stats.Attaches)
			for _, r := range hub.DropReasons() {
				counter(c.drops, p.Stats.Drops[r.String()], r.String())
			}
			up := 0.0
			if p.Attached {
				up = 1
			}
			ch <- prometheus.MustNewConstMetric(c.attached, prometheus.GaugeValue, up, p.Name)
		}
	}
	if c.rules != nil {
		for _, r := range c.rules() {
			ch <- prometheus.MustNewConstMetric(c.rule, prometheus.CounterValue, float64(r.Value), r.Rule, r.Counter)
		}
	}
}

// stateCollector exports the policy's link and partition state and their
// drops to Prometheus, reading them from the target at scrape time. The
// server adds it to /metrics.
type stateCollector struct {
	target                                   Target
	linkUp, linkDrops, partActive, partDrops *prometheus.Desc
}

func newStateCollector(target Target) *stateCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("l2hub_"+name, help, labels, nil)
	}
	return &stateCollector{
		target:     target,
		linkUp:     d("port_link_up", "1 while the port's link is up, 0 while it is down (ctl link, or a flap schedule).", "port"),
		linkDrops:  d("port_link_down_drops_total", "Frames to or from the port dropped while its link was down.", "port"),
		partActive: d("partition_active", "1 while the partition is in force, 0 while it is healed.", "partition"),
		partDrops:  d("partition_drops_total", "Frames the partition dropped.", "partition"),
	}
}

// Describe implements prometheus.Collector.
func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.linkUp, c.linkDrops, c.partActive, c.partDrops} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ports, err := c.target.Ports(ctx)
	if err != nil {
		return
	}
	st, err := c.target.State(ctx)
	if err != nil {
		return
	}
	for _, p := range portStatuses(ports, st) {
		var drops uint64
		if j := slices.IndexFunc(st.Links, func(l LinkState) bool { return l.Port == p.Name }); j >= 0 {
			drops = st.Links[j].Dropped
		}
		ch <- prometheus.MustNewConstMetric(c.linkUp, prometheus.GaugeValue, gauge(p.Up()), p.Name)
		ch <- prometheus.MustNewConstMetric(c.linkDrops, prometheus.CounterValue, float64(drops), p.Name)
	}
	for _, pt := range st.Partitions {
		ch <- prometheus.MustNewConstMetric(c.partActive, prometheus.GaugeValue, gauge(pt.Active), pt.Name)
		ch <- prometheus.MustNewConstMetric(c.partDrops, prometheus.CounterValue, float64(pt.Dropped), pt.Name)
	}
}

func gauge(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
