package loadgen

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"l2hub/hub"
	"l2hub/serve"
	"l2hub/transport"
)

// Hub target names, as results and l2hub bench --targets show them.
const (
	TargetHub        = "l2hub"
	TargetHubPolicy  = "l2hub+policy"
	TargetHubCapture = "l2hub+policy+capture"
	TargetMcast      = "mcast"
)

// Hub is l2hub itself: a serve.Session built from a serve.Config, as
// `l2hub serve` builds it (hub, policy, capture, bound transports), run in
// this process with the VMs attached over real sockets.
type Hub struct {
	Mode     hub.Mode
	Queue    int
	Overflow hub.Overflow
	Stall    time.Duration
	// BystanderStall, when set, is the stall time of a scenario's
	// bystander ports alone (the port option stall=): the stalled-port
	// scenario stalls its bystander quickly while the VMs that read keep
	// the hub's stall time, so a loaded machine that does not run one of
	// them for a moment does not make it drop frames.
	BystanderStall time.Duration
	Policy         bool // the 5-rule pass-through policy (PassThroughPolicy)
	Capture        bool // pcapng of both directions to a temporary file
	Logger         *slog.Logger
	// Process, when set, is an l2hub binary: the hub runs as `l2hub serve`
	// in a process of its own, as beside QEMU, rather than in this one
	// (see openProcess).
	Process string
}

var _ Target = (*Hub)(nil)

// Name implements Target.
func (t *Hub) Name() string {
	name := TargetHub
	switch {
	case t.Capture:
		name = TargetHubCapture
	case t.Policy:
		name = TargetHubPolicy
	}
	if t.Overflow == hub.OverflowDrop {
		name += "+drop"
	}
	return name
}

// Open implements Target. A udp scenario binds each VM's socket at a
// port found free a moment before, so a lost race is retried.
func (t *Hub) Open(ctx context.Context, sc Scenario) (*Net, error) {
	var err error
	for range 3 {
		var n *Net
		if n, err = t.open(ctx, sc); err == nil || sc.Transport != "udp" {
			return n, err
		}
	}
	return nil, err
}

// checkConfig checks the settings of t that serve validates, as every
// scenario's Open would, without opening anything.
func (t Hub) checkConfig() error {
	cfg := serve.Config{Mode: t.Mode, Queue: t.Queue, Overflow: t.Overflow, Stall: t.Stall, Control: "off",
		Ports: []transport.Spec{{Name: "vm00", Transport: transport.TCP, Address: "127.0.0.1:0"}}}
	return cfg.Validate()
}

func (t *Hub) open(ctx context.Context, sc Scenario) (_ *Net, err error) {
	dir, err := os.MkdirTemp("", "l2hub-bench-")
	if err != nil {
		return nil, err
	}
	cleanup := []func(){func() { os.RemoveAll(dir) }}
	defer func() {
		if err != nil {
			for i := len(cleanup) - 1; i >= 0; i-- {
				cleanup[i]()
			}
		}
	}()

	cfg := serve.Config{Mode: t.Mode, Queue: t.Queue, Overflow: t.Overflow, Stall: t.Stall, Control: "off"}
	vmAddrs := make([]string, sc.Ports) // udp: where each VM is bound
	for i := range sc.Ports {
		spec := transport.Spec{Name: fmt.Sprintf("vm%02d", i)}
		switch sc.Transport {
		case "tcp":
			spec.Transport, spec.Address = transport.TCP, "127.0.0.1:0"
		case "unix":
			spec.Transport, spec.Address = transport.Unix, filepath.Join(dir, spec.Name+".sock")
		case "udp":
			if vmAddrs[i], err = freeUDPAddr(); err != nil {
				return nil, err
			}
			spec.Transport, spec.Address, spec.Peer = transport.UDP, "127.0.0.1:0", vmAddrs[i]
		default:
			return nil, fmt.Errorf("%w: transport %q for l2hub (want tcp, unix or udp)", ErrUnsupported, sc.Transport)
		}
		if t.BystanderStall > 0 && i >= sc.Ports-sc.Bystanders {
			spec.Options = transport.SpecOptions{"stall": t.BystanderStall.String()}
		}
		cfg.Ports = append(cfg.Ports, spec)
	}
	if t.Policy {
		cfg.Policy = filepath.Join(dir, "policy.yaml")
		if err := os.WriteFile(cfg.Policy, []byte(PassThroughPolicy), 0o600); err != nil {
			return nil, err
		}
	}
	if t.Capture {
		cfg.Capture = serve.CaptureConfig{File: filepath.Join(dir, "bench.pcapng"), Points: "both"}
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if t.Process != "" {
		n, err := t.openProcess(ctx, sc, cfg, dir, vmAddrs)
		if err != nil {
			return nil, err
		}
		closeHub := n.Close
		n.Close = func() error { defer os.RemoveAll(dir); return closeHub() }
		return n, nil
	}
	log := t.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	sess, err := serve.New(cfg, serve.Options{Logger: log})
	if err != nil {
		return nil, err
	}
	cleanup = append(cleanup, func() { sess.Stop() })
	if err := sess.Start(ctx, func(err error) { log.Warn("bench: transport stopped", "err", err) }); err != nil {
		return nil, err
	}

	n := &Net{}
	for i, p := range sess.Bound() {
		var vm VM
		switch sc.Transport {
		case "tcp", "unix":
			vm, err = transport.DialStream(ctx, sc.Transport, p.Spec.Address, 0)
		case "udp":
			vm, err = transport.ListenUDP(vmAddrs[i], p.Spec.Address, 0, 0)
		}
		if err != nil {
			return nil, fmt.Errorf("VM %d to port %s: %w", i, p.Spec.Name, err)
		}
		cleanup = append(cleanup, func() { vm.Close() })
		n.Ports = append(n.Ports, vm)
	}
	if err := waitAttached(ctx, 5*time.Second, sess.Ports); err != nil {
		return nil, err
	}
	var counters map[string]uint64
	n.Close = func() error {
		errs := []error{closeAll(n.Ports)}
		errs = append(errs, sess.Stop())
		counters = sessionCounters(sess)
		os.RemoveAll(dir)
		return errors.Join(errs...)
	}
	n.Counters = func() map[string]uint64 { return counters }
	return n, nil
}

// waitAttached returns once every port has its VM attached (frames sent
// earlier to a port whose VM is not attached yet would be dropped), or
// fails after within. ports lists the hub's ports and whether each has a
// VM: a session's, or a hub process's through its control API.
func waitAttached(ctx context.Context, within time.Duration, ports func(context.Context) ([]hub.PortStatus, error)) error {
	deadline := time.Now().Add(within)
	for {
		ps, err := ports(ctx)
		if err != nil {
			return err
		}
		var waiting []string
		for _, p := range ps {
			if !p.Attached {
				waiting = append(waiting, p.Name)
			}
		}
		if len(waiting) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("ports %s: no VM attached after %v", strings.Join(waiting, ", "), within)
		}
		time.Sleep(time.Millisecond)
	}
}

// sessionCounters sums the hub's drops by reason over every port, and its
// pauses and stalls, and adds the capture's figures.
func sessionCounters(sess *serve.Session) map[string]uint64 {
	c := map[string]uint64{}
	for _, st := range sess.Stats() {
		for _, r := range hub.DropReasons() {
			if n := st.Stats.Drops(r); n > 0 {
				c["hub_drop_"+r.String()] += n
			}
		}
		if n := st.Stats.Pauses.Load(); n > 0 {
			c["hub_pauses"] += n
		}
		if n := st.Stats.Stalls.Load(); n > 0 {
			c["hub_stalls"] += n
		}
	}
	if cs, _, ok := sess.CaptureStats(); ok {
		c["capture_written"] = cs.Written
		c["capture_bytes"] = cs.Bytes
		c["capture_queue_full"] = cs.QueueFull
		c["capture_write_error"] = cs.WriteError
	}
	return c
}

// freeUDPAddr returns a loopback address whose port was free a moment ago.
func freeUDPAddr() (string, error) {
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer c.Close()
	port := c.LocalAddr().(*net.UDPAddr).Port
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), nil
}

// UseTargets sets the suite's targets from l2hub bench's names
// (TargetHub, TargetHubPolicy, TargetHubCapture, TargetMcast); each hub
// target is base with the name's policy and capture. With a hub target,
// the overload scenario (overload) runs on the last one named, the one with
// the most machinery, the open-loop scenarios (s.OpenLoop) compare base
// with overflow: drop, and the stalled-port scenario (stall) runs on base
// with a 500ms stall time on the stalled port.
func (s *Suite) UseTargets(names []string, base Hub, overload, stall bool) error {
	for _, name := range names {
		t := base
		switch name {
		case TargetHub:
		case TargetHubPolicy:
			t.Policy = true
		case TargetHubCapture:
			t.Policy, t.Capture = true, true
		case TargetMcast:
			s.Mcast = Mcast{}
			continue
		default:
			return fmt.Errorf("unknown target %q", name)
		}
		s.Targets = append(s.Targets, &t)
	}
	if len(s.Targets) == 0 {
		return nil
	}
	if overload {
		s.Overload = s.Targets[len(s.Targets)-1]
	}
	if s.OpenLoop {
		drop := base
		drop.Overflow = hub.OverflowDrop
		s.Compare = []Target{&drop}
	}
	if stall {
		s.StallTime = 500 * time.Millisecond
		st := base
		st.BystanderStall = s.StallTime
		s.Stall = &st
	}
	return nil
}
