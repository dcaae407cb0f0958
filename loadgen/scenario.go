package loadgen

import (
	"fmt"
	"strings"
	"time"
)

// Pattern is who sends to whom.
type Pattern uint8

const (
	// Unicast pairs the VMs: 0 with 1, 2 with 3, and so on; each sends to
	// its partner's MAC, both directions at once.
	Unicast Pattern = iota
	// Broadcast has every VM send to ff:ff:ff:ff:ff:ff; every other VM is
	// meant to receive every frame.
	Broadcast
)

func (p Pattern) String() string {
	if p == Broadcast {
		return "broadcast"
	}
	return "unicast"
}

// ParsePattern parses "unicast" or "broadcast".
func ParsePattern(s string) (Pattern, error) {
	switch s {
	case "unicast":
		return Unicast, nil
	case "broadcast":
		return Broadcast, nil
	}
	return 0, fmt.Errorf("pattern %q: want unicast or broadcast", s)
}

// Scenario is one measurement: which VMs, what traffic, for how long.
type Scenario struct {
	// Target names what carries the frames ("direct", "mcast", "l2hub",
	// "l2hub+policy", ...); Run takes it from the Target it is given.
	Target string `json:"target"`
	// Transport is the QEMU back end the VMs use: tcp, unix, udp or mcast.
	Transport string `json:"transport"`
	// Size is every frame's length in bytes as written to the socket
	// (Ethernet header and payload, no FCS, no length prefix).
	Size    int     `json:"size"`
	Ports   int     `json:"ports"`
	Pattern Pattern `json:"-"`
	// Duration is how long the senders send.
	Duration time.Duration `json:"duration_ns"`
	// Rate paces each sender to this many frames per second against
	// absolute deadlines; 0 sends as fast as the target takes them.
	Rate float64 `json:"rate_per_sender,omitempty"`
	// Window, when positive, bounds each sender's frames in flight: it
	// waits while Window frames have neither arrived nor been overtaken at
	// the VMs they are meant for, as a guest's flow control would. 0 sends
	// open loop: as fast as the transport takes the frames.
	Window int `json:"window,omitempty"`
	// Stall makes the receivers stop reading once the warm-up is over, so
	// every queue on the way fills (the memory-under-overload scenario).
	Stall bool `json:"stall,omitempty"`
	// Bystanders are the last VMs of Ports: they send nothing, and the
	// frames they receive are not counted. With StallBystanders they stop
	// reading once the warm-up is over (a VM paused in QEMU's monitor, a
	// client that never reads).
	Bystanders      int  `json:"bystanders,omitempty"`
	StallBystanders bool `json:"stall_bystanders,omitempty"`
	// From, when positive, also measures the rate of the frames sent from
	// this long after the start on (Result.RateFrom): what the other VMs
	// get once a stalled bystander no longer holds them back.
	From time.Duration `json:"from_ns,omitempty"`
	// Kind labels the scenario's purpose in reports: "throughput" (each VM
	// keeps at most Window frames in flight), "open" (open loop: each VM
	// writes as fast as its socket takes frames), "latency", "stall" or
	// "overload".
	Kind string `json:"kind"`
}

// Name identifies the scenario, for --run filters and reports:
// "throughput/l2hub+policy/tcp/unicast/2p/64B".
func (s Scenario) Name() string {
	return strings.Join([]string{s.Kind, s.Target, s.Transport, s.Pattern.String(),
		fmt.Sprintf("%dp", s.Ports), fmt.Sprintf("%dB", s.Size)}, "/")
}

func (s Scenario) withTarget(t Target) Scenario {
	s.Target = t.Name()
	return s
}

// Validate checks what Run needs before it connects anything.
func (s Scenario) Validate() error {
	switch {
	case s.Size < HeaderLen:
		return fmt.Errorf("%w: %d-byte frames cannot carry the %d-byte bench header", ErrScenario, s.Size, HeaderLen)
	case s.Ports < 2 || s.Ports > MaxPorts:
		return fmt.Errorf("%w: %d ports outside 2..%d", ErrScenario, s.Ports, MaxPorts)
	case s.Pattern == Unicast && (s.Ports-s.Bystanders)%2 != 0:
		return fmt.Errorf("%w: unicast pairs need an even number of ports, not %d", ErrScenario, s.Ports-s.Bystanders)
	case s.Bystanders < 0 || s.Ports-s.Bystanders < 2:
		return fmt.Errorf("%w: %d bystanders leave fewer than 2 of %d ports to send", ErrScenario, s.Bystanders, s.Ports)
	case s.From < 0 || s.From >= s.Duration && s.From > 0:
		return fmt.Errorf("%w: from %v must be within the duration %v", ErrScenario, s.From, s.Duration)
	case s.Duration <= 0:
		return fmt.Errorf("%w: duration %v must be positive", ErrScenario, s.Duration)
	case s.Rate < 0:
		return fmt.Errorf("%w: rate %v must not be negative", ErrScenario, s.Rate)
	case s.Window < 0:
		return fmt.Errorf("%w: window %d must not be negative", ErrScenario, s.Window)
	}
	return nil
}

// partner is the VM that VM i sends unicast frames to.
func partner(i int) int { return i ^ 1 }
