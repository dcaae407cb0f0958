//go:build !linux

package main

import (
	"context"
	"errors"
	"net"
)

// setupNet needs Linux netlink; the agent only ever runs in a Linux guest.
func setupNet(context.Context, Config) (net.HardwareAddr, error) {
	return nil, errors.New("l2guest configures the NIC on Linux only")
}
