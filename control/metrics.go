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
	queued, paused, pauses, pausedSeconds, stalled, stalls                *prometheus.Desc
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
		queued:   d("port_queued_frames", "Frames waiting for the port's peer.", "port"),
		paused:   d("port_paused", "1 while the hub holds the port's sender back (its frames wait for a port whose peer is not reading fast enough).", "port"),
		pauses:   d("port_pauses_total", "Times the port's sender was paused.", "port"),
		pausedSeconds: d("port_paused_seconds_total",
			"Time the port's sender spent paused, over pauses that have ended.", "port"),
		stalled: d("port_stalled", "1 while the port drops its frames because its peer read nothing for the stall time.", "port"),
		stalls:  d("port_stalls_total", "Times the port stalled.", "port"),
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.rxFrames, c.rxBytes, c.txFrames, c.txBytes, c.drops, c.attached, c.attaches, c.rule,
		c.queued, c.paused, c.pauses, c.pausedSeconds, c.stalled, c.stalls} {
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
			counter(c.pauses, p.Stats.Pauses)
			counter(c.stalls, p.Stats.Stalls)
			ch <- prometheus.MustNewConstMetric(c.pausedSeconds, prometheus.CounterValue, p.Stats.Paused.Seconds(), p.Name)
			gauge := func(d *prometheus.Desc, on bool) {
				v := 0.0
				if on {
					v = 1
				}
				ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, p.Name)
			}
			gauge(c.attached, p.Attached)
			gauge(c.paused, p.Flow.Paused)
			gauge(c.stalled, p.Flow.Stalled)
			ch <- prometheus.MustNewConstMetric(c.queued, prometheus.GaugeValue, float64(p.Queued), p.Name)
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
