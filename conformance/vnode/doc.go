// Package vnode puts a virtual DSoftBus node inside the hub: a gVisor
// netstack host (transport/netstack) with the role's MAC and address, attached to a
// hub port like any VM, running the conformance package's node logic. One
// real VM can then prove its cross-VM path against a faithful peer.
//
// A Node is safe for concurrent use: Run on one goroutine, the host's
// ReadFrame/WriteFrame on the hub's reader and writer.
//
// Imports: conformance, hub, transport/netstack and internal/wallclock.
package vnode
