//go:build linux

package transport_test

import (
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"

	"l2hub/transport"
)

// TestOpenWildcardShowsItsFamily binds tcp and udp ports on the IPv4 and
// IPv6 wildcards, in a network namespace of its own (a wildcard binds
// every interface; there only loopback). Go binds 0.0.0.0 dual-stack and
// reports [::]; the bound spec must still say 0.0.0.0 (the ready line, the
// banner) and give the VM 127.0.0.1, which reaches it, while [::] stays
// [::] and gives ::1.
func TestOpenWildcardShowsItsFamily(t *testing.T) {
	transport.InOwnNetns(t, "", wildcardPorts)
}

// wildcardPorts runs in a network namespace of its own (InOwnNetns) and
// checks each port there.
func wildcardPorts(*netlink.Handle) error {
	cases := []struct {
		spec, prefix, host string
		legacy             bool // QEMU's older socket spelling is offered
	}{
		{"link=tcp:0.0.0.0:0", "0.0.0.0:", "127.0.0.1", true},
		{"u=udp:0.0.0.0:0,peer=127.0.0.1:7104", "0.0.0.0:", "127.0.0.1", true},
	}
	if ln, err := net.Listen("tcp6", "[::1]:0"); err == nil {
		ln.Close()
		cases = append(cases, struct {
			spec, prefix, host string
			legacy             bool
		}{"v6=tcp:[::]:0", "[::]:", "::1", false})
	}
	for _, tc := range cases {
		if err := wildcardPort(tc.spec, tc.prefix, tc.host, tc.legacy); err != nil {
			return fmt.Errorf("%s: %w", tc.spec, err)
		}
	}
	return nil
}

func wildcardPort(text, prefix, host string, legacy bool) error {
	spec, err := transport.ParseSpec(text)
	if err != nil {
		return err
	}
	r, err := spec.Open(transport.Options{})
	if err != nil {
		return err
	}
	defer r.Close()
	bound := r.Spec()
	port := strings.TrimPrefix(bound.Address, prefix)
	if !strings.HasPrefix(bound.Address, prefix) || port == "0" || strings.Contains(port, ":") {
		return fmt.Errorf("bound address %q, want %sPORT with the port the system chose", bound.Address, prefix)
	}
	args := bound.QEMUArgs("n0")
	if len(args) == 0 || !strings.Contains(args[0], "host="+host+",") {
		return fmt.Errorf("QEMU flags %q, want the VM sent to %s", args, host)
	}
	if legacy != (len(args) == 2) {
		return fmt.Errorf("QEMU flags %q: legacy spelling offered %v, want %v", args, len(args) == 2, legacy)
	}
	if bound.Transport == transport.TCP { // what the flags name reaches the port
		c, err := net.Dial("tcp", net.JoinHostPort(host, port))
		if err != nil {
			return fmt.Errorf("dial %s, as the QEMU flags say: %w", net.JoinHostPort(host, port), err)
		}
		c.Close()
	}
	return nil
}
