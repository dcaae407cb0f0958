package control

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"l2hub/filter"
	"l2hub/hub"
)

// scrapeTimeout bounds a scrape's wait for the hub's loop; Prometheus's own
// default scrape timeout is 10s.
const scrapeTimeout = 5 * time.Second

// RuleActions are the actions a rule's counters count, as the action label
// of l2hub_rule_actions_total says them (see filter.RuleStats).
var RuleActions = []string{"dropped", "delayed", "duplicated", "corrupted", "queued", "overflowed"}

// DropReasonsHelp says what each reason of l2hub_port_drops_total means,
// as its help text gives it.
const DropReasonsHelp = "runt (shorter than an Ethernet header); " +
	"oversize (longer than the maximum frame, or than the socket could send); " +
	"policy (the policy dropped it: a rule, a partition, or a link taken down by ctl link down or a flap schedule, which l2hub_port_link_down_drops_total also counts); " +
	"reflect (switch mode: its destination is the port it came in on); " +
	"split-horizon (its destination is in its port's split-horizon group); " +
	"port-down (no VM attached to the port, or it went away with copies queued; not ctl link down, which counts as policy); " +
	"write-error (the transport failed to send it); " +
	"foreign-source (a datagram from an address other than the port's peer: udp, unixgram, mcast and vxlan ports); " +
	"delay-full (too many frames waiting out a delay); " +
	"stalled (the port's VM read nothing for the stall time); " +
	"queue-full (the port's queue was full and it drops rather than pauses); " +
	"backlog-full (a paused sender's backlog reached its bound); " +
	"kernel-overflow (dropped below the hub before it could read it: a socket buffer, a TAP device's queue, a virtual peer's NIC queue; datagram, vxlan, tap and virtual peer ports); " +
	"bad-encap (a VXLAN datagram too short or without the I flag); " +
	"other-vni (a VXLAN datagram for another VNI); " +
	"own-echo (a VXLAN datagram the port sent itself, come back to it)."

// Collector exports the hub's port counters, VXLAN ports' remotes and
// learning tables, and the policy's rule counters to Prometheus, reading
// them at scrape time: one call of ports per scrape.
type Collector struct {
	ports   func(ctx context.Context) ([]hub.PortStatus, error)
	rules   func() []filter.RuleStats
	reasons func(port string) []hub.DropReason

	rxFrames, rxBytes, txFrames, txBytes, drops, attached, attaches, matched, actions *prometheus.Desc
	queued, paused, pauses, pausedSeconds, stalled, stalls                            *prometheus.Desc
	remoteSent, remoteReceived, remoteLastHeard, remoteQuiet                          *prometheus.Desc
	learned, learnedLimit, learnEvictions, macMoves                                   *prometheus.Desc
}

// NewCollector returns a collector; rules may be nil.
func NewCollector(ports func(ctx context.Context) ([]hub.PortStatus, error), rules func() []filter.RuleStats) *Collector {
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
		drops: d("port_drops_total",
			"Frames dropped, by reason. A copy dropped on its way to another port (by the policy, a full queue, no peer) is counted at the port the copy was meant for, not at its sender's. "+
				"Each port has a series for each reason its transport can give, 0 until it happens, and for any other once it has: "+DropReasonsHelp,
			"port", "reason"),
		attached: d("port_attached", "1 while the port has a peer.", "port"),
		attaches: d("port_attaches_total", "Peers attached over the port's life.", "port"),
		matched:  d("rule_matched_total", "Frames the rule matched, on all links (its window included).", "rule"),
		actions: d("rule_actions_total",
			"What the rule did to the frames it matched: dropped frames; delayed, duplicated (extra copies), corrupted, queued (rate) and overflowed (dropped by a full rate queue) copies. Each action is counted once, apart from matched.",
			"rule", "action"),
		queued: d("port_queued_frames", "Frames waiting for the port's peer.", "port"),
		paused: d("port_paused", "1 while the hub holds the port's sender back (its frames wait for a port whose peer is not reading fast enough).", "port"),
		pauses: d("port_pauses_total", "Times the port's sender was paused.", "port"),
		pausedSeconds: d("port_paused_seconds_total",
			"Time the port's sender has spent paused, the current pause included.", "port"),
		stalled: d("port_stalled", "1 while the port drops its frames because its peer read nothing for the stall time.", "port"),
		stalls:  d("port_stalls_total", "Times the port stalled.", "port"),
		remoteSent: d("vxlan_remote_sent_datagrams_total",
			"Datagrams the VXLAN port sent to the remote VTEP.", "port", "remote"),
		remoteReceived: d("vxlan_remote_received_datagrams_total",
			"Datagrams the VXLAN port received from the remote VTEP, those it refused (another VNI, a bad header) included.", "port", "remote"),
		remoteLastHeard: d("vxlan_remote_last_heard_timestamp_seconds",
			"When the VXLAN port last received a datagram from the remote VTEP, in seconds since the Unix epoch; no sample until it has.", "port", "remote"),
		remoteQuiet: d("vxlan_remote_quiet",
			"1 while the remote VTEP, once heard, has sent nothing for the port's silence period (30s by default).", "port", "remote"),
		learned: d("vxlan_learned_macs",
			"MACs the VXLAN port's learning table holds, each behind a remote VTEP or on this hub's side (a MAC the port sent a frame from), none older than the aging time.", "port"),
		learnedLimit: d("vxlan_learned_macs_limit",
			"The most MACs the VXLAN port's learning table holds; a new MAC past it pushes out the least recently seen behind a remote VTEP (this hub's side only when none is left).", "port"),
		learnEvictions: d("vxlan_learning_evictions_total",
			"MACs pushed out of the VXLAN port's full learning table by a new one before they aged (frames to them are flooded to every remote until they are seen again).", "port"),
		macMoves: d("vxlan_mac_moves_total",
			"MACs the VXLAN port's learning table saw at one place and then, before they aged, at another: behind another remote VTEP, or behind a remote after this hub's side (a VM that moved, or a host sending with another's address), or back.", "port"),
	}
}

// WithDropReasons makes c export, for each port, a series of
// l2hub_port_drops_total for each reason reasons(port) lists (its
// transport's, say: the VXLAN reasons only on a VXLAN port), and for any
// other only once it has counted a frame; without it, or with a nil list,
// every port has every reason's series. It returns c.
func (c *Collector) WithDropReasons(reasons func(port string) []hub.DropReason) *Collector {
	c.reasons = reasons
	return c
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.rxFrames, c.rxBytes, c.txFrames, c.txBytes, c.drops, c.attached, c.attaches, c.matched, c.actions,
		c.queued, c.paused, c.pauses, c.pausedSeconds, c.stalled, c.stalls,
		c.remoteSent, c.remoteReceived, c.remoteLastHeard, c.remoteQuiet,
		c.learned, c.learnedLimit, c.learnEvictions, c.macMoves} {
		ch <- d
	}
}

// Collect implements prometheus.Collector. Ports it cannot read from the
// hub's loop (busy past the scrape's bound, or stopped) fail the scrape
// (an invalid metric: Prometheus records the error and up 0) rather than
// leave a gap in the ports' series.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	ports, err := c.ports(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.rxFrames, fmt.Errorf("reading the ports' counters from the hub: %w", err))
	} else {
		for _, p := range ports {
			counter := func(d *prometheus.Desc, v uint64, labels ...string) {
				ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), append([]string{p.Name}, labels...)...)
			}
			counter(c.rxFrames, p.Stats.RxFrames)
			counter(c.rxBytes, p.Stats.RxBytes)
			counter(c.txFrames, p.Stats.TxFrames)
			counter(c.txBytes, p.Stats.TxBytes)
			counter(c.attaches, p.Stats.Attaches)
			var own []hub.DropReason
			if c.reasons != nil {
				own = c.reasons(p.Name)
			}
			every := own == nil
			for _, r := range hub.DropReasons() {
				// A reason the port's transport cannot give has no series
				// (a hub of many ports would carry hundreds that stay 0),
				// unless it happened after all.
				n := p.Stats.Drops[r.String()]
				if every || n > 0 || slices.Contains(own, r) {
					counter(c.drops, n, r.String())
				}
			}
			counter(c.pauses, p.Stats.Pauses)
			counter(c.stalls, p.Stats.Stalls)
			ch <- prometheus.MustNewConstMetric(c.pausedSeconds, prometheus.CounterValue, (p.Stats.Paused + p.Flow.PausedFor).Seconds(), p.Name)
			flag := func(d *prometheus.Desc, on bool) {
				ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, gauge(on), p.Name)
			}
			flag(c.attached, p.Attached)
			flag(c.paused, p.Flow.Paused)
			flag(c.stalled, p.Flow.Stalled)
			ch <- prometheus.MustNewConstMetric(c.queued, prometheus.GaugeValue, float64(p.Queued), p.Name)
			for _, r := range p.Remotes {
				ch <- prometheus.MustNewConstMetric(c.remoteSent, prometheus.CounterValue, float64(r.Sent), p.Name, r.Addr)
				ch <- prometheus.MustNewConstMetric(c.remoteReceived, prometheus.CounterValue, float64(r.Received), p.Name, r.Addr)
				if !r.LastHeard.IsZero() {
					ch <- prometheus.MustNewConstMetric(c.remoteLastHeard, prometheus.GaugeValue, float64(r.LastHeard.UnixNano())/1e9, p.Name, r.Addr)
				}
				ch <- prometheus.MustNewConstMetric(c.remoteQuiet, prometheus.GaugeValue, gauge(r.Quiet), p.Name, r.Addr)
			}
			if l := p.Learning; l != nil {
				ch <- prometheus.MustNewConstMetric(c.learned, prometheus.GaugeValue, float64(l.Entries), p.Name)
				ch <- prometheus.MustNewConstMetric(c.learnedLimit, prometheus.GaugeValue, float64(l.Size), p.Name)
				counter(c.learnEvictions, l.Evicted)
				counter(c.macMoves, l.Moves)
			}
		}
	}
	if c.rules != nil {
		for _, r := range c.rules() {
			ch <- prometheus.MustNewConstMetric(c.matched, prometheus.CounterValue, float64(r.Matched), r.Rule)
			for i, v := range [...]uint64{r.Dropped, r.Delayed, r.Duplicated, r.Corrupted, r.Queued, r.Overflowed} {
				ch <- prometheus.MustNewConstMetric(c.actions, prometheus.CounterValue, float64(v), r.Rule, RuleActions[i])
			}
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

// Collect implements prometheus.Collector; as Collector's, a state it
// cannot read fails the scrape.
func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	ports, err := c.target.Ports(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.linkUp, fmt.Errorf("reading the ports from the hub: %w", err))
		return
	}
	st, err := c.target.State(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.linkUp, fmt.Errorf("reading the links' and partitions' state from the hub: %w", err))
		return
	}
	for _, p := range portStatuses(ports, st, nil) { // the policy's link: a port not open is up in it
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

// LinkCollector exports the hub's per-link counters (hub.LinkStats): one
// series per ordered pair of ports that has carried or dropped a frame, so
// a hub of n ports has at most n(n-1) of each.
type LinkCollector struct {
	links                func(ctx context.Context) ([]hub.LinkStats, error)
	frames, bytes, drops *prometheus.Desc
}

// linkSeries says, in the links' help texts, which pairs have series.
const linkSeries = "Only an ordered pair of ports that has carried or dropped a frame has series, " +
	"and then all three link families, those still 0 included, so rate() and increase() see every step: " +
	"a pair that never saw traffic costs nothing, but a broadcast from each of n ports makes n(n-1) pairs."

// NewLinkCollector returns a collector of links' counters.
func NewLinkCollector(links func(ctx context.Context) ([]hub.LinkStats, error)) *LinkCollector {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc("l2hub_link_"+name, help, []string{"from", "to"}, nil)
	}
	return &LinkCollector{
		links:  links,
		frames: d("frames_total", "Frames from port from's peer queued for port to's peer (each copy counts). "+linkSeries),
		bytes:  d("bytes_total", "Bytes of the frames l2hub_link_frames_total counts. "+linkSeries),
		drops: d("drops_total",
			"Frames from port from dropped on their way to port to: by the policy, flow control, for want of a peer, or at the delay bound. "+linkSeries),
	}
}

// Describe implements prometheus.Collector.
func (c *LinkCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.frames
	ch <- c.bytes
	ch <- c.drops
}

// Collect implements prometheus.Collector; as Collector's, counters it
// cannot read fail the scrape.
func (c *LinkCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	links, err := c.links(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.frames, fmt.Errorf("reading the links' counters from the hub: %w", err))
		return
	}
	for _, l := range links {
		ch <- prometheus.MustNewConstMetric(c.frames, prometheus.CounterValue, float64(l.Frames), l.From, l.To)
		ch <- prometheus.MustNewConstMetric(c.bytes, prometheus.CounterValue, float64(l.Bytes), l.From, l.To)
		ch <- prometheus.MustNewConstMetric(c.drops, prometheus.CounterValue, float64(l.Drops), l.From, l.To)
	}
}

// NewBuildInfo returns l2hub_build_info{version, revision, goversion} 1:
// l2hub's version, the VCS revision the binary was built from ("unknown"
// when the build recorded none, as with go build -buildvcs=false or a
// build outside a repository; internal/buildinfo reads it) and the Go
// version.
func NewBuildInfo(version, revision, goVersion string) prometheus.Collector {
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "l2hub_build_info",
		Help:        "Always 1; its labels say which l2hub this is: version, VCS revision (unknown when the build recorded none) and Go version.",
		ConstLabels: prometheus.Labels{"version": version, "revision": revision, "goversion": goVersion},
	})
	g.Set(1)
	return g
}
