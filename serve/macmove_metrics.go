package serve

import (
	"github.com/prometheus/client_golang/prometheus"
)

// macMovesCollector exports l2hub_port_mac_moves_total: how often a source
// MAC the switch had learned on another port came in on this one. A steady
// rise on two ports is two VMs sharing one MAC (QEMU's default), whose
// unicasts to each other are dropped as reflect.
type macMovesCollector struct {
	stats func() []PortStats
	desc  *prometheus.Desc
}

func newMACMovesCollector(stats func() []PortStats) *macMovesCollector {
	return &macMovesCollector{stats: stats, desc: prometheus.NewDesc("l2hub_port_mac_moves_total",
		"Source MACs learned on this port that the switch had learned on another (a VM moved, or two VMs share a MAC).", []string{"port"}, nil)}
}

// Describe implements prometheus.Collector.
func (c *macMovesCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect implements prometheus.Collector.
func (c *macMovesCollector) Collect(ch chan<- prometheus.Metric) {
	for _, p := range c.stats() {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, float64(p.Stats.MACMoves.Load()), p.Name)
	}
}
