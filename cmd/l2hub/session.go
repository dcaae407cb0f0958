package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"l2hub/capture"
	"l2hub/conformance"
	"l2hub/conformance/checker"
	"l2hub/conformance/vnode"
	"l2hub/control"
	"l2hub/filter"
	"l2hub/hub"
	"l2hub/internal/wallclock"
	"l2hub/transport"
)

// session is one run of `l2hub serve`: the bound transports, the hub, the
// policy in force and the observers. It is also the control API's Target.
type session struct {
	cfg     Config
	log     *slog.Logger
	hub     *hub.Hub
	began   time.Time // when policy time begins
	runners []transport.Runner
	peers   []peer
	capture *capture.Sink
	checker *checker.Checker
	// decisions logs every rule's decision; nil unless debug logging is on.
	decisions *decisionLog
	out       io.Writer // milestone lines

	outMu  sync.Mutex     // serialises marker lines on out
	mu     sync.Mutex     // guards policy (written on the hub loop, read by /metrics)
	policy *filter.Policy // nil: forward everything unchanged

	stats     []portStats // for the summary after the hub stopped
	closeOnce sync.Once

	// Set by start, used by stop.
	cancel   context.CancelFunc
	hubDone  chan error
	running  sync.WaitGroup // transports and virtual peers
	stopOnce sync.Once
	stopErr  error
}

var _ control.Target = (*session)(nil)

// newSession compiles the policy, binds every port, opens the capture and
// builds the hub. Nothing runs yet; on error everything opened is closed
// again. The capture is opened last, after every step that can refuse the
// start: creating it truncates a file of that name, which a refused start
// must leave as it was.
func newSession(cfg Config, stdout io.Writer, log *slog.Logger) (_ *session, err error) {
	s := &session{cfg: cfg, log: log, out: stdout}
	defer func() {
		if err != nil {
			s.closeRunners()
			for _, p := range s.peers {
				p.node.Host.Close()
			}
			s.closeObservers()
		}
	}()
	names := cfg.portNames()
	if cfg.Policy != "" || (cfg.faults != nil && cfg.faults.Given()) {
		var faults filter.Flags
		if cfg.faults != nil {
			faults = *cfg.faults
		}
		if s.policy, err = faults.Load(cfg.Policy, names); err != nil {
			return nil, err
		}
	}
	if cfg.Check != "" {
		profile, err := checker.ParseProfile(cfg.Check)
		if err != nil {
			return nil, err
		}
		if s.checker, err = checker.New(checker.Options{Profile: profile, OnMilestone: func(l string) { s.line("l2hub: " + l) }, Logger: log}); err != nil {
			return nil, err
		}
	}
	for _, spec := range cfg.Ports {
		r, err := spec.Open(transport.Options{MaxFrame: cfg.MaxFrame, Logger: log, Optional: cfg.Optional})
		if err != nil {
			if w, ok := cfg.where[spec.Name]; ok {
				return nil, fmt.Errorf("%s: %w", w, err)
			}
			return nil, err
		}
		s.runners = append(s.runners, r)
	}
	for _, name := range cfg.Peers {
		role, _ := conformance.ParseRole(name)
		n, err := vnode.New(vnode.Config{
			Role:        role,
			Probe:       cfg.Probe,
			Clock:       conformance.ClockFunc(time.After),
			OnMilestone: s.milestone,
			Logger:      log.With("peer", name),
		})
		if err != nil {
			return nil, err
		}
		s.peers = append(s.peers, peer{role: name, node: n})
	}
	// Policy time starts now; the capture records it so replay can line up
	// time windows with this run.
	s.began = wallclock.Clock{}.Now()
	var observers []hub.Observer
	if cfg.Capture.File != "" {
		if s.capture, err = s.openCapture(); err != nil {
			return nil, err
		}
		observers = append(observers, s.capture)
	}
	if s.checker != nil {
		observers = append(observers, s.checker)
	}
	if s.decisions = newDecisionLog(log); s.decisions != nil {
		observers = append(observers, s.decisions)
	}
	hcfg := hub.Config{
		Mode:      cfg.Mode,
		QueueLen:  cfg.Queue,
		Overflow:  cfg.Overflow,
		Stall:     cfg.Stall,
		MaxFrame:  cfg.MaxFrame,
		AgingTime: cfg.Aging,
		Clock:     wallclock.Clock{},
		Start:     s.began,
		Observers: observers,
		Logger:    log,
	}
	if s.policy != nil {
		hcfg.Policy = s.policy
	}
	if s.hub, err = hub.New(hcfg); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *session) openCapture() (*capture.Sink, error) {
	c := s.cfg.Capture
	format := capture.FormatForPath(c.File)
	if c.Format != "" {
		var err error
		if format, err = capture.ParseFormat(c.Format); err != nil {
			return nil, fmt.Errorf("capture format: %w", err)
		}
	}
	points := capture.PointsBoth
	if c.Points != "" {
		var err error
		if points, err = capture.ParsePoints(c.Points); err != nil {
			return nil, fmt.Errorf("capture points: %w", err)
		}
	}
	return capture.Open(capture.Config{
		Path:          c.File,
		Format:        format,
		Points:        points,
		Snaplen:       c.Snaplen,
		PerPort:       c.PerPort,
		RotateBytes:   c.RotateSize,
		RotatePackets: int64(c.RotateCount),
		Meta:          s.captureMeta(s.policy),
		Logger:        s.log,
	})
}

// captureMeta is what a capture's section header says about this run with
// policy p (nil: none) in force.
func (s *session) captureMeta(p *filter.Policy) capture.Meta {
	aging := s.cfg.Aging
	if aging == 0 {
		aging = hub.DefaultAgingTime
	}
	meta := capture.Meta{
		Version:    Version,
		ConfigHash: s.configHash(),
		Start:      s.began,
		Extra:      map[string]string{"mode": s.cfg.Mode.String(), "aging": aging.String()},
	}
	if p != nil {
		meta.Seed = p.Seed()
		meta.PolicyHash = policyHash(p)
	}
	return meta
}

func policyHash(p *filter.Policy) string { return hashText(p.Describe(0).Text) }

// configHash identifies the forwarding setup a capture came from.
func (s *session) configHash() string {
	b, _ := json.Marshal(struct {
		Mode     string
		Queue    int
		Overflow string
		Stall    string
		MaxFrame int
		Aging    string
		Ports    []transport.Spec
	}{s.cfg.Mode.String(), s.cfg.Queue, s.cfg.Overflow.String(), s.cfg.Stall.String(), s.cfg.MaxFrame, s.cfg.Aging.String(), s.cfg.Ports})
	return hashText(string(b))
}

func hashText(t string) string {
	sum := sha256.Sum256([]byte(t))
	return hex.EncodeToString(sum[:8])
}

// addPorts registers every bound port with the running hub.
func (s *session) addPorts() error {
	for _, r := range s.runners {
		spec := r.Spec()
		if err := s.hub.AddPortWith(spec.Name, describeSpec(spec), spec.PortOptions()); err != nil {
			return err
		}
		s.stats = append(s.stats, portStats{spec.Name, s.hub.Stats(context.Background(), spec.Name)})
	}
	for _, p := range s.peers {
		if err := s.hub.AddPort(p.role, "virtual "+p.role+" (netstack)"); err != nil {
			return err
		}
		if _, err := s.hub.Attach(p.role, p.node.Host); err != nil {
			return err
		}
		s.stats = append(s.stats, portStats{p.role, s.hub.Stats(context.Background(), p.role)})
	}
	return nil
}

// start runs the hub loop, adds every port, and starts the transports and
// virtual peers. fatal is called with the first transport error that should
// end the session (serve cancels its context on it). After start, stop must
// be called, whatever start returned.
func (s *session) start(ctx context.Context, fatal func(error)) error {
	ctx, s.cancel = context.WithCancel(ctx)
	s.hubDone = make(chan error, 1)
	go func() { s.hubDone <- s.hub.Run(ctx) }()
	if err := s.addPorts(); err != nil {
		return err
	}
	for _, p := range s.peers {
		s.running.Add(1)
		go func() {
			defer s.running.Done()
			if err := p.node.Run(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("virtual peer stopped", "peer", p.role, "err", err)
			}
		}()
	}
	for _, r := range s.runners {
		s.running.Add(1)
		go func() {
			defer s.running.Done()
			if err := r.Run(ctx, s.hub); err != nil && ctx.Err() == nil {
				fatal(fmt.Errorf("port %q: %w", r.Spec().Name, err))
			}
		}()
	}
	return nil
}

// stop shuts the session down in order: transports and peers, the hub loop,
// then the observers (captures are flushed and closed). It returns the hub's
// or a capture's error; later calls return the same.
func (s *session) stop() error {
	s.stopOnce.Do(func() {
		if s.cancel != nil {
			s.cancel()
		}
		s.closeRunners()
		s.running.Wait()
		if s.hubDone != nil {
			s.stopErr = <-s.hubDone
		}
		if err := s.closeObservers(); err != nil && s.stopErr == nil {
			s.stopErr = err
		}
	})
	return s.stopErr
}

func (s *session) closeRunners() {
	for _, r := range s.runners {
		r.Close()
	}
}

type portStats struct {
	name  string
	stats *hub.PortStats
}

// peer is a virtual DSoftBus node on a port named after its role.
type peer struct {
	role string
	node *vnode.Node
}

// milestone prints a virtual node's progress as a marker line.
func (s *session) milestone(m conformance.Milestone) { s.line("l2hub: " + m.String()) }

// line prints one marker line; virtual nodes and the checker share stdout.
func (s *session) line(l string) {
	s.outMu.Lock()
	defer s.outMu.Unlock()
	fmt.Fprintln(s.out, l)
}

// checkReport closes the live checker and prints its report; a failed
// check is exit status 2, as for l2hub check.
func (s *session) checkReport(w io.Writer) error {
	if s.checker == nil {
		return nil
	}
	s.checker.Close()
	r := s.checker.Report()
	fmt.Fprintln(w)
	r.WriteText(w)
	if !r.OK() {
		return &exitError{code: 2, msg: "conformance checks failed"}
	}
	return nil
}

// closeObservers stops the live checker and flushes and closes the capture;
// call once the hub stopped. The checker's report stays readable.
func (s *session) closeObservers() error {
	var err error
	s.closeOnce.Do(func() {
		if s.checker != nil {
			s.checker.Close()
		}
		if s.capture != nil {
			err = s.capture.Close()
		}
	})
	return err
}

func (s *session) currentPolicy() *filter.Policy {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.policy
}

// Ports implements control.Target.
func (s *session) Ports(ctx context.Context) ([]hub.PortStatus, error) { return s.hub.Ports(ctx) }

// Policy implements control.Target: the policy in force, as of now.
func (s *session) Policy(ctx context.Context) (any, error) {
	var desc any
	err := s.hub.Do(ctx, func(c *hub.Core) {
		if p := s.currentPolicy(); p != nil {
			desc = p.Describe(c.Elapsed())
		}
	})
	return desc, err
}

// Rules implements control.Target.
func (s *session) Rules(context.Context) (any, error) {
	if p := s.currentPolicy(); p != nil {
		return p.Stats(), nil
	}
	return filter.Stats{}, nil
}

func (s *session) ruleCounters() []control.RuleCounter {
	p := s.currentPolicy()
	if p == nil {
		return nil
	}
	var out []control.RuleCounter
	for _, r := range p.Stats().Rules {
		for _, c := range []struct {
			name string
			v    uint64
		}{
			{"matched", r.Matched}, {"dropped", r.Dropped}, {"delayed", r.Delayed}, {"duplicated", r.Duplicated},
			{"corrupted", r.Corrupted}, {"queued", r.Queued}, {"overflowed", r.Overflowed},
		} {
			out = append(out, control.RuleCounter{Rule: r.Rule, Counter: c.name, Value: c.v})
		}
	}
	return out
}

// ReplacePolicy implements control.Target: compile first, swap on the loop.
// The capture then starts a new numbered file whose header names the new
// seed and policy (with the policy's name and the run time it took over at),
// so that each file still says how to reproduce it.
func (s *session) ReplacePolicy(ctx context.Context, name string, src []byte) error {
	p, err := filter.Parse(src, name, s.cfg.portNames())
	if err != nil {
		return &control.UserError{Err: err}
	}
	var meta capture.Meta
	var nfiles int
	if s.capture != nil {
		meta = s.captureMeta(p)
		meta.Extra["policy-name"] = name
		nfiles = len(s.capture.Files())
	}
	var since time.Duration
	var newFiles <-chan struct{}
	var cerr error
	err = s.hub.Do(ctx, func(c *hub.Core) {
		c.SetPolicy(p)
		s.mu.Lock()
		s.policy = p
		s.mu.Unlock()
		since = c.Elapsed()
		if s.capture != nil {
			// Queued between the last frame under the old policy and the
			// first under the new one.
			meta.Extra["policy-since"] = since.String()
			newFiles, cerr = s.capture.SetMeta(meta)
		}
	})
	if err != nil {
		return err
	}
	attrs := []any{"name", name, "seed", p.Seed(), "policy_hash", policyHash(p), "at", since}
	if cerr != nil {
		s.log.Warn("capture: could not start a file for the new policy; the capture's header names the old one", "err", cerr)
	}
	if newFiles != nil {
		select {
		case <-newFiles:
			attrs = append(attrs, "capture", strings.Join(s.capture.Files()[nfiles:], ","))
		case <-ctx.Done():
		}
	}
	s.log.Info("policy replaced", attrs...)
	return nil
}

// onPolicy runs fn on the loop with the policy in force, creating an empty
// one (no rules, seed 0) when the hub runs without, so that partitions and
// link changes work on any hub.
func (s *session) onPolicy(ctx context.Context, fn func(p *filter.Policy, now time.Duration) error) error {
	var ferr error
	err := s.hub.Do(ctx, func(c *hub.Core) {
		p := s.currentPolicy()
		if p == nil {
			var err error
			if p, err = filter.Parse([]byte("rules: []\n"), "control", s.cfg.portNames()); err != nil {
				ferr = err
				return
			}
			c.SetPolicy(p)
			s.mu.Lock()
			s.policy = p
			s.mu.Unlock()
		}
		ferr = fn(p, c.Elapsed())
	})
	if err != nil {
		return err
	}
	if ferr != nil {
		return &control.UserError{Err: ferr}
	}
	return nil
}

// StartPartition implements control.Target: with groups, an ad-hoc
// partition; without, the policy file's partition of that name.
func (s *session) StartPartition(ctx context.Context, name string, groups [][]string) error {
	return s.onPolicy(ctx, func(p *filter.Policy, now time.Duration) error {
		if len(groups) == 0 {
			return p.StartPartition(now, name)
		}
		_, err := p.AddPartition(now, name, groups)
		return err
	})
}

// HealPartition implements control.Target.
func (s *session) HealPartition(ctx context.Context, name string) error {
	return s.onPolicy(ctx, func(p *filter.Policy, now time.Duration) error { return p.HealPartition(now, name) })
}

// SetLink implements control.Target.
func (s *session) SetLink(ctx context.Context, port string, up bool) error {
	return s.onPolicy(ctx, func(p *filter.Policy, now time.Duration) error { return p.SetLink(now, port, up) })
}

// printSummary writes per-port and per-rule counters at shutdown.
func (s *session) printSummary(w io.Writer) {
	if len(s.stats) == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "\nPORT\tRX FRAMES\tTX FRAMES\tPAUSES\tDROPS")
	for _, st := range s.stats {
		snap := st.stats.Snapshot()
		var drops []string
		for _, r := range hub.DropReasons() {
			if n := snap.Drops[r.String()]; n > 0 {
				drops = append(drops, fmt.Sprintf("%s=%d", r, n))
			}
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\n", st.name, snap.RxFrames, snap.TxFrames, pausesText(snap), strings.Join(drops, " "))
	}
	if p := s.currentPolicy(); p != nil {
		fmt.Fprintln(tw, "\nRULE\tMATCHED\tDROPPED\tDELAYED\tDUPLICATED\tCORRUPTED\tQUEUED\tOVERFLOWED")
		for _, r := range p.Stats().Rules {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\n", r.Rule, r.Matched, r.Dropped, r.Delayed, r.Duplicated, r.Corrupted, r.Queued, r.Overflowed)
		}
	}
	tw.Flush()
	if s.capture != nil {
		st := s.capture.Stats()
		fmt.Fprintf(w, "\ncapture: %d frames in %s", st.Written, strings.Join(s.capture.Files(), ", "))
		if st.QueueFull > 0 || st.WriteError > 0 {
			fmt.Fprintf(w, "; %d lost (writer fell behind: %d, write errors: %d) - replay of this capture will not reproduce the run exactly",
				st.QueueFull+st.WriteError, st.QueueFull, st.WriteError)
		}
		fmt.Fprintln(w)
	}
}
