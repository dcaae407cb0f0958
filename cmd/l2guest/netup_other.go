//go:build !linux

package main

import (
	"context"
	"errors"
	"net"
	"syscall"
)

// reuseAddr leaves the socket's options alone off Linux.
func reuseAddr(string, string, syscall.RawConn) error { return nil }

// setupNet needs Linux netlink; the agent only ever runs in a Linux guest.
func setupNet(context.Context, Config) (net.HardwareAddr, error) {
	return nil, errors.New("l2guest configures the NIC on Linux only")
}
