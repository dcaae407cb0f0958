package control_test

import (
	"bufio"
	"bytes"
	"fmt"
	"maps"
	"net"
	"testing"

	"go.uber.org/goleak"

	"l2hub/internal/nobody"
)

// TestMain fails the tests if a goroutine they started (a server, a
// client's stream) is still running once they are over.
func TestMain(m *testing.M) {
	helpers := maps.Clone(nobody.Attacks)
	helpers["tcp-squat"] = tcpSquat
	nobody.Main(helpers)
	goleak.VerifyTestMain(m)
}

// tcpSquat is a helper (run as nobody) that plays a local user holding a
// loopback port a client takes for its hub's: it listens on
// 127.0.0.1:0, prints "ready ADDR", and for each connection reads until a
// request head's end or EOF, prints "got N bytes", and closes it.
func tcpSquat([]string) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println("listen:", err)
		return 1
	}
	fmt.Println("ready", l.Addr())
	for {
		c, err := l.Accept()
		if err != nil {
			return 1
		}
		var got []byte
		r := bufio.NewReader(c)
		for !bytes.Contains(got, []byte("\r\n\r\n")) {
			b, err := r.ReadByte()
			if err != nil {
				break
			}
			got = append(got, b)
		}
		fmt.Printf("got %d bytes\n", len(got))
		c.Close()
	}
}
