package control_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"testing"
	"time"

	"go.uber.org/goleak"

	"l2hub/control"
	"l2hub/internal/nobody"
)

// TestMain fails the tests if a goroutine they started (a server, a
// client's stream) is still running once they are over.
func TestMain(m *testing.M) {
	helpers := maps.Clone(nobody.Attacks)
	helpers["tcp-squat"] = tcpSquat
	helpers["wait-ready"] = waitReady
	nobody.Main(helpers)
	goleak.VerifyTestMain(m)
}

// waitReady is a helper (run as nobody) that waits for the hub at
// args[0] as l2hub wait --control does, for at most 10 s, and prints
// "ready", or "error: " and the error, with "(timed out)" when the wait
// went on to its end.
func waitReady(args []string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := control.NewClient(args[0], "").WaitReady(ctx, 10*time.Millisecond)
	switch {
	case err == nil:
		fmt.Println("ready")
	case errors.Is(err, context.DeadlineExceeded):
		fmt.Println("error (timed out):", err)
	case errors.Is(err, control.ErrNotYours):
		fmt.Println("error (not yours):", err)
	default:
		fmt.Println("error:", err)
	}
	return 0
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
