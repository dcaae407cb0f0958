package serve_test

import (
	"fmt"
	"net"
	"slices"
	"testing"

	"l2hub/hub"
	"l2hub/internal/promtest"
	"l2hub/serve"
	"l2hub/transport"
)

// TestDropSeriesFollowTheTransport: a port exports l2hub_port_drops_total
// for the reasons its transport can give, not for every reason: the VXLAN
// ones only on a VXLAN port, a stranger's datagram and the kernel's
// overflow only where there is a socket buffer to overflow.
func TestDropSeriesFollowTheTransport(t *testing.T) {
	vm, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer vm.Close()
	ov := freeUDPPort(t)
	spec, err := transport.ParseSpec(fmt.Sprintf("v=vxlan:%s,remote=127.0.0.2,vni=42", ov))
	if err != nil {
		t.Fatal(err)
	}
	cfg := serve.Config{Mode: hub.ModeHub, Control: "off", Ports: []transport.Spec{
		{Name: "s", Transport: transport.TCP, Address: "127.0.0.1:0"},
		{Name: "u", Transport: transport.UDP, Address: "127.0.0.1:0", Peer: vm.LocalAddr().String()},
		spec,
	}}
	sess := startSession(t, cfg, nil)
	got := promtest.LabelsBy(t, sess.Registry(), "l2hub_port_drops_total", "port", "reason")
	vxlanOnly := []string{"bad-encap", "other-vni", "own-echo"}
	for _, tc := range []struct {
		port       string
		has, lacks []string
	}{
		{"s", []string{"policy", "port-down", "runt", "stalled", "queue-full"}, append([]string{"foreign-source", "kernel-overflow"}, vxlanOnly...)},
		{"u", []string{"policy", "port-down", "foreign-source", "kernel-overflow"}, vxlanOnly},
		{"v", append([]string{"policy", "foreign-source", "kernel-overflow"}, vxlanOnly...), nil},
	} {
		for _, r := range tc.has {
			if !slices.Contains(got[tc.port], r) {
				t.Errorf("port %s: got reasons %v, want %s among them", tc.port, got[tc.port], r)
			}
		}
		for _, r := range tc.lacks {
			if slices.Contains(got[tc.port], r) {
				t.Errorf("port %s: got reasons %v, want no %s (its transport cannot give it)", tc.port, got[tc.port], r)
			}
		}
	}
}

// TestDropReasonsPerTransport: the reasons pre-declared for each transport
// are those it can give: a stranger's datagram only where a port has one
// peer (udp, unixgram, vxlan), not on mcast, whose group anyone may send to
// (it skips only its own echo); the kernel's overflow where a socket or a
// tun queue can overflow; the VXLAN ones on VXLAN alone.
func TestDropReasonsPerTransport(t *testing.T) {
	vxlanOnly := []string{"bad-encap", "other-vni", "own-echo"}
	for _, tc := range []struct {
		t          transport.Transport
		has, lacks []string
	}{
		{transport.TCP, []string{"policy", "runt"}, append([]string{"foreign-source", "kernel-overflow"}, vxlanOnly...)},
		{transport.UDP, []string{"foreign-source", "kernel-overflow"}, vxlanOnly},
		{transport.Unixgram, []string{"foreign-source", "kernel-overflow"}, vxlanOnly},
		{transport.Mcast, []string{"policy", "kernel-overflow"}, append([]string{"foreign-source"}, vxlanOnly...)},
		{transport.TAP, []string{"kernel-overflow"}, append([]string{"foreign-source"}, vxlanOnly...)},
		{transport.VXLAN, append([]string{"foreign-source", "kernel-overflow"}, vxlanOnly...), nil},
	} {
		var got []string
		for _, r := range serve.DropReasons(tc.t) {
			got = append(got, r.String())
		}
		for _, r := range tc.has {
			if !slices.Contains(got, r) {
				t.Errorf("got DropReasons(%s) = %v, want %s among them", tc.t, got, r)
			}
		}
		for _, r := range tc.lacks {
			if slices.Contains(got, r) {
				t.Errorf("got DropReasons(%s) = %v, want no %s (it cannot give it)", tc.t, got, r)
			}
		}
	}
}
