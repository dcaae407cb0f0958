package hub

import "fmt"

// Mode is the forwarding mode of a hub.
type Mode uint8

const (
	// ModeHub floods every frame to every port but its ingress.
	ModeHub Mode = iota
	// ModeSwitch learns source MACs per port and forwards known unicast to
	// one port; unknown unicast, broadcast and multicast flood.
	ModeSwitch
)

func (m Mode) String() string {
	switch m {
	case ModeHub:
		return "hub"
	case ModeSwitch:
		return "switch"
	}
	return fmt.Sprintf("mode(%d)", uint8(m))
}

// ParseMode parses "hub" or "switch".
func ParseMode(s string) (Mode, error) {
	switch s {
	case "hub":
		return ModeHub, nil
	case "switch":
		return ModeSwitch, nil
	}
	return 0, fmt.Errorf("unknown mode %q (want hub or switch)", s)
}

// MarshalText implements encoding.TextMarshaler.
func (m Mode) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (m *Mode) UnmarshalText(b []byte) error {
	v, err := ParseMode(string(b))
	if err == nil {
		*m = v
	}
	return err
}
