package tap

import (
	"crypto/sha256"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// DefaultTAPMAC is the MAC a tap port's device gets when its spec names
// none: locally administered, unicast, and derived from the port name, so
// that the host keeps one address across runs (ARP caches, captures and
// policies that match src_mac stay valid).
func DefaultTAPMAC(port string) net.HardwareAddr {
	sum := sha256.Sum256([]byte("l2hub tap port " + port))
	mac := net.HardwareAddr(sum[:6])
	mac[0] = mac[0]&^0x01 | 0x02 // unicast, locally administered
	return mac
}

// HostNote says, for a port with no QEMU back end (QEMUArgs is nil), what
// it is and how to use it, for the banner that would otherwise print QEMU
// flags; "" for every other port:
//
//	host interface l2h0 (02:8e:1f:6a:31:c0, 10.42.0.1/24): use it from the host
//	host interface l2h0 in netns lab (...): ip netns exec lab COMMAND
func (s Spec) HostNote() string {
	if s.Validate() != nil {
		return ""
	}
	if s.Transport == VXLAN {
		return vxlanNote(s)
	}
	if s.Transport != TAP {
		return ""
	}
	var details []string
	for _, k := range []string{"mac", "ip"} {
		if v := s.Options[k]; v != "" {
			details = append(details, v)
		}
	}
	note := "host interface " + s.Address
	ns := s.Options["netns"]
	if ns != "" {
		note += " in netns " + ns
	}
	if len(details) > 0 {
		note += " (" + strings.Join(details, ", ") + ")"
	}
	switch {
	case ns == "":
		return note + ": use it from the host"
	case strings.Contains(ns, "/"):
		return note + ": nsenter --net=" + ns + " COMMAND"
	}
	return note + ": ip netns exec " + ns + " COMMAND"
}

// vxlanNote says what a vxlan port reaches and what the VMs' MTU must be.
func vxlanNote(s Spec) string {
	mtu := defaultVXLANMTU
	if m, err := strconv.Atoi(s.Options["mtu"]); err == nil {
		mtu = m
	}
	peers := "VTEPs " + strings.Join(s.Options.Values("remote"), ", ")
	if g := s.Options["group"]; g != "" {
		peers = "the VTEPs of group " + g
	}
	return fmt.Sprintf("VXLAN VNI %s with %s; VMs on this segment need an MTU of at most %d (QEMU: -device virtio-net-pci,...,host_mtu=%d)",
		s.Options["vni"], peers, mtu-VXLANGuestMTUOverhead, mtu-VXLANGuestMTUOverhead)
}
