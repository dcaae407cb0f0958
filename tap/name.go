package tap

import (
	"crypto/sha256"
	"errors"
	"net"
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

// errName is CheckName's answer: what Linux takes as an interface name.
var errName = errors.New("want a network interface name of 1-15 characters")

// CheckName returns an error unless name can name a network interface:
// 1-15 bytes (IFNAMSIZ), no slash, whitespace, colon or comma, and not "."
// or "..".
func CheckName(name string) error {
	if name == "" || len(name) > 15 || strings.ContainsAny(name, "/ \t\n:,") || name == "." || name == ".." {
		return errName
	}
	return nil
}
