package transport_test

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"l2hub/hub"
	"l2hub/internal/unixpath"
	"l2hub/internal/yamlfile"
	"l2hub/transport"
)

func TestParseSpec(t *testing.T) {
	for _, tc := range []struct {
		name string
		text string
		want transport.Spec
	}{
		{"tcp", "a=tcp:127.0.0.1:7001", transport.Spec{Name: "a", Transport: transport.TCP, Address: "127.0.0.1:7001"}},
		{"tcp-all-interfaces", "a=tcp::7001", transport.Spec{Name: "a", Transport: transport.TCP, Address: ":7001"}},
		{"tcp-ipv6", "a=tcp:[::1]:7001", transport.Spec{Name: "a", Transport: transport.TCP, Address: "[::1]:7001"}},
		{"tcp-port-zero", "a=tcp:127.0.0.1:0", transport.Spec{Name: "a", Transport: transport.TCP, Address: "127.0.0.1:0"}},
		{"tcp-dial-hostname", "vm-1=tcp-dial:localhost:7002", transport.Spec{Name: "vm-1", Transport: transport.TCPDial, Address: "localhost:7002"}},
		{"unix", "c=unix:/run/l2hub/c.sock", transport.Spec{Name: "c", Transport: transport.Unix, Address: "/run/l2hub/c.sock"}},
		{"unix-dial", "c=unix-dial:/tmp/vm.sock", transport.Spec{Name: "c", Transport: transport.UnixDial, Address: "/tmp/vm.sock"}},
		{"unix-path-with-comma", "c=unix:/tmp/a,,b.sock", transport.Spec{Name: "c", Transport: transport.Unix, Address: "/tmp/a,b.sock"}},
		{"unix-mode", "c=unix:/run/l2hub/c.sock,mode=0660", transport.Spec{Name: "c", Transport: transport.Unix, Address: "/run/l2hub/c.sock",
			Options: map[string]string{"mode": "0660"}}},
		{"unixgram-mode", "e=unixgram:/tmp/h.sock,peer=/tmp/v.sock,mode=640", transport.Spec{Name: "e", Transport: transport.Unixgram, Address: "/tmp/h.sock",
			Peer: "/tmp/v.sock", Options: map[string]string{"mode": "640"}}},
		{"udp", "d=udp:127.0.0.1:7003,peer=127.0.0.1:7004", transport.Spec{Name: "d", Transport: transport.UDP, Address: "127.0.0.1:7003", Peer: "127.0.0.1:7004"}},
		{"unixgram", "e=unixgram:/tmp/h.sock,peer=/tmp/v.sock", transport.Spec{Name: "e", Transport: transport.Unixgram, Address: "/tmp/h.sock", Peer: "/tmp/v.sock"}},
		{"mcast", "m=mcast:230.0.0.1:37021", transport.Spec{Name: "m", Transport: transport.Mcast, Address: "230.0.0.1:37021"}},
		{"mcast-local", "m=mcast:230.0.0.1:37021,local=10.0.0.2", transport.Spec{Name: "m", Transport: transport.Mcast, Address: "230.0.0.1:37021", Local: "10.0.0.2"}},
		{"tap", "t=tap:tap0,ip=10.0.0.1/24,netns=lab,mac=02:00:00:00:00:01", transport.Spec{Name: "t", Transport: transport.TAP, Address: "tap0",
			Options: map[string]string{"ip": "10.0.0.1/24", "netns": "lab", "mac": "02:00:00:00:00:01"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := transport.ParseSpec(tc.text)
			if err != nil {
				t.Fatalf("ParseSpec(%q): %v", tc.text, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("ParseSpec(%q) = %#v, want %#v", tc.text, got, tc.want)
			}
			again, err := transport.ParseSpec(got.String())
			if err != nil || !reflect.DeepEqual(again, got) {
				t.Fatalf("ParseSpec(%q) = %#v, %v; want the spec back", got.String(), again, err)
			}
		})
	}
}

func TestParseSpecErrors(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		field      string // the SpecError's field, "" for a syntax error
		msg        string // must appear in the message
	}{
		{"no-equals", "tcp:127.0.0.1:7001", "", "NAME=TRANSPORT:ADDRESS"},
		{"no-transport", "a=127.0.0.1", "", "transport one of"},
		{"empty-name", "=tcp:127.0.0.1:7001", "name", "letters"},
		{"bad-name", "a/b=tcp:127.0.0.1:7001", "name", "letters"},
		{"long-name", strings.Repeat("a", 33) + "=tcp:127.0.0.1:7001", "name", "1-32"},
		{"unknown-transport", "a=sctp:127.0.0.1:7001", "transport", "want one of tcp, tcp-dial"},
		{"tcp-no-port", "a=tcp:127.0.0.1", "address", "host:port"},
		{"tcp-port-range", "a=tcp:127.0.0.1:70000", "address", "0 to 65535"},
		{"tcp-port-name", "a=tcp:127.0.0.1:http", "address", "0 to 65535"},
		{"tcp-bad-host", "a=tcp:bad_host!:7001", "address", "host must be"},
		{"dial-port-zero", "a=tcp-dial:127.0.0.1:0", "address", "port 0 cannot be dialed"},
		{"dial-no-host", "a=tcp-dial::7001", "address", "a host is needed"},
		{"unix-empty", "a=unix:", "address", "a socket path is needed"},
		{"unix-abstract", "a=unix:@hub", "address", "abstract"},
		{"unix-too-long", "a=unix:/" + strings.Repeat("x", 120), "address", fmt.Sprintf("limited to %d bytes", unixpath.MaxLen)},
		{"udp-no-peer", "a=udp:127.0.0.1:7003", "peer", "needs peer="},
		{"udp-peer-port-zero", "a=udp:127.0.0.1:7003,peer=127.0.0.1:0", "peer", "port 0"},
		{"udp-ipv6", "d=udp:[::1]:7003,peer=127.0.0.1:7004", "address", "IPv4 addresses only"},
		{"udp-ipv6-wildcard", "d=udp:[::]:7003,peer=127.0.0.1:7004", "address", "IPv4 addresses only"},
		{"udp-ipv6-peer", "d=udp:127.0.0.1:7003,peer=[::1]:7004", "peer", "tcp:[::1]:PORT"},
		{"udp-ipv6-link-local-peer", "d=udp:127.0.0.1:7003,peer=[fe80::1%eth0]:7004", "peer", "IPv4 addresses only"},
		{"udp-ipv4-mapped-peer", "d=udp:127.0.0.1:7003,peer=[::ffff:127.0.0.1]:7004", "peer", "IPv4 addresses only"},
		{"unixgram-no-peer", "a=unixgram:/tmp/h.sock", "peer", "needs peer="},
		{"tcp-with-peer", "a=tcp:127.0.0.1:7001,peer=127.0.0.1:7002", "peer", "takes no peer"},
		{"tcp-with-local", "a=tcp:127.0.0.1:7001,local=127.0.0.1", "local", "takes no local"},
		{"mcast-unicast-group", "m=mcast:10.0.0.1:37021", "address", "multicast group"},
		{"mcast-ipv6", "m=mcast:[ff02::1]:37021", "address", "IPv4 multicast"},
		{"mcast-port-zero", "m=mcast:230.0.0.1:0", "address", "needs its port"},
		{"mcast-bad-local", "m=mcast:230.0.0.1:37021,local=eth0", "local", "IPv4 address"},
		{"mcast-multicast-local", "m=mcast:230.0.0.1:37021,local=230.0.0.2", "local", "IPv4 address"},
		{"mcast-unspecified-local", "m=mcast:230.0.0.1:37021,local=0.0.0.0", "local", "IPv4 address"},
		{"unknown-option", "a=tcp:127.0.0.1:7001,nodelay=on", "options.nodelay", "want overflow, queue"},
		{"tap-unknown-option", "t=tap:tap0,vnet_hdr=on", "options.vnet_hdr", "want ip, mac, mtu, netns, overflow, queue"},
		{"bad-overflow", "a=tcp:127.0.0.1:7001,overflow=block", "options.overflow", "want pause"},
		{"queue-zero", "a=unix:/tmp/a.sock,queue=0", "options.queue", "1..1048576"},
		{"queue-not-a-number", "a=unix:/tmp/a.sock,queue=many", "options.queue", "queue length"},
		{"stall-zero", "a=unix:/tmp/a.sock,stall=0s", "options.stall", "positive duration"},
		{"stall-not-a-duration", "a=unix:/tmp/a.sock,stall=long", "options.stall", "positive duration"},
		{"sockbuf-on-stream", "a=tcp:127.0.0.1:7001,sockbuf=4M", "options.sockbuf", "want overflow, queue"},
		{"sockbuf-too-small", "a=udp:127.0.0.1:7003,peer=127.0.0.1:7004,sockbuf=100", "options.sockbuf", "4K to 1G"},
		{"sockbuf-too-large", "a=udp:127.0.0.1:7003,peer=127.0.0.1:7004,sockbuf=2G", "options.sockbuf", "4K to 1G"},
		{"sockbuf-garbage", "m=mcast:230.0.0.1:37021,sockbuf=4X", "options.sockbuf", "4K to 1G"},
		// Sizes whose multiplication would wrap to something in range.
		{"sockbuf-wraps-G", "a=udp:127.0.0.1:7003,peer=127.0.0.1:7004,sockbuf=17179869185G", "options.sockbuf", "4K to 1G"},
		{"sockbuf-wraps-K", "a=udp:127.0.0.1:7003,peer=127.0.0.1:7004,sockbuf=18014398509481988K", "options.sockbuf", "4K to 1G"},
		{"mode-not-octal", "a=unix:/tmp/a.sock,mode=0800", "options.mode", "in octal, 0..0777"},
		{"mode-too-large", "a=unixgram:/tmp/a.sock,peer=/tmp/b.sock,mode=4755", "options.mode", "in octal, 0..0777"},
		{"mode-symbolic", "a=unix:/tmp/a.sock,mode=u+rw", "options.mode", "in octal, 0..0777"},
		{"mode-on-tcp", "a=tcp:127.0.0.1:7001,mode=0600", "options.mode", "want overflow, queue"},
		{"mode-on-unix-dial", "a=unix-dial:/tmp/a.sock,mode=0600", "options.mode", "want overflow, queue"},
		{"tap-bad-ip", "t=tap:tap0,ip=10.0.0.1", "options.ip", "prefix length"},
		{"tap-bad-mac", "t=tap:tap0,mac=02:00", "options.mac", "MAC address"},
		{"tap-group-mac", "t=tap:tap0,mac=03:00:00:00:00:01", "options.mac", "unicast"},
		{"tap-zero-mac", "t=tap:tap0,mac=00:00:00:00:00:00", "options.mac", "unicast"},
		{"tap-mtu-above-tun-max", "t=tap:tap0,mtu=65522", "options.mtu", "68..65521 (the largest a TAP device takes"},
		{"tap-mtu-ip-max", "t=tap:tap0,mtu=65535", "options.mtu", "68..65521"},
		{"tap-long-name", "t=tap:averyveryverylongname", "address", "1-15"},
		{"tap-slash-in-name", "t=tap:a/b", "address", "cannot contain '/'"},
		{"option-without-value", "a=udp:127.0.0.1:7003,peer", "", "key=value"},
		{"option-twice", "a=udp:127.0.0.1:7003,peer=127.0.0.1:1,peer=127.0.0.1:2", "", "given twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := transport.ParseSpec(tc.text)
			if err == nil {
				t.Fatalf("ParseSpec(%q) = nil error, want one", tc.text)
			}
			if !errors.Is(err, transport.ErrSpec) {
				t.Errorf("ParseSpec(%q) = %v, want an error wrapping ErrSpec", tc.text, err)
			}
			var se *transport.SpecError
			switch {
			case tc.field == "" && errors.As(err, &se):
				t.Errorf("ParseSpec(%q) = SpecError on %q, want a syntax error", tc.text, se.Field)
			case tc.field != "" && !errors.As(err, &se):
				t.Errorf("ParseSpec(%q) = %v, want a *SpecError", tc.text, err)
			case tc.field != "" && se.Field != tc.field:
				t.Errorf("ParseSpec(%q) blames field %q, want %q", tc.text, se.Field, tc.field)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("ParseSpec(%q) = %q, want it to say %q", tc.text, err, tc.msg)
			}
		})
	}
}

func TestSpecPortOptions(t *testing.T) {
	for _, tc := range []struct {
		text string
		want hub.PortOptions
	}{
		{"a=tcp:127.0.0.1:7001", hub.PortOptions{}},
		{"a=tcp:127.0.0.1:7001,overflow=drop", hub.PortOptions{Overflow: hub.OverflowDrop}},
		{"a=unix:/tmp/a.sock,overflow=pause,queue=64", hub.PortOptions{Overflow: hub.OverflowPause, QueueLen: 64}},
		{"a=tcp:127.0.0.1:7001,stall=30s", hub.PortOptions{Stall: 30 * time.Second}},
		{"u=udp:127.0.0.1:7003,peer=127.0.0.1:7004,sockbuf=16M,queue=1024", hub.PortOptions{QueueLen: 1024}},
		{"t=tap:tap0,overflow=drop", hub.PortOptions{Overflow: hub.OverflowDrop}},
	} {
		s, err := transport.ParseSpec(tc.text)
		if err != nil {
			t.Fatalf("ParseSpec(%q): %v", tc.text, err)
		}
		if got := s.PortOptions(); got != tc.want {
			t.Errorf("ParseSpec(%q).PortOptions() = %+v, want %+v", tc.text, got, tc.want)
		}
	}
}

func TestSpecStringRoundTrip(t *testing.T) {
	for _, s := range []transport.Spec{
		{Name: "a", Transport: transport.Unix, Address: ",/odd,,path,"},
		{Name: "b", Transport: transport.Unixgram, Address: "/tmp/x,y", Peer: "/tmp/,"},
		{Name: "c", Transport: transport.TAP, Address: "tap1", Options: map[string]string{"netns": "a,b", "mac": "02:00:00:00:00:09"}},
	} {
		got, err := transport.ParseSpec(s.String())
		if err != nil || !reflect.DeepEqual(got, s) {
			t.Errorf("ParseSpec(%q) = %#v, %v; want %#v", s.String(), got, err, s)
		}
	}
}

func TestQEMUArgs(t *testing.T) {
	for _, tc := range []struct {
		spec string
		want []string
	}{
		{"a=tcp:127.0.0.1:7001", []string{
			"stream,id=n0,server=off,addr.type=inet,addr.host=127.0.0.1,addr.port=7001",
			"socket,id=n0,connect=127.0.0.1:7001",
		}},
		{"a=tcp:0.0.0.0:7001", []string{
			"stream,id=n0,server=off,addr.type=inet,addr.host=127.0.0.1,addr.port=7001",
			"socket,id=n0,connect=127.0.0.1:7001",
		}},
		{"a=tcp::7001", []string{
			"stream,id=n0,server=off,addr.type=inet,addr.host=127.0.0.1,addr.port=7001",
			"socket,id=n0,connect=127.0.0.1:7001",
		}},
		{"a=tcp:[::]:7001", []string{
			"stream,id=n0,server=off,addr.type=inet,addr.host=::1,addr.port=7001",
		}},
		{"b=tcp-dial:127.0.0.1:7002", []string{
			"stream,id=n0,server=on,addr.type=inet,addr.host=127.0.0.1,addr.port=7002",
			"socket,id=n0,listen=127.0.0.1:7002",
		}},
		{"c=unix:/tmp/a,,b.sock", []string{
			"stream,id=n0,server=off,addr.type=unix,addr.path=/tmp/a,,b.sock",
		}},
		{"c=unix-dial:/tmp/vm.sock", []string{
			"stream,id=n0,server=on,addr.type=unix,addr.path=/tmp/vm.sock",
		}},
		{"d=udp:127.0.0.1:7003,peer=127.0.0.1:7004", []string{
			"dgram,id=n0,local.type=inet,local.host=127.0.0.1,local.port=7004,remote.type=inet,remote.host=127.0.0.1,remote.port=7003",
			"socket,id=n0,udp=127.0.0.1:7003,localaddr=127.0.0.1:7004",
		}},
		{"e=unixgram:/tmp/h.sock,peer=/tmp/v.sock", []string{
			"dgram,id=n0,local.type=unix,local.path=/tmp/v.sock,remote.type=unix,remote.path=/tmp/h.sock",
		}},
		{"m=mcast:230.0.0.1:37021", []string{
			"dgram,id=n0,remote.type=inet,remote.host=230.0.0.1,remote.port=37021,local.type=inet,local.host=127.0.0.1,local.port=0",
			"socket,id=n0,mcast=230.0.0.1:37021,localaddr=127.0.0.1",
		}},
		{"m=mcast:230.0.0.1:37021,local=10.1.2.3", []string{
			"dgram,id=n0,remote.type=inet,remote.host=230.0.0.1,remote.port=37021,local.type=inet,local.host=10.1.2.3,local.port=0",
			"socket,id=n0,mcast=230.0.0.1:37021,localaddr=10.1.2.3",
		}},
		{"t=tap:tap0", nil},
	} {
		t.Run(strings.SplitN(tc.spec, "=", 2)[0]+"-"+string(mustParse(t, tc.spec).Transport), func(t *testing.T) {
			if got := mustParse(t, tc.spec).QEMUArgs("n0"); !slices.Equal(got, tc.want) {
				t.Errorf("QEMUArgs(n0) of %s =\n%q\nwant\n%q", tc.spec, got, tc.want)
			}
		})
	}
	if got := (transport.Spec{Name: "a", Transport: "bogus"}).QEMUArgs("n0"); got != nil {
		t.Errorf("QEMUArgs of an invalid spec = %q, want nil", got)
	}
}

func mustParse(t *testing.T, text string) transport.Spec {
	t.Helper()
	s, err := transport.ParseSpec(text)
	if err != nil {
		t.Fatalf("ParseSpec(%q): %v", text, err)
	}
	return s
}

func FuzzParseSpec(f *testing.F) {
	for _, s := range []string{
		"a=tcp:127.0.0.1:7001", "b=udp:127.0.0.1:7003,peer=127.0.0.1:7004", "c=unix:/a,,b",
		"m=mcast:230.0.0.1:37021,local=127.0.0.1", "t=tap:tap0,ip=10.0.0.1/24,mac=02:00:00:00:00:01",
		"=", "a=:", "a=tcp:,,,,peer=,", "a=unixgram:/x,peer=/y,peer=/z",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		s, err := transport.ParseSpec(text)
		if err != nil {
			if !errors.Is(err, transport.ErrSpec) {
				t.Fatalf("ParseSpec(%q) = %v, want an error wrapping ErrSpec", text, err)
			}
			return
		}
		again, err := transport.ParseSpec(s.String())
		if err != nil || !reflect.DeepEqual(again, s) {
			t.Fatalf("ParseSpec(%q).String() = %q parses to %#v, %v; want %#v", text, s.String(), again, err, s)
		}
		if s.Transport != transport.TAP && len(s.QEMUArgs("n0")) == 0 {
			t.Fatalf("valid spec %q has no QEMU arguments", text)
		}
	})
}

// TestAnyPort: only a listening tcp or udp port at port 0 is chosen by the
// system when the hub starts.
func TestAnyPort(t *testing.T) {
	for spec, want := range map[string]bool{
		"a=tcp:127.0.0.1:0":                      true,
		"a=udp:127.0.0.1:0,peer=127.0.0.1:7101":  true,
		"a=tcp:127.0.0.1:7001":                   false,
		"a=tcp-dial:127.0.0.1:7001":              false,
		"a=unix:/tmp/a.sock":                     false,
		"a=udp:127.0.0.1:7001,peer=127.0.0.1:71": false,
	} {
		if got := mustParse(t, spec).AnyPort(); got != want {
			t.Errorf("AnyPort(%s) = %v, want %v", spec, got, want)
		}
	}
}

// TestSpecOptionsYAMLErrorsArePositioned: a port's options decoded from
// YAML are refused at the bad node's line and column, with the field's
// path, so that a caller prefixing its file name ("c.yaml:") makes a
// file:line:col message; the error matches ErrSpec.
func TestSpecOptionsYAMLErrorsArePositioned(t *testing.T) {
	for _, tc := range []struct {
		name, options string
		want          string
	}{
		{"options-a-value", "ip", "2:53: options: want a mapping, got a scalar"},
		{"options-a-list", "[ip]", "2:53: options: want a mapping, got a list"},
		{"value-a-list", "{ip: [1]}", "2:58: options.ip: want a value, got a list"},
		{"value-a-mapping", "{netns: {a: 1}}", "2:61: options.netns: want a value, got a mapping"},
		{"multi-value-item-a-mapping", "{remote: [10.0.0.2, {a: 1}]}", "2:73: options.remote[1]: want a value, got a mapping"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := "ports:\n  - {name: a, transport: tap, address: t0, options: " + tc.options + "}\n"
			var cfg struct {
				Ports []transport.Spec `yaml:"ports"`
			}
			err := yaml.Unmarshal([]byte(src), &cfg)
			var ye *yamlfile.Error
			if !errors.As(err, &ye) || ye.Line == 0 || ye.Column == 0 || err.Error() != tc.want {
				t.Fatalf("got yaml.Unmarshal(%q) error %v (%T), want %q", src, err, err, tc.want)
			}
			if !errors.Is(err, transport.ErrSpec) {
				t.Errorf("got error %v, want it to match ErrSpec", err)
			}
			ye.File = "c.yaml"
			if got, want := ye.Error(), "c.yaml:"+tc.want; got != want {
				t.Errorf("got with its file %q, want %q", got, want)
			}
		})
	}
	var cfg struct {
		Ports []transport.Spec `yaml:"ports"`
	}
	src := "ports:\n  - {name: x, transport: vxlan, address: '10.0.0.1:4789', options: {remote: [10.0.0.2, 10.0.0.3], vni: 42}}\n"
	if err := yaml.Unmarshal([]byte(src), &cfg); err != nil || cfg.Ports[0].Options["remote"] != "10.0.0.2 10.0.0.3" || cfg.Ports[0].Options["vni"] != "42" {
		t.Errorf("got yaml.Unmarshal(%q) = %+v, %v; want remote 10.0.0.2 10.0.0.3, vni 42", src, cfg.Ports, err)
	}
}

// TestWithSegmentMTU: a TAP port the hub opens without mtu= gets the
// smallest MTU its VXLAN ports carry; one with mtu=, and every TAP port of
// a hub without VXLAN ports, keeps what it has, and the given specs are
// not changed. The MTU given never makes frames (MTU plus the 14-byte
// Ethernet header) longer than the hub's maximum frame, and none is given
// when even the smallest TAP MTU would not fit.
func TestWithSegmentMTU(t *testing.T) {
	parse := func(texts ...string) []transport.Spec {
		var out []transport.Spec
		for _, text := range texts {
			s, err := transport.ParseSpec(text)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, s)
		}
		return out
	}
	mtus := func(specs []transport.Spec) string {
		var got []string
		for _, s := range specs {
			got = append(got, s.Name+"="+s.Options["mtu"])
		}
		return strings.Join(got, " ")
	}
	for _, tc := range []struct {
		name     string
		specs    []string
		maxFrame int
		want     string
		notes    int
	}{
		{"no vxlan", []string{"h=tap:l2h0", "a=tcp:127.0.0.1:7001"}, 0, "h= a=", 0},
		{"default underlay", []string{"h=tap:l2h0", "ov=vxlan:10.0.0.1:4789,remote=10.0.0.2,vni=42"}, 0, "h=1450 ov=", 1},
		{"smallest of two", []string{"ov=vxlan:10.0.0.1:4789,remote=10.0.0.2,vni=42,mtu=9000", "h=tap:l2h0",
			"ov2=vxlan:10.0.0.1:4790,remote=10.0.0.3,vni=43,mtu=1400"}, 0, "ov=9000 h=1350 ov2=1400", 1},
		{"given mtu kept", []string{"h=tap:l2h0,mtu=1500", "ov=vxlan:10.0.0.1:4789,remote=10.0.0.2,vni=42"}, 0, "h=1500 ov=", 0},
		{"max frame fits", []string{"h=tap:l2h0", "ov=vxlan:10.0.0.1:4789,remote=10.0.0.2,vni=42"}, 1464, "h=1450 ov=", 1},
		{"max frame below", []string{"h=tap:l2h0", "ov=vxlan:10.0.0.1:4789,remote=10.0.0.2,vni=42"}, 1000, "h=986 ov=", 1},
		{"max frame too small", []string{"h=tap:l2h0", "ov=vxlan:10.0.0.1:4789,remote=10.0.0.2,vni=42"}, 81, "h= ov=", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			specs := parse(tc.specs...)
			before := mtus(specs)
			got, notes := transport.WithSegmentMTU(specs, tc.maxFrame)
			if m := mtus(got); m != tc.want {
				t.Errorf("got MTUs %q, want %q", m, tc.want)
			}
			if len(notes) != tc.notes {
				t.Errorf("got notes %q, want %d", notes, tc.notes)
			}
			if mtus(specs) != before {
				t.Errorf("the given specs changed: %q, was %q", mtus(specs), before)
			}
		})
	}
}

// TestUnixPathLimit: a unix port's path may be as long as a socket's
// address holds (unixpath.MaxLen: 107 bytes on Linux, 103 on macOS), and
// not one byte longer.
func TestUnixPathLimit(t *testing.T) {
	longest := "/" + strings.Repeat("x", unixpath.MaxLen-1)
	if _, err := transport.ParseSpec("a=unix:" + longest); err != nil {
		t.Errorf("a path of %d bytes: %v, want it taken", len(longest), err)
	}
	if _, err := transport.ParseSpec("a=unix:" + longest + "x"); err == nil {
		t.Errorf("a path of %d bytes was taken, want it refused", len(longest)+1)
	}
}
