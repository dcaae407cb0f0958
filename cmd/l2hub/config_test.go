package main

import (
	"strings"
	"testing"
	"time"

	"l2hub/hub"
	"l2hub/tap"
)

func TestParseConfig(t *testing.T) {
	good := `
mode: hub
queue: 64
max_frame: 9216
aging: 30s
control: /tmp/x.sock
policy: faults.yaml
capture: {file: run.pcapng, points: ingress, per_port: true}
ports:
  - {name: a, transport: tcp, address: "127.0.0.1:7001"}
  - name: m
    transport: mcast
    address: "230.0.0.1:37021"
    local: 127.0.0.1
`
	cfg, err := parseConfig("lab.yaml", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Mode != hub.ModeHub || cfg.Queue != 64 || cfg.MaxFrame != 9216 || cfg.Aging != 30*time.Second ||
		len(cfg.Ports) != 2 || cfg.Ports[1].Transport != tap.Mcast || !cfg.Capture.PerPort {
		t.Errorf("parseConfig(good) = %+v", cfg)
	}

	tests := []struct {
		name, text, want string
	}{
		{"unknown-key", "ports: []\nbogus: 1\n", "lab.yaml:2: field bogus not found"},
		{"unknown-port-key", "ports:\n  - {name: a, transport: tcp, address: ':1', colour: red}\n", "lab.yaml:2: field colour not found"},
		{"wrong-type", "queue: lots\nports: []\n", "lab.yaml:1: cannot unmarshal"},
		{"bad-mode", "mode: router\nports: []\n", "unknown mode"},
		{"no-ports", "mode: hub\n", "ports: no ports"},
		{"duplicate-port", "ports:\n  - {name: a, transport: tcp, address: ':1'}\n  - {name: a, transport: tcp, address: ':2'}\n",
			`lab.yaml:3:12: ports[1].name: port "a" is already defined as ports[0]`},
		{"bad-address", "ports:\n  - name: a\n    transport: tcp\n    address: 'nope'\n",
			`lab.yaml:4:14: ports[0].address: "nope": want host:port`},
		{"bad-transport", "ports:\n  - {name: a, transport: carrier-pigeon, address: ':1'}\n", `ports[0].transport: "carrier-pigeon"`},
		{"udp-needs-peer", "ports:\n  - {name: a, transport: udp, address: '127.0.0.1:1'}\n", "needs peer="},
		{"queue-range", "queue: -1\nports:\n  - {name: a, transport: tcp, address: ':1'}\n", "lab.yaml:1:8: queue: -1 is outside"},
		{"max-frame-range", "max_frame: 3\nports:\n  - {name: a, transport: tcp, address: ':1'}\n", "max_frame: 3 is outside"},
		{"capture-points", "capture: {points: sideways}\nports:\n  - {name: a, transport: tcp, address: ':1'}\n", `capture.points: "sideways"`},
		{"empty", "", "empty config"},
		{"not-yaml", "ports: [\n", "lab.yaml:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseConfig("lab.yaml", []byte(tt.text))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("parseConfig(%q) error = %v, want one containing %q", tt.text, err, tt.want)
			}
		})
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte("ports:\n  - {name: a, transport: tcp, address: '127.0.0.1:7001'}\n"))
	f.Add([]byte("mode: hub\nqueue: 9\nports: [{name: m, transport: mcast, address: '230.0.0.1:1'}]\n"))
	f.Add([]byte("capture: {file: x}\nports: [{name: u, transport: udp, address: ':1', peer: '127.0.0.1:2'}]\n"))
	f.Add([]byte("&a [*a]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := parseConfig("fuzz.yaml", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.yaml") {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		// Whatever parses must be valid as a whole.
		if len(cfg.Ports) == 0 {
			t.Fatal("a config without ports was accepted")
		}
		for _, p := range cfg.Ports {
			if err := p.Validate(); err != nil {
				t.Fatalf("accepted an invalid port: %v", err)
			}
		}
	})
}
