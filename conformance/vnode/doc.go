// Package vnode puts a virtual DSoftBus node inside the hub: a gVisor
// netstack host (transport/netstack) with the role's MAC and address, attached to a
// hub port like any VM, running the conformance package's node logic. One
// real VM can then prove its discovery, handshake, mux ladder and first
// proxy exchanges (samgrd resolve, bundle list) against it; the virtual
// node-b models no statefsd or packagefsd, so a real node-a's remote
// statefs and packagefs selftest steps fail against it.
//
// A Node is safe for concurrent use: Run on one goroutine, the host's
// ReadFrame/WriteFrame on the hub's reader and writer.
//
// Imports: conformance, hub, transport/netstack and internal/wallclock.
package vnode
