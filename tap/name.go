package tap

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"strings"
	"unicode/utf8"
)

// DefaultTAPMAC is the MAC a tap port's device gets when its spec names
// none: locally administered, unicast, and derived from the host's name,
// the network namespace the device is in (as NetnsName names the port's
// netns=), the device's name and the port's name.
// So the host keeps one address across runs of one configuration (ARP
// caches, captures and policies that match src_mac stay valid), while two
// hubs joined in one segment give their "host" ports different addresses:
// on two machines, in two namespaces of one, or with two devices in one.
func DefaultTAPMAC(host, netns, device, port string) net.HardwareAddr {
	sum := sha256.Sum256([]byte("l2hub tap port\x00" + host + "\x00" + netns + "\x00" + device + "\x00" + port))
	mac := net.HardwareAddr(sum[:6])
	mac[0] = mac[0]&^0x01 | 0x02 // unicast, locally administered
	return mac
}

// CheckName returns an error unless name can name a network interface, as
// Linux takes one: 1-15 bytes (IFNAMSIZ less its NUL), no slash, colon or
// whitespace, and not "." or ".."; nor a comma, which a port spec splits
// at. The error says which rule name breaks, and for a character which.
func CheckName(name string) error {
	switch {
	case name == "":
		return errors.New("want a network interface name of 1-15 bytes")
	case len(name) > 15:
		return fmt.Errorf("want a network interface name of 1-15 bytes, not %d", len(name))
	case name == "." || name == "..":
		return fmt.Errorf("%q cannot name a network interface", name)
	}
	if i := strings.IndexAny(name, badNameChars); i >= 0 {
		c, _ := utf8.DecodeRuneInString(name[i:])
		return fmt.Errorf("a network interface name cannot contain %q (no slash, colon, comma or whitespace)", c)
	}
	return nil
}

// badNameChars are the characters CheckName refuses: the kernel's
// (dev_valid_name: '/', ':' and isspace) and the spec's separator.
const badNameChars = "/: \t\n\v\f\r,"
