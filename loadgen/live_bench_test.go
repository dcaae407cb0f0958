package loadgen_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"testing"

	"l2hub/hub"
	"l2hub/loadgen"
	"l2hub/loadgen/loadgentest"
)

// BenchmarkDatagramUDP is the dgram framer over loopback UDP, one datagram
// per frame, with at most 64 frames or 64 KiB in flight: more would
// overflow the receiving socket's buffer, and UDP drops what does not fit.
func BenchmarkDatagramUDP(b *testing.B) {
	for _, size := range []int{64, 1500, 9000} {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			n, err := loadgen.Direct{}.Open(context.Background(), loadgen.Scenario{Transport: "udp", Ports: 2, Size: size})
			if err != nil {
				b.Fatal(err)
			}
			defer n.Close()
			frame := make([]byte, size)
			dst, src := loadgen.MAC(1), loadgen.MAC(0)
			copy(frame[0:6], dst[:])
			copy(frame[6:12], src[:])
			binary.BigEndian.PutUint16(frame[12:14], loadgen.EtherType)
			loadgentest.Windowed(b, n.Ports[0], n.Ports[1], frame, min(64, max(1, 64<<10/size)))
		})
	}
}

// BenchmarkLive measures one frame's trip from a VM's StreamConn to the
// other VM's, over loopback TCP: directly, and through the in-process serve
// session with its policy and capture. Each op is one frame; the sender
// keeps at most 64 frames in flight, so nothing is dropped.
func BenchmarkLive(b *testing.B) {
	for _, size := range []int{64, 1500} {
		for _, target := range []loadgen.Target{
			loadgen.Direct{},
			&loadgen.Hub{Mode: hub.ModeSwitch},
			&loadgen.Hub{Mode: hub.ModeSwitch, Policy: true},
			&loadgen.Hub{Mode: hub.ModeSwitch, Policy: true, Capture: true},
		} {
			b.Run(fmt.Sprintf("%s/%dB", target.Name(), size), func(b *testing.B) {
				n, err := target.Open(context.Background(), loadgen.Scenario{Transport: "tcp", Size: size, Ports: 2})
				if err != nil {
					b.Fatal(err)
				}
				defer n.Close()
				loadgentest.Windowed(b, n.Ports[0], n.Ports[1], benchFrame(size), 64)
			})
		}
	}
}

// benchFrame is a frame of size bytes from VM 0 to VM 1.
func benchFrame(size int) []byte {
	f := make([]byte, size)
	dst, src := loadgen.MAC(1), loadgen.MAC(0)
	copy(f[0:6], dst[:])
	copy(f[6:12], src[:])
	binary.BigEndian.PutUint16(f[12:14], loadgen.EtherType)
	return f
}
