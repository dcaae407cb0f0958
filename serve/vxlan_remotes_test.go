package serve_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"l2hub/control"
	"l2hub/hub"
	"l2hub/hub/hubtest"
	"l2hub/serve"
	"l2hub/transport"
)

// vxlanHub is serve running with a VM on port a and a VXLAN port ov whose
// one remote VTEP, far, is the test's, all on loopback, and the control
// API on a socket.
type vxlanHub struct {
	ctl *control.Client
	vm  *transport.StreamConn
	far *transport.VXLANConn
}

// runVXLANHub starts a vxlanHub and waits until the VM is attached.
func runVXLANHub(t *testing.T) vxlanHub {
	t.Helper()
	// far is at ov's UDP port on another address, as VTEPs usually are
	// (one port for the overlay), so ov names it by its IP.
	ov := freeUDPPort(t)
	far, err := transport.OpenVXLAN(transport.VXLANConfig{
		Local:   netip.AddrPortFrom(netip.MustParseAddr("127.0.0.2"), ov.Port()),
		Remotes: []netip.AddrPort{ov}, VNI: 42, Silence: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { far.Close() })
	spec, err := transport.ParseSpec(fmt.Sprintf("ov=vxlan:%s,remote=127.0.0.2,vni=42", ov))
	if err != nil {
		t.Fatal(err)
	}
	cfg := serve.DefaultConfig()
	cfg.Ports = []transport.Spec{{Name: "a", Transport: transport.TCP, Address: "127.0.0.1:0"}, spec}
	cfg.Control = filepath.Join(t.TempDir(), "ctl.sock")
	sess := startSession(t, cfg, nil)
	t.Cleanup(func() {
		if err := sess.Stop(); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	h := vxlanHub{ctl: control.NewClient(serveControl(t, sess), ""), vm: dialVM(t, sess.Bound()[0].Spec.Address), far: far}
	waitAttached(t, sess)
	return h
}

// metrics scrapes the hub's metrics through its control API, and checks
// the exposition as a scraper would.
func (h vxlanHub) metrics(t *testing.T) map[string]*dto.MetricFamily {
	t.Helper()
	exposition, err := h.ctl.Metrics(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	lintExposition(t, []byte(exposition))
	return parseMetrics(t, []byte(exposition))
}

// portsText is what ctl ports prints for ps.
func portsText(t *testing.T, ps ...control.PortStatus) string {
	t.Helper()
	var text strings.Builder
	if err := control.WritePorts(&text, ps); err != nil {
		t.Fatal(err)
	}
	return text.String()
}

// freeUDPPort returns a loopback UDP address no socket holds just now.
func freeUDPPort(t *testing.T) netip.AddrPort {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).AddrPort()
}

// exchange has the VM flood one frame, which the hub sends to far, and
// far flood one, which reaches the VM: a datagram each way on ov.
func (h vxlanHub) exchange(t *testing.T) {
	t.Helper()
	fromVM := hubtest.Frame(hubtest.Broadcast, hubtest.MAC("02:00:00:00:00:0a"), "from the VM")
	if err := h.vm.WriteFrame(fromVM); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, transport.DefaultMaxFrame)
	if n, err := hub.ReadFrame(h.far, buf); err != nil || !bytes.Equal(buf[:n], fromVM) {
		t.Fatalf("the far VTEP read %x, %v; want the VM's frame", buf[:n], err)
	}
	fromFar := hubtest.Frame(hubtest.Broadcast, hubtest.MAC("02:00:00:00:00:0f"), "from beyond the overlay")
	if err := hub.WriteFrame(h.far, fromFar); err != nil {
		t.Fatal(err)
	}
	if got := readFrame(t, h.vm); !bytes.Equal(got, fromFar) {
		t.Fatalf("the VM read %x, want the far VTEP's frame", got)
	}
}

// TestVXLANRemotesOnControlAPI: a running hub's VXLAN port shows its
// remote VTEP's datagram counters and when it was last heard, as the
// control API's port status (ctl ports --json), as ctl ports prints them,
// and on /metrics (which lints clean), once datagrams have flowed both
// ways.
func TestVXLANRemotesOnControlAPI(t *testing.T) {
	h := runVXLANHub(t)
	ctx := context.Background()
	before := time.Now()
	h.exchange(t)
	after := time.Now()

	// The hub counts a datagram sent once the send returns, which may be
	// just after far read it.
	var ov control.PortStatus
	waitFor(t, "ov's remote counted both datagrams", func() bool {
		ports, err := h.ctl.Ports(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range ports {
			if p.Name == "ov" {
				ov = p
			}
		}
		return len(ov.Remotes) == 1 && ov.Remotes[0].Sent == 1 && ov.Remotes[0].Received == 1
	})
	r := ov.Remotes[0]
	if r.Addr != "127.0.0.2" || r.Quiet || r.LastHeard.Before(before) || r.LastHeard.After(after) {
		t.Errorf("got ov's remote %+v, want 127.0.0.2, heard between %v and %v, not quiet", r, before, after)
	}

	b, err := json.Marshal(ov) // as ctl ports --json prints it
	if err != nil {
		t.Fatal(err)
	}
	var shape struct {
		Remotes []map[string]any `json:"remotes"`
	}
	if err := json.Unmarshal(b, &shape); err != nil || len(shape.Remotes) != 1 {
		t.Fatalf("ctl ports --json prints ov as %s, want one remote under \"remotes\"", b)
	}
	for _, key := range []string{"addr", "sent", "received", "last_heard", "quiet"} {
		if _, ok := shape.Remotes[0][key]; !ok {
			t.Errorf("ctl ports --json prints ov's remote as %v, want a key %q", shape.Remotes[0], key)
		}
	}

	text := portsText(t, ov)
	if want := regexp.MustCompile(`(?m)^  remote 127\.0\.0\.2  sent 1  received 1  heard [0-9hms]+ ago$`); !want.MatchString(text) {
		t.Errorf("ctl ports printed\n%s\nwant a line matching %s", text, want)
	}

	fams := h.metrics(t)
	for _, tc := range []struct {
		name string
		want float64
	}{
		{"l2hub_vxlan_remote_sent_datagrams_total", 1},
		{"l2hub_vxlan_remote_received_datagrams_total", 1},
		{"l2hub_vxlan_remote_quiet", 0},
	} {
		if got, ok := sample(fams, tc.name, "port", "ov", "remote", "127.0.0.2"); !ok || got != tc.want {
			t.Errorf("%s{port=ov,remote=127.0.0.2} = %v (found %v), want %v", tc.name, got, ok, tc.want)
		}
	}
	heard, ok := sample(fams, "l2hub_vxlan_remote_last_heard_timestamp_seconds", "port", "ov", "remote", "127.0.0.2")
	if lo, hi := float64(before.UnixNano())/1e9, float64(after.UnixNano())/1e9; !ok || heard < lo-1e-6 || heard > hi+1e-6 {
		t.Errorf("l2hub_vxlan_remote_last_heard_timestamp_seconds = %v (found %v), want between %v and %v", heard, ok, lo, hi)
	}
	if _, ok := sample(fams, "l2hub_vxlan_remote_sent_datagrams_total", "port", "a", "remote", "127.0.0.2"); ok {
		t.Error("port a, a tcp port, has a remote VTEP's series")
	}
}
