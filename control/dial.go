package control

import (
	"context"
	"fmt"
)

// AddrForms is what the --control flag of the commands that dial the
// control API takes.
func AddrForms() string {
	return "a socket path (with a '/' or a .sock suffix, or unix:PATH) or tcp:HOST:PORT, as the hub's banner or ready file gives it (default " + DefaultAddr() + ")"
}

// CheckAddrFlag refuses a --control value that only looks like an
// address (CheckDialAddr): 127.0.0.1:7291 without tcp: would dial a
// socket file of that name, and off names no hub.
func CheckAddrFlag(addr string) error {
	if err := CheckDialAddr(addr); err != nil {
		return fmt.Errorf("--control: %w", err)
	}
	return nil
}

// Dial is the client of the hub a --control flag and its token flags
// name: the address checked first (CheckAddrFlag), then the token read,
// which ctx ends if it blocks (a FIFO no one writes).
func Dial(ctx context.Context, addr string, tf *TokenFlags) (*Client, error) {
	if err := CheckAddrFlag(addr); err != nil {
		return nil, err
	}
	token, err := tf.TokenContext(ctx)
	if err != nil {
		return nil, err
	}
	return NewClient(addr, token), nil
}
