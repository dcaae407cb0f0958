package loadgen

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"time"

	"l2hub/hub"
)

// Options are l2hub bench's settings by name, as its flags give them;
// Suite checks them and builds the suite they describe.
type Options struct {
	Sizes, Ports []int
	// LatencySizes get a latency scenario each, when Latency is set.
	LatencySizes []int
	Latency      bool
	Load         float64 // latency scenarios' rate, a fraction of the direct pair's
	Patterns     []string
	Transports   []string // tcp, unix, udp
	Targets      []string // TargetHub, TargetHubPolicy, TargetHubCapture, TargetMcast
	Duration     time.Duration
	Window       int
	Count        int
	OpenLoop     bool
	Stall        bool // run the stalled-port scenario
	Overload     bool // run the overload scenario
	Run          string
	Mode         string // l2hub's forwarding mode
	Queue        int    // l2hub's egress queue
	// HubProcess, when set, is an l2hub binary: the hub targets run as
	// `l2hub serve` in a process of their own (Hub.Process).
	HubProcess string
	Logger     *slog.Logger
	Progress   io.Writer
}

// Suite checks o and returns the suite it describes. Errors name the flag
// at fault.
func (o Options) Suite() (*Suite, error) {
	mode, err := hub.ParseMode(o.Mode)
	if err != nil {
		return nil, fmt.Errorf("--mode: %w", err)
	}
	if o.Queue < 0 || o.Window < 0 || o.Count < 1 || o.Duration <= 0 {
		return nil, errors.New("--queue and --window must not be negative, --count and --duration must be positive")
	}
	if o.Load <= 0 || o.Load > 1 {
		return nil, fmt.Errorf("--load %v: want a fraction in (0, 1]", o.Load)
	}
	s := &Suite{
		Sizes: o.Sizes, Ports: o.Ports, Transports: o.Transports, Duration: o.Duration, Window: o.Window,
		Count: o.Count, Load: o.Load, OpenLoop: o.OpenLoop, Progress: o.Progress, HubProcess: o.HubProcess != "",
	}
	if o.Latency {
		s.LatencySizes = o.LatencySizes
	}
	for _, p := range o.Patterns {
		pat, err := ParsePattern(p)
		if err != nil {
			return nil, fmt.Errorf("--patterns: %w", err)
		}
		s.Patterns = append(s.Patterns, pat)
	}
	for _, tr := range o.Transports {
		switch tr {
		case "tcp", "unix", "udp":
		default:
			return nil, fmt.Errorf("--transport %q: want tcp, unix or udp", tr)
		}
	}
	if o.Run != "" {
		if s.Filter, err = regexp.Compile(o.Run); err != nil {
			return nil, fmt.Errorf("--run: %w", err)
		}
	}
	if err := s.UseTargets(o.Targets, Hub{Mode: mode, Queue: o.Queue, Logger: o.Logger, Process: o.HubProcess}, o.Overload, o.Stall); err != nil {
		return nil, fmt.Errorf("--targets: %w", err)
	}
	return s, nil
}
