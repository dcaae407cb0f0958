//go:build e2e

package e2e

import (
	"fmt"
	"testing"
)

// fullRun is every generic check: both directions of ping, multicast and
// broadcast gossip, UDP echo across the MTU, and 1 MiB over TCP with its
// SHA-256 compared.
var fullRun = []string{"ping", "mcast", "bcast", "udp", "tcp"}

// TestWire boots two guests wired straight to each other, without l2hub, on
// each QEMU back end the hub must speak. It proves the guest, the agent and
// the harness, and is the baseline the hub scenarios are compared with.
func TestWire(t *testing.T) {
	requireGuests(t)
	tests := []struct {
		name string
		// wire returns the two netdevs and, when b must connect to a
		// listening a, a function that waits for a to listen.
		wire func(t *testing.T) (na, nb string, listening func())
	}{
		{"socket-tcp", func(t *testing.T) (string, string, func()) {
			p := freePort(t)
			return fmt.Sprintf("socket,listen=127.0.0.1:%d", p),
				fmt.Sprintf("socket,connect=127.0.0.1:%d", p),
				func() { waitTCPListen(t, p, hubTimeout) }
		}},
		{"stream-unix", func(t *testing.T) (string, string, func()) {
			s := sockPath(t, "wire")
			return "stream,server=on,addr.type=unix,addr.path=" + s,
				"stream,server=off,addr.type=unix,addr.path=" + s,
				func() { waitUnixListen(t, s, hubTimeout) }
		}},
		{"dgram-udp", func(t *testing.T) (string, string, func()) {
			pa, pb := freePort(t), freePort(t)
			f := "dgram,local.type=inet,local.host=127.0.0.1,local.port=%d,remote.type=inet,remote.host=127.0.0.1,remote.port=%d"
			return fmt.Sprintf(f, pa, pb), fmt.Sprintf(f, pb, pa), nil
		}},
		{"socket-mcast", func(t *testing.T) (string, string, func()) {
			n := fmt.Sprintf("socket,mcast=230.0.0.1:%d,localaddr=127.0.0.1", freePort(t))
			return n, n, nil
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			na, nb, listening := tt.wire(t)
			ca, cb := pair(na, nb, fullRun...)
			a := bootGuest(t, ca)
			if listening != nil {
				listening() // QEMU 7.2 never retries a failed connect
			}
			b := bootGuest(t, cb)
			expectChecks(t, fullRun, a, b)
		})
	}
}
