package serve

import (
	"testing"
	"time"

	"l2hub/hub"
	"l2hub/transport"
)

// TestConfigHashCoversEveryForwardingSetting: the config hash in a
// capture's header changes with each setting that changes forwarding, so
// two runs that forwarded differently never share one.
func TestConfigHashCoversEveryForwardingSetting(t *testing.T) {
	base := Config{Mode: hub.ModeHub, Queue: 64, Overflow: hub.OverflowPause, Stall: time.Second, MaxFrame: 9216, Aging: time.Minute,
		Ports: []transport.Spec{{Name: "a", Transport: transport.TCP, Address: "127.0.0.1:7001"}}}
	hash := func(c Config) string { return (&Session{cfg: c}).configHash() }
	want := hash(base)
	if got := hash(base); got != want {
		t.Fatalf("got configHash %s, then %s, for one config", want, got)
	}
	for _, tc := range []struct {
		name string
		edit func(*Config)
	}{
		{"mode", func(c *Config) { c.Mode = hub.ModeSwitch }},
		{"queue", func(c *Config) { c.Queue = 65 }},
		{"overflow", func(c *Config) { c.Overflow = hub.OverflowDrop }},
		{"stall", func(c *Config) { c.Stall = 2 * time.Second }},
		{"max-frame", func(c *Config) { c.MaxFrame = 1514 }},
		{"aging", func(c *Config) { c.Aging = 2 * time.Minute }},
		{"port-address", func(c *Config) {
			c.Ports = []transport.Spec{{Name: "a", Transport: transport.TCP, Address: "127.0.0.1:7002"}}
		}},
		{"port-option", func(c *Config) {
			c.Ports = []transport.Spec{{Name: "a", Transport: transport.TCP, Address: "127.0.0.1:7001", Options: transport.SpecOptions{"queue": "8"}}}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := base
			tc.edit(&c)
			if got := hash(c); got == want {
				t.Errorf("got configHash %s with the %s changed, want it to differ from %s", got, tc.name, want)
			}
		})
	}
}

// TestCaptureMetaSaysTheAgingInForce: the capture header's aging is the
// time the hub ages MACs out with, the default when the config sets none,
// not the config's 0.
func TestCaptureMetaSaysTheAgingInForce(t *testing.T) {
	for _, tc := range []struct {
		aging time.Duration
		want  string
	}{
		{0, hub.DefaultAgingTime.String()},
		{30 * time.Second, "30s"},
	} {
		s := &Session{cfg: Config{Mode: hub.ModeSwitch, Aging: tc.aging}}
		if got := s.captureMeta(nil).Extra["aging"]; got != tc.want {
			t.Errorf("got captureMeta().Extra[aging] = %q with aging %v, want %q", got, tc.aging, tc.want)
		}
	}
}
