package loadgen_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"testing"

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
