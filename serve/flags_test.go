package serve

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"l2hub/capture"
	"l2hub/control"
)

// TestFlagErrorsNameTheFlag: a bad value that came from a flag is blamed
// on the flag as the user wrote it, not on a config key or a list index
// the user never wrote; a duplicate --port names where the first port of
// that name was defined, in the file (line and column) or by which flag.
func TestFlagErrorsNameTheFlag(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "lab.yaml")
	cwd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte("queue: 8\nports:\n  - {name: a, transport: tcp, address: '127.0.0.1:0'}\n  - {name: b, transport: tcp, address: '127.0.0.1:0'}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"port-dup-of-file", []string{"--config", file, "--port", "a=tcp:127.0.0.1:0"},
			`--port a=tcp:127.0.0.1:0: port "a" is already defined in ` + file + `:3:12 (ports[0])`},
		{"port-dup-of-flag", []string{"--port", "a=tcp:127.0.0.1:0", "--port", "a=tcp:127.0.0.1:1"},
			`--port a=tcp:127.0.0.1:1: port "a" is already defined by --port a=tcp:127.0.0.1:0`},
		{"port-dup-of-flag-with-file", []string{"--config", file, "--port", "c=tcp:127.0.0.1:0", "--port", "c=tcp:127.0.0.1:1"},
			`--port c=tcp:127.0.0.1:1: port "c" is already defined by --port c=tcp:127.0.0.1:0`},
		{"port-named-as-peer", []string{"--port", "node-a=tcp:127.0.0.1:0", "--peer", "node-a"},
			`--port node-a=tcp:127.0.0.1:0: port "node-a" has the name of a virtual peer; rename it`},
		{"tap-device-twice", []string{"--port", "t=tap:l2new", "--port", "u=tap:l2new"},
			`--port u=tap:l2new: address: TAP device l2new is also port "t"'s, and a TAP device has one user at a time: give port "u" a device of its own`},
		{"tcp-address-twice", []string{"--port", "x=tcp:127.0.0.1:7031", "--port", "y=tcp:127.0.0.1:7031"},
			`--port y=tcp:127.0.0.1:7031: address: tcp 127.0.0.1:7031 is also port "x"'s (127.0.0.1:7031): give port "y" an address of its own`},
		{"tcp-wildcard-and-loopback", []string{"--port", "x=tcp:0.0.0.0:7031", "--port", "y=tcp:127.0.0.1:7031"},
			`--port y=tcp:127.0.0.1:7031: address: tcp 127.0.0.1:7031 is also port "x"'s (0.0.0.0:7031): give port "y" an address of its own`},
		{"unix-path-twice", []string{"--port", "x=unix:/tmp/l2hub-x.sock", "--port", "y=unix:/tmp/../tmp/l2hub-x.sock"},
			`--port y=unix:/tmp/../tmp/l2hub-x.sock: address: unix /tmp/../tmp/l2hub-x.sock is also port "x"'s (/tmp/l2hub-x.sock): give port "y" an address of its own`},
		{"unixgram-on-a-unix-path", []string{"--port", "x=unix:/tmp/l2hub-x.sock", "--port", "y=unixgram:/tmp/l2hub-x.sock,peer=/tmp/vm.sock"},
			`--port y=unixgram:/tmp/l2hub-x.sock,peer=/tmp/vm.sock: address: unixgram /tmp/l2hub-x.sock is also port "x"'s (/tmp/l2hub-x.sock): give port "y" an address of its own`},
		{"udp-peer-is-its-own-address", []string{"--port", "a=tcp:127.0.0.1:17511", "--port", "b=udp:127.0.0.1:17512,peer=127.0.0.1:17512"},
			`--port b=udp:127.0.0.1:17512,peer=127.0.0.1:17512: peer: 127.0.0.1:17512 is port "b"'s own address: the port would send its frames to itself`},
		{"udp-peers-naming-each-other", []string{"--port", "a=udp:127.0.0.1:17521,peer=127.0.0.1:17522", "--port", "b=udp:127.0.0.1:17522,peer=127.0.0.1:17521"},
			`--port a=udp:127.0.0.1:17521,peer=127.0.0.1:17522: peer: 127.0.0.1:17522 is port "b"'s address: port "a" would send its frames to port "b"`},
		{"udp-peer-on-a-wildcard-bind", []string{"--port", "a=udp:0.0.0.0:17521,peer=127.0.0.1:17530", "--port", "b=udp:127.0.0.1:17522,peer=localhost:17521"},
			`--port b=udp:127.0.0.1:17522,peer=localhost:17521: peer: localhost:17521 is port "a"'s address (0.0.0.0:17521)`},
		{"unixgram-peer-is-its-own-path", []string{"--port", "e=unixgram:/tmp/l2hub-e.sock,peer=/tmp/../tmp/l2hub-e.sock"},
			`--port e=unixgram:/tmp/l2hub-e.sock,peer=/tmp/../tmp/l2hub-e.sock: peer: /tmp/../tmp/l2hub-e.sock is port "e"'s own address (/tmp/l2hub-e.sock)`},
		{"unixgram-peer-is-another-port", []string{"--port", "e=unixgram:l2hub-e.sock,peer=l2hub-vm.sock", "--port", "f=unixgram:/tmp/l2hub-f.sock,peer=" + filepath.Join(cwd, "l2hub-e.sock")},
			`--port f=unixgram:/tmp/l2hub-f.sock,peer=` + filepath.Join(cwd, "l2hub-e.sock") + `: peer: ` + filepath.Join(cwd, "l2hub-e.sock") + ` is port "e"'s address (l2hub-e.sock)`},
		{"unixgram-peer-is-the-control-socket", []string{"--control", "/tmp/l2hub-ctl.sock", "--port", "e=unixgram:/tmp/l2hub-e.sock,peer=/tmp/l2hub-ctl.sock"},
			`--port e=unixgram:/tmp/l2hub-e.sock,peer=/tmp/l2hub-ctl.sock: peer: /tmp/l2hub-ctl.sock is the hub's control socket`},
		{"vxlan-remote-twice", []string{"--port", "d=vxlan:10.99.10.1:4790,remote=10.99.10.2,remote=10.99.10.2,vni=7"},
			`--port d=vxlan:10.99.10.1:4790,remote=10.99.10.2,remote=10.99.10.2,vni=7: port "d": options.remote "10.99.10.2 10.99.10.2": remote 10.99.10.2 is given twice`},
		{"max-frame", []string{"--max-frame", "13"}, "--max-frame: 13 is outside "},
		{"max-frame-over-file", []string{"--config", file, "--max-frame", "13"}, "--max-frame: 13 is outside "},
		{"queue", []string{"--queue", "-3"}, "--queue: -3 is outside "},
		{"stall", []string{"--stall", "-1s"}, "--stall: must not be negative"},
		{"peer", []string{"--peer", "node-c"}, `--peer: "node-c": want node-a or node-b`},
		{"snaplen", []string{"--snaplen", "-1"}, "--snaplen: -1 must not be negative"},
		{"snaplen-above-range", []string{"--capture", "x.pcapng", "--snaplen", "262145"}, "--snaplen: 262145 is outside 0..262144 (0 means the default, 262144 bytes)"},
		{"aging", []string{"--aging", "-1s"}, "--aging: must not be negative (0 means the default 5m0s)"},
		{"rotate-size", []string{"--rotate-size", "-2"}, "--rotate-size: -2 must not be negative"},
		{"rotate-count", []string{"--rotate-count", "-5"}, "--rotate-count: -5 must not be negative"},
		{"capture-points", []string{"--capture-points", "sideways"}, `--capture-points: "sideways": want ingress, egress or both`},
		{"metrics", []string{"--metrics", "9465"}, `--metrics: "9465": want tcp:HOST:PORT`},
		{"control-host-port", []string{"--control", "127.0.0.1:7291"}, `--control: "127.0.0.1:7291": want tcp:127.0.0.1:7291 for a TCP address, or ./127.0.0.1:7291 for a socket file of that name`},
		{"control-none", []string{"--control", "none"}, `--control: "none": did you mean off (no control API)?`},
		{"capture-per-port-without-capture", []string{"--capture-per-port", "--snaplen", "100"}, "--capture-per-port: records nothing without a capture file"},
		{"snaplen-without-capture", []string{"--snaplen", "100"}, "--snaplen: records nothing without a capture file"},
		{"rotate-without-capture-in-file", []string{"--config", file, "--rotate-count", "5"}, "--rotate-count: records nothing without a capture file"},
		{"capture-format-without-capture", []string{"--capture-format", "pcap"}, "--capture-format: records nothing without a capture file"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var f Flags
			fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
			f.Register(fs)
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			_, err := f.Config()
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("serve %v: got error\n%v\nwant one starting\n%s", tt.args, err, tt.want)
			}
		})
	}
}

// TestPeerAliasesAreTheRole: --peer a is node-a, named in full: one node
// per role whichever name gave it, a probe it can play, and a port named
// node-a.
func TestPeerAliasesAreTheRole(t *testing.T) {
	for _, tt := range []struct {
		args  []string
		peers []string
		err   string
	}{
		{[]string{"--peer", "a", "--peer", "node-a"}, nil, `--peer: "node-a": node-a is already a peer`},
		{[]string{"--peer", "b", "--peer", "b"}, nil, `--peer: "b": node-b is already a peer`},
		{[]string{"--peer", "a", "--probe", "tampered-record"}, []string{"node-a"}, ""},
		{[]string{"--peer", "b", "--peer", "a"}, []string{"node-b", "node-a"}, ""},
		{[]string{"--peer", "a", "--port", "a=tcp:127.0.0.1:0"}, []string{"node-a"}, ""},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var f Flags
			fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
			f.Register(fs)
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			cfg, err := f.Config()
			switch {
			case tt.err != "":
				if err == nil || !strings.HasPrefix(err.Error(), tt.err) {
					t.Errorf("got error %v, want one starting %q", err, tt.err)
				}
			case err != nil:
				t.Errorf("got error %v, want none", err)
			case !slices.Equal(cfg.Peers, tt.peers) || !slices.Equal(cfg.PortNames()[len(cfg.Ports):], tt.peers):
				t.Errorf("got peers %q (ports %q), want %q", cfg.Peers, cfg.PortNames(), tt.peers)
			}
		})
	}
}

// TestCaptureToAnotherNameOfStdout: --capture naming the file standard
// output writes (/dev/stdout when the shell sent it to a file) is the
// stream "-" is, so that a set-policy or a rotation never makes numbered
// files beside it (/dev/stdout-0001 as root). Not parallel: it replaces
// os.Stdout.
func TestCaptureToAnotherNameOfStdout(t *testing.T) {
	out, err := os.Create(filepath.Join(t.TempDir(), "stdout.pcapng"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	saved := os.Stdout
	os.Stdout = out
	defer func() { os.Stdout = saved }()
	parse := func(args ...string) (Config, error) {
		var f Flags
		fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
		f.Register(fs)
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		return f.Config()
	}
	cfg, err := parse("--capture", out.Name())
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Capture.File != capture.Stdout {
		t.Errorf("--capture %s (standard output's file): got capture file %q, want the stream %q", out.Name(), cfg.Capture.File, capture.Stdout)
	}
	// The refusal names the path as given, not "-", which the user did
	// not write.
	if _, err := parse("--capture", out.Name(), "--rotate-count", "5"); err == nil ||
		!strings.Contains(err.Error(), "--capture: "+strconv.Quote(out.Name())+" is standard output, one stream: not per port, not rotated") {
		t.Errorf("--capture %s --rotate-count 5: got %v, want a refusal to rotate standard output that names %s", out.Name(), err, out.Name())
	}
	other := filepath.Join(t.TempDir(), "run.pcapng")
	if cfg, err := parse("--capture", other); err != nil || cfg.Capture.File != other {
		t.Errorf("--capture %s: got %q, %v; want the file itself", other, cfg.Capture.File, err)
	}
}

// TestSnaplenHelpSaysTheDefault: --snaplen's help gives the snaplen a
// capture keeps when it is not given, which cuts the longest frames the
// hub forwards; it must not promise all of every frame.
func TestSnaplenHelpSaysTheDefault(t *testing.T) {
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	var f Flags
	f.Register(fs)
	usage := fs.Lookup("snaplen").Usage
	if want := "default " + strconv.Itoa(capture.DefaultSnaplen); !strings.Contains(usage, want) {
		t.Errorf("got --snaplen help %q, want it to say %q", usage, want)
	}
}

// TestFlagsCompleteTheFile: flags merged into a config file may give what
// the file leaves out (its ports, the capture file its capture options
// need, the peer its probe plays), so the checks across fields run on the
// merged config; what is still wrong there is blamed on the file's line
// and column where the file is the cause, and on the flag where a flag is.
func TestFlagsCompleteTheFile(t *testing.T) {
	t.Setenv(control.TokenEnv, "")
	dir := t.TempDir()
	write := func(name, text string) string {
		t.Helper()
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	const port = "ports:\n  - {name: a, transport: tcp, address: '127.0.0.1:27014'}\n"
	noPorts := write("np.yaml", "mode: hub\ncontrol: off\n")
	emptyPorts := write("np2.yaml", "control: off\nports: []\n")
	points := write("cp.yaml", "control: off\ncapture:\n  points: ingress\n"+port)
	probe := write("pr.yaml", "control: off\nprobe: wrong-msg1\n"+port)
	peerPort := write("pp.yaml", "control: off\nports:\n  - {name: node-a, transport: tcp, address: '127.0.0.1:27015'}\n")
	pcap := filepath.Join(dir, "x.pcapng")
	for _, tt := range []struct {
		name string
		args []string
		want string // "" for none, else how the error starts
	}{
		{"port-for-no-ports", []string{"--config", noPorts, "--port", "a=tcp:127.0.0.1:27013"}, ""},
		{"port-for-empty-ports", []string{"--config", emptyPorts, "--port", "a=tcp:127.0.0.1:27013"}, ""},
		{"peer-for-no-ports", []string{"--config", noPorts, "--peer", "node-b"}, ""},
		{"capture-for-points", []string{"--config", points, "--capture", pcap}, ""},
		{"peer-for-probe", []string{"--config", probe, "--peer", "node-a"}, ""},
		{"peer-replacing-the-port-name", []string{"--config", peerPort, "--peer", "node-b"}, ""},

		{"no-ports", []string{"--config", noPorts, "--mode", "switch"}, noPorts + ":1:1: ports: no ports: a hub needs at least one"},
		{"empty-ports", []string{"--config", emptyPorts}, emptyPorts + ":2:8: ports: no ports: a hub needs at least one"},
		{"points-without-capture", []string{"--config", points, "--queue", "64"},
			points + ":3:11: capture.points: records nothing without a capture file"},
		{"probe-without-its-peer", []string{"--config", probe, "--peer", "node-b"},
			probe + `:2:8: probe: probe "wrong-msg1" plays node-a: give exactly that one peer`},
		{"probe-flag-against-file-peers", []string{"--config", write("peers.yaml", "control: off\npeers: [node-b]\n"), "--probe", "wrong-msg1"},
			`--probe: probe "wrong-msg1" plays node-a: give exactly that one peer`},
		{"port-named-after-a-flag-peer", []string{"--config", peerPort, "--peer", "node-a"},
			peerPort + `:3:12: ports[0].name: port "node-a" has the name of a virtual peer; rename it`},
		{"port-on-the-file-port-address", []string{"--config", points, "--capture", pcap, "--port", "b=tcp:127.0.0.1:27014"},
			`--port b=tcp:127.0.0.1:27014: address: tcp 127.0.0.1:27014 is also port "a"'s (127.0.0.1:27014)`},
		// Every problem, the flags' first, then the file's in file order.
		{"flag-and-file-problems", []string{"--config", write("bad.yaml", "control: off\nqueue: -1\n"+port+"stall: -1s\n"), "--max-frame", "13"},
			"--max-frame: 13 is outside 14..1048576 (0 means QEMU's limit, 69632)\n" +
				filepath.Join(dir, "bad.yaml") + ":2:8: queue: -1 is outside 1..1048576 (0 means the default 256)\n" +
				filepath.Join(dir, "bad.yaml") + ":5:8: stall: must not be negative (0 means the default 2s)"},
		{"capture-option-flag-without-file", []string{"--config", noPorts, "--port", "a=tcp:127.0.0.1:27013", "--snaplen", "100"},
			"--snaplen: records nothing without a capture file"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := parseFlags(t, tt.args...)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("serve %v: got error\n%v\nwant none", tt.args, err)
			case tt.want != "" && (err == nil || !strings.HasPrefix(err.Error(), tt.want)):
				t.Errorf("serve %v: got error\n%v\nwant one starting\n%s", tt.args, err, tt.want)
			}
		})
	}
}
