package serve

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"l2hub/hub"
	"l2hub/transport"
)

func TestParseConfig(t *testing.T) {
	good := `
mode: hub
queue: 64
overflow: drop
stall: 5s
max_frame: 9216
aging: 30s
control: /tmp/x.sock
metrics: tcp:127.0.0.1:9465
policy: faults.yaml
capture: {file: run.pcapng, points: ingress, per_port: true}
ports:
  - {name: a, transport: tcp, address: "127.0.0.1:7001"}
  - name: m
    transport: mcast
    address: "230.0.0.1:37021"
    local: 127.0.0.1
`
	cfg, err := ParseConfig("lab.yaml", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Mode != hub.ModeHub || cfg.Queue != 64 || cfg.Overflow != hub.OverflowDrop || cfg.Stall != 5*time.Second || cfg.MaxFrame != 9216 || cfg.Aging != 30*time.Second ||
		len(cfg.Ports) != 2 || cfg.Ports[1].Transport != transport.Mcast || !cfg.Capture.PerPort || cfg.Metrics != "tcp:127.0.0.1:9465" {
		t.Errorf("ParseConfig(good) = %+v", cfg)
	}

	port := "  - {name: a, transport: tcp, address: ':1'}\n"
	tests := []struct {
		name, text, want string
	}{
		// The shape of the file, checked against Config before decoding.
		{"unknown-key", "ports: []\nbogus: 1\n",
			`lab.yaml:2:1: bogus: unknown field "bogus" (known: mode, queue, overflow, stall, max_frame, aging, control, control_token, control_token_file, metrics, metrics_token_file, policy, capture, check, peers, probe, optional, ports)`},
		{"unknown-port-key", "ports:\n" + port + "  - {name: b, transport: tcp, address: ':2', colour: red}\n",
			`lab.yaml:3:46: ports[1].colour: unknown field "colour" (known: name, transport, address, peer, local, options)`},
		{"unknown-capture-key", "capture:\n  file: x.pcapng\n  snap: 3\nports:\n" + port,
			`lab.yaml:3:3: capture.snap: unknown field "snap", did you mean "snaplen"? (known: file, format, points, per_port, snaplen, rotate_size, rotate_count, close_timeout)`},
		{"key-given-twice", "queue: 1\nports:\n" + port + "queue: 2\n", "lab.yaml:4:1: queue: given twice (first at line 1, column 1)"},
		{"port-key-given-twice", "ports:\n  - {name: a, name: b, transport: tcp, address: ':1'}\n",
			"lab.yaml:2:15: ports[0].name: given twice (first at line 2, column 6)"},
		{"key-not-a-name", "? [a]\n: 1\n", "lab.yaml:1:3: keys must be plain names"},
		{"not-a-mapping", "hello\n", `lab.yaml:1:1: want a mapping, got "hello"`},
		{"bad-metrics", "metrics: 127.0.0.1:9465\nports:\n" + port, `lab.yaml:1:10: metrics: "127.0.0.1:9465": want tcp:HOST:PORT, e.g. tcp:127.0.0.1:9465`},
		{"bad-metrics-port", "ports:\n" + port + "metrics: tcp:localhost\n", `lab.yaml:3:10: metrics: "tcp:localhost": want tcp:HOST:PORT`},
		{"control-host-port", "control: 127.0.0.1:7291\nports:\n" + port, `lab.yaml:1:10: control: "127.0.0.1:7291": want tcp:127.0.0.1:7291 for a TCP address, or ./127.0.0.1:7291 for a socket file of that name`},
		{"control-none", "control: none\nports:\n" + port, `lab.yaml:1:10: control: "none": did you mean off (no control API)?`},
		{"control-bare-name", "control: ctl\nports:\n" + port, `lab.yaml:1:10: control: "ctl": want a socket path with a '/' or a .sock suffix (./ctl, ctl.sock), unix:ctl, tcp:HOST:PORT or off`},
		{"bad-mode", "mode: router\nports: []\n", `lab.yaml:1:7: mode: unknown mode "router" (want hub or switch)`},
		{"bad-overflow", "overflow: block\nports: []\n", `lab.yaml:1:11: overflow: unknown overflow "block" (want pause or drop)`},
		{"bad-stall", "stall: 2\nports: []\n", `lab.yaml:1:8: stall: want a duration such as 300s or 1m30s, got "2"`},
		{"negative-stall", "stall: -1s\nports:\n" + port, `lab.yaml:1:8: stall: must not be negative`},
		{"bad-port-overflow", "ports:\n  - {name: a, transport: tcp, address: ':1', options: {overflow: block}}\n", `ports[0].options.overflow: "block": want pause`},
		{"mode-not-a-value", "mode: [hub]\nports: []\n", "lab.yaml:1:7: mode: want a value, got a list"},
		{"wrong-type-int", "queue: lots\nports: []\n", `lab.yaml:1:8: queue: want a whole number, got "lots"`},
		// The decoder would truncate these to 2, 1500 and 100.
		{"float-queue", "queue: 2.5\nports: []\n", `lab.yaml:1:8: queue: want a whole number, got "2.5"`},
		{"float-max-frame", "max_frame: 1500.9\nports: []\n", `lab.yaml:1:12: max_frame: want a whole number, got "1500.9"`},
		{"float-snaplen", "capture: {file: x.pcapng, snaplen: 100.5}\nports: []\n", `lab.yaml:1:36: capture.snaplen: want a whole number, got "100.5"`},
		{"int-overflow", "max_frame: 99999999999999999999\nports: []\n", `lab.yaml:1:12: max_frame: want a whole number, got "99999999999999999999"`},
		{"wrong-type-bool", "optional: maybe\nports: []\n", `lab.yaml:1:11: optional: want true or false, got "maybe"`},
		{"wrong-type-duration", "aging: 30\nports: []\n", `lab.yaml:1:8: aging: want a duration such as 300s or 1m30s, got "30"`},
		{"string-got-list", "ports:\n  - name: [a]\n", "lab.yaml:2:11: ports[0].name: want a string, got a list"},
		{"list-got-value", "peers: node-a\nports: []\n", `lab.yaml:1:8: peers: want a list, got "node-a"`},
		{"list-got-mapping", "ports: {a: 1}\n", "lab.yaml:1:8: ports: want a list, got a mapping"},
		{"section-got-value", "capture: yes\nports: []\n", `lab.yaml:1:10: capture: want a mapping, got "yes"`},
		{"options-got-value", "ports:\n  - {name: a, transport: tap, address: t0, options: ip}\n",
			`lab.yaml:2:53: ports[0].options: want a mapping, got "ip"`},
		{"option-value-got-list", "ports:\n  - {name: a, transport: tap, address: t0, options: {ip: [1]}}\n",
			"lab.yaml:2:58: ports[0].options.ip: want a string, got a list"},
		{"option-given-twice", "ports:\n  - {name: a, transport: tap, address: t0, options: {ip: x, ip: y}}\n",
			"lab.yaml:2:61: ports[0].options.ip: given twice (first at line 2, column 54)"},
		{"alias", "ports: &x [*x]\n", "lab.yaml:1:12: ports[0]: YAML aliases are not supported in a config"},
		{"every-problem", "queue: lots\nmode: router\n", `lab.yaml:1:8: queue: want a whole number, got "lots"` + "\n" +
			`lab.yaml:2:7: mode: unknown mode "router" (want hub or switch)`},
		{"too-many", strings.Repeat("x: 1\n", 30), "lab.yaml:20:1: x: unknown field \"x\" (known: mode, queue, overflow, stall, max_frame, aging, control, control_token, control_token_file, metrics, metrics_token_file, policy, capture, check, peers, probe, optional, ports)\nlab.yaml: too many errors; stopping"},

		// Values, checked after decoding.
		{"no-ports", "mode: hub\n", "lab.yaml:1:1: ports: no ports: a hub needs at least one"},
		{"duplicate-port", "ports:\n  - {name: a, transport: tcp, address: ':1'}\n  - {name: a, transport: tcp, address: ':2'}\n",
			`lab.yaml:3:12: ports[1].name: port "a" is already defined as ports[0]`},
		{"bad-address", "ports:\n  - name: a\n    transport: tcp\n    address: 'nope'\n",
			`lab.yaml:4:14: ports[0].address: "nope": want host:port`},
		{"bad-transport", "ports:\n  - {name: a, transport: carrier-pigeon, address: ':1'}\n", `lab.yaml:2:26: ports[0].transport: "carrier-pigeon": want one of tcp, tcp-dial,`},
		{"udp-needs-peer", "ports:\n  - {name: a, transport: udp, address: '127.0.0.1:1'}\n", `lab.yaml:2:5: ports[0].peer: "": transport udp needs peer=`},
		{"queue-range", "queue: -1\nports:\n" + port, "lab.yaml:1:8: queue: -1 is outside"},
		{"max-frame-range", "max_frame: 3\nports:\n" + port, "lab.yaml:1:12: max_frame: 3 is outside"},
		{"queue-above-range", "queue: 1048577\nports:\n" + port, "lab.yaml:1:8: queue: 1048577 is outside 1..1048576"},
		{"negative-aging", "aging: -1s\nports:\n" + port, "lab.yaml:1:8: aging: must not be negative (0 means the default 5m0s)"},
		// One token, not two: with both, Token would read the file and the
		// client set up with the inline token would get 401.
		{"both-tokens", "control_token: 0123456789abcdef0123456789abcdef\ncontrol_token_file: /x\nports:\n" + port,
			"control_token_file: give control_token or control_token_file, not both"},
		// A probe plays one peer: with none, or with a second beside it
		// (listed first), the config is wrong, not the probe.
		{"probe-no-peer", "probe: spoofed-key-announce\nports:\n" + port, `probe: probe "spoofed-key-announce" plays node-b: give exactly that one peer`},
		{"probe-two-peers", "peers: [node-b, node-a]\nprobe: spoofed-key-announce\nports:\n" + port,
			`probe: probe "spoofed-key-announce" plays node-b: give exactly that one peer`},
		{"capture-stdout-rotated", "capture: {file: \"-\", rotate_size: 1000000}\nports:\n" + port,
			`capture.file: "-" is standard output, one stream: not per port, not rotated`},
		{"capture-stdout-rotated-by-count", "capture: {file: \"-\", rotate_count: 10}\nports:\n" + port,
			`capture.file: "-" is standard output, one stream: not per port, not rotated`},
		{"capture-options-without-file", "capture:\n  per_port: true\nports:\n" + port,
			`lab.yaml:2:13: capture.per_port: records nothing without a capture file: give --capture FILE (capture.file in a config), or leave it out`},
		{"capture-close-timeout-without-file", "capture: {close_timeout: 1s}\nports:\n" + port, `lab.yaml:1:26: capture.close_timeout: records nothing without a capture file`},
		{"capture-points", "capture: {points: sideways}\nports:\n" + port, `lab.yaml:1:19: capture.points: "sideways"`},
		{"snaplen-above-range", "capture: {file: x.pcapng, snaplen: 300000}\nports:\n" + port,
			"lab.yaml:1:36: capture.snaplen: 300000 is outside 0..262144 (0 means the default, 262144 bytes)"},
		{"negative-snaplen", "capture: {snaplen: -1}\nports:\n" + port, `lab.yaml:1:20: capture.snaplen: -1 must not be negative`},
		{"negative-rotate-size", "capture: {rotate_size: -2}\nports:\n" + port, `lab.yaml:1:24: capture.rotate_size: -2 must not be negative`},
		{"negative-rotate-count", "capture:\n  rotate_count: -3\nports:\n" + port, `lab.yaml:2:17: capture.rotate_count: -3 must not be negative`},
		{"negative-close-timeout", "capture:\n  close_timeout: -3s\nports:\n" + port, `lab.yaml:2:18: capture.close_timeout: -3s must not be negative (0 means the default 5s)`},

		// Every problem of the second pass, in file order, each field once
		// (capture.points is wrong, not also an option without a file).
		{"every-value-problem", "capture: {points: sideways}\nports:\n  - {name: a, transport: tcp, address: nope}\n  - {name: a, transport: tcp, address: ':2'}\nqueue: -1\nprobe: nosuch\n",
			`lab.yaml:1:19: capture.points: "sideways": want ingress, egress or both` + "\n" +
				`lab.yaml:3:40: ports[0].address: "nope": want host:port, such as 127.0.0.1:7001` + "\n" +
				`lab.yaml:4:12: ports[1].name: port "a" is already defined as ports[0]` + "\n" +
				"lab.yaml:5:8: queue: -1 is outside 1..1048576 (0 means the default 256)\n" +
				`lab.yaml:6:8: probe: "nosuch": no such probe (l2hub serve --help lists them)`},

		// Not a config at all.
		{"empty", "", "lab.yaml: empty config"},
		{"not-yaml", "ports: [\n", "lab.yaml:1: did not find expected node content"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConfig("lab.yaml", []byte(tt.text))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseConfig(%q) error =\n%v\nwant one containing\n%s", tt.text, err, tt.want)
			}
		})
	}
}

// TestLoadConfigTooLarge: a file over maxConfigBytes is refused, not
// parsed cut at the limit (which can load with its tail silently gone);
// one of exactly the limit loads.
func TestLoadConfigTooLarge(t *testing.T) {
	const head = "ports:\n  - {name: a, transport: tcp, address: '127.0.0.1:7001'}\n#"
	dir := t.TempDir()
	for _, tc := range []struct {
		name    string
		size    int
		wantErr string
	}{
		{"at-limit", maxConfigBytes, ""},
		{"over-limit", maxConfigBytes + 1, "larger than 1048576 bytes; is this a config file?"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name+".yaml")
			text := head + strings.Repeat("x", tc.size-len(head)-1) + "\n"
			if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := LoadConfig(path)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("got LoadConfig(%d bytes) error %v, want none", len(text), err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("got LoadConfig(%d bytes) error %v, want one containing %q", len(text), err, tc.wantErr)
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
		cfg, err := ParseConfig("fuzz.yaml", data)
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

// TestREADMEConfigsLoad: the config files the README shows load as they
// stand (none names a file that is not there).
func TestREADMEConfigsLoad(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Skipf("skipping: %v", err)
	}
	blocks := regexp.MustCompile("(?s)```yaml\n# (\\S+\\.yaml)\n(.*?)```").FindAllSubmatch(readme, -1)
	if len(blocks) == 0 {
		t.Fatal("no config file in the README (a yaml block starting with # NAME.yaml)")
	}
	for _, b := range blocks {
		t.Run(string(b[1]), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), string(b[1]))
			if err := os.WriteFile(path, b[2], 0o644); err != nil {
				t.Fatal(err)
			}
			cfg, err := LoadConfig(path)
			if err == nil {
				err = cfg.CheckPolicyFile()
			}
			if err != nil {
				t.Errorf("the README's %s: %v", b[1], err)
			}
		})
	}
}

// ParseConfigNode reads the hub section of a larger file: errors carry the
// file's own lines and columns, and extra ports join the section's.
func TestParseConfigNode(t *testing.T) {
	const lab = `name: pair
hub:
  check: nexus-v1
  queue: -1
vms: []
`
	var root yaml.Node
	if err := yaml.Unmarshal([]byte(lab), &root); err != nil {
		t.Fatal(err)
	}
	hubNode := root.Content[0].Content[3]
	_, err := ParseConfigNode("lab.yaml", hubNode, nil)
	if err == nil || !strings.Contains(err.Error(), "\nlab.yaml:4:10: queue: -1 is outside") {
		t.Errorf("got ParseConfigNode(queue: -1, no ports) error %v, want one at lab.yaml:4:10 after the section's", err)
	}

	hubNode.Content[3].Value = "8"
	extra := []transport.Spec{{Name: "a", Transport: transport.Unix, Address: "/run/a.sock"}}
	cfg, err := ParseConfigNode("lab.yaml", hubNode, extra)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Check != "nexus-v1" || cfg.Queue != 8 || len(cfg.Ports) != 1 || cfg.Ports[0].Name != "a" || cfg.Source() != "lab.yaml" {
		t.Errorf("got %+v, want check nexus-v1, queue 8 and port a", cfg)
	}

	if err := yaml.Unmarshal([]byte("hub:\n  colour: red\n"), &root); err != nil {
		t.Fatal(err)
	}
	_, err = ParseConfigNode("lab.yaml", root.Content[0].Content[1], extra)
	if err == nil || !strings.HasPrefix(err.Error(), `lab.yaml:2:3: colour: unknown field "colour"`) {
		t.Errorf("got ParseConfigNode(colour) error %v, want an unknown field at lab.yaml:2:3", err)
	}

	// No hub section at all: the extra ports alone.
	if cfg, err = ParseConfigNode("lab.yaml", nil, extra); err != nil || len(cfg.Ports) != 1 {
		t.Errorf("got ParseConfigNode(nil) = %+v, %v, want port a", cfg, err)
	}
	if _, err = ParseConfigNode("lab.yaml", nil, nil); err == nil || !strings.Contains(err.Error(), "no ports") {
		t.Errorf("got ParseConfigNode(nil, no ports) error %v, want no ports", err)
	}
}

// TestConfigVXLANRemotes: a vxlan port's remotes may be a YAML list, as on
// the command line they are repeated; a list anywhere else is still wrong.
func TestConfigVXLANRemotes(t *testing.T) {
	cfg, err := ParseConfig("lab.yaml", []byte(`
ports:
  - {name: ov, transport: vxlan, address: "10.0.0.1:4789", options: {remote: [10.0.0.2, "10.0.0.3:4790"], vni: 42}}
`))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Ports[0].Options.Values("remote"); fmt.Sprint(got) != "[10.0.0.2 10.0.0.3:4790]" {
		t.Errorf("remotes %q, want both", got)
	}
	if got := cfg.Ports[0].PortOptions().Horizon; got != "vxlan/42" {
		t.Errorf("horizon %q, want vxlan/42", got)
	}
	_, err = ParseConfig("lab.yaml", []byte(`
ports:
  - {name: ov, transport: vxlan, address: "10.0.0.1:4789", options: {remote: 10.0.0.2, vni: [42]}}
`))
	if err == nil || !strings.Contains(err.Error(), "ports[0].options.vni: want a string, got a list") {
		t.Errorf("a list for vni: %v, want it refused at its line", err)
	}
	for _, tc := range []struct{ remotes, want string }{
		{`[10.0.0.2, 10.0.0.3, 10.0.0.2]`, "remote 10.0.0.2 is given twice"},
		{`[10.0.0.2, "10.0.0.2:4789"]`, "remotes 10.0.0.2 and 10.0.0.2:4789 are one VTEP"},
		{`["10.0.0.1:4789"]`, "remote 10.0.0.1:4789 is this port's own address"},
	} {
		_, err = ParseConfig("lab.yaml", []byte(`
ports:
  - {name: ov, transport: vxlan, address: "10.0.0.1:4789", options: {remote: `+tc.remotes+`, vni: 42}}
`))
		if err == nil || !strings.Contains(err.Error(), "ports[0].options.remote") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("remotes %s: %v, want ports[0].options.remote refused saying %q", tc.remotes, err, tc.want)
		}
	}
}

// TestConfigRefusesVTEPsSharingAGroupPort: two vxlan ports on one UDP port
// of one namespace, either with a group, cannot both bind it (a group port
// takes it on every address): refused before any socket opens, naming
// both. On separate ports, or in separate namespaces, they are fine.
func TestConfigRefusesVTEPsSharingAGroupPort(t *testing.T) {
	const head = "ports:\n  - {name: ov1, transport: vxlan, address: \"10.0.0.1:4789\", options: {group: 239.1.1.1, vni: 1}}\n"
	_, err := ParseConfig("lab.yaml", []byte(head+
		"  - {name: ov2, transport: vxlan, address: \"10.0.0.1:4789\", options: {remote: 10.0.0.3, vni: 2}}\n"))
	if err == nil || !strings.Contains(err.Error(), "ports[1].address") || !strings.Contains(err.Error(), `port "ov1"`) {
		t.Errorf("two VTEPs on UDP port 4789, one with a group: %v, want ports[1].address refused naming ov1", err)
	}
	for name, second := range map[string]string{
		"another UDP port":  "  - {name: ov2, transport: vxlan, address: \"10.0.0.1:4790\", options: {group: 239.1.1.2, vni: 2}}\n",
		"another namespace": "  - {name: ov2, transport: vxlan, address: \"10.0.0.1:4789\", options: {group: 239.1.1.2, vni: 2, netns: other}}\n",
	} {
		if _, err := ParseConfig("lab.yaml", []byte(head+second)); err != nil {
			t.Errorf("%s: %v, want it accepted", name, err)
		}
	}
}

// TestConfigRefusesTAPsSharingADevice: two tap ports on one device of one
// namespace (a name and its path under /run/netns are one) would have the
// second fail as if another program held the device: refused at the
// second's address, naming both ports. Other devices, or the same name in
// another namespace, are fine.
func TestConfigRefusesTAPsSharingADevice(t *testing.T) {
	for name, ports := range map[string]string{
		"host":          "  - {name: t, transport: tap, address: l2new}\n  - {name: u, transport: tap, address: l2new}\n",
		"netns":         "  - {name: t, transport: tap, address: l2new, options: {netns: lab}}\n  - {name: u, transport: tap, address: l2new, options: {netns: lab}}\n",
		"netns-by-path": "  - {name: t, transport: tap, address: l2new, options: {netns: lab}}\n  - {name: u, transport: tap, address: l2new, options: {netns: /run/netns/lab}}\n",
	} {
		_, err := ParseConfig("lab.yaml", []byte("ports:\n"+ports))
		if err == nil || !strings.Contains(err.Error(), "ports[1].address") || !strings.Contains(err.Error(), `also port "t"'s`) ||
			!strings.Contains(err.Error(), `give port "u" a device of its own`) {
			t.Errorf("%s: %v, want ports[1].address refused naming t and u", name, err)
		}
	}
	for name, ports := range map[string]string{
		"other devices":   "  - {name: t, transport: tap, address: l2new}\n  - {name: u, transport: tap, address: l2new2}\n",
		"other namespace": "  - {name: t, transport: tap, address: l2new}\n  - {name: u, transport: tap, address: l2new, options: {netns: lab}}\n",
	} {
		if _, err := ParseConfig("lab.yaml", []byte("ports:\n"+ports)); err != nil {
			t.Errorf("%s: %v, want it accepted", name, err)
		}
	}
}

// TestShownControlAddr: the banner and the ready file give a control
// address as ctl --control takes it: a relative socket path made absolute,
// or, when that would not fit a socket's name, kept with a unix: prefix
// wherever it would not read as a path.
func TestShownControlAddr(t *testing.T) {
	dir := t.TempDir()
	long := filepath.Join(dir, strings.Repeat("d", 60), strings.Repeat("e", 60))
	if err := os.MkdirAll(long, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		cwd, addr, want string
	}{
		{dir, "tcp:127.0.0.1:7291", "tcp:127.0.0.1:7291"},
		{dir, "/run/l2hub.sock", "/run/l2hub.sock"},
		{dir, "ctl", filepath.Join(dir, "ctl")},
		{dir, "unix:ctl", filepath.Join(dir, "ctl")},
		{dir, "./sub/ctl.sock", filepath.Join(dir, "sub", "ctl.sock")},
		{long, "ctl", "unix:ctl"},
		{long, "unix:ctl", "unix:ctl"},
		{long, "ctl.sock", "ctl.sock"},
		{long, "./ctl", "./ctl"},
	} {
		t.Chdir(tt.cwd)
		if got := shownControlAddr(tt.addr); got != tt.want {
			t.Errorf("in %s: got shownControlAddr(%q) = %q, want %q", tt.cwd, tt.addr, got, tt.want)
		}
		if err := CheckControlAddr(tt.want); err != nil {
			t.Errorf("shown %q: %v", tt.want, err)
		}
	}
}

// TestConfigRefusesPeerOnTheHubsOwnAddress: a udp or unixgram port whose
// peer is an address the hub binds (its own, another port's, through a
// wildcard bind) would loop frames back into the hub: refused at the
// peer's line and column, naming both ports and the address. A peer on
// another address, or on a wildcard's port of another machine, is fine.
func TestConfigRefusesPeerOnTheHubsOwnAddress(t *testing.T) {
	for _, tt := range []struct{ name, ports, want string }{
		{"own-address",
			"  - {name: b, transport: udp, address: '127.0.0.1:17512', peer: '127.0.0.1:17512'}\n",
			`lab.yaml:2:65: ports[0].peer: 127.0.0.1:17512 is port "b"'s own address: `},
		{"each-other",
			"  - {name: a, transport: udp, address: '127.0.0.1:17521', peer: '127.0.0.1:17530'}\n" +
				"  - {name: b, transport: udp, address: '127.0.0.1:17522', peer: '0.0.0.0:17521'}\n",
			`lab.yaml:3:65: ports[1].peer: 0.0.0.0:17521 is port "a"'s address (127.0.0.1:17521): port "b" would send its frames to port "a", `},
		{"wildcard",
			"  - {name: a, transport: udp, address: '0.0.0.0:17521', peer: '127.0.0.1:17530'}\n" +
				"  - {name: b, transport: udp, address: '127.0.0.1:17522', peer: '127.0.0.1:17521'}\n",
			`lab.yaml:3:65: ports[1].peer: 127.0.0.1:17521 is port "a"'s address (0.0.0.0:17521): port "b" would send its frames to port "a", `},
		{"unixgram",
			"  - {name: e, transport: unix, address: /tmp/l2hub-e.sock}\n" +
				"  - {name: f, transport: unixgram, address: /tmp/l2hub-f.sock, peer: /tmp/./l2hub-e.sock}\n",
			`lab.yaml:3:70: ports[1].peer: /tmp/./l2hub-e.sock is port "e"'s address (/tmp/l2hub-e.sock): port "f" would send its frames to port "e", `},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConfig("lab.yaml", []byte("ports:\n"+tt.ports))
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("got error\n%v\nwant one starting\n%s", err, tt.want)
			}
		})
	}
	for name, ports := range map[string]string{
		"other port": "  - {name: a, transport: udp, address: '127.0.0.1:17521', peer: '127.0.0.1:17531'}\n" +
			"  - {name: b, transport: udp, address: '127.0.0.1:17522', peer: '127.0.0.1:17532'}\n",
		"other loopback address":    "  - {name: a, transport: udp, address: '127.0.0.1:17521', peer: '127.0.0.2:17521'}\n",
		"wildcard's port elsewhere": "  - {name: a, transport: udp, address: '0.0.0.0:17521', peer: '192.0.2.7:17521'}\n",
		"any free port":             "  - {name: a, transport: udp, address: '127.0.0.1:0', peer: '127.0.0.1:17531'}\n",
		"unixgram":                  "  - {name: e, transport: unixgram, address: /tmp/l2hub-e.sock, peer: /tmp/l2hub-vm-e.sock}\n",
	} {
		if _, err := ParseConfig("lab.yaml", []byte("ports:\n"+ports)); err != nil {
			t.Errorf("%s: %v, want it accepted", name, err)
		}
	}
}
