// Package tap puts a host network interface on the segment: a Linux TAP
// device ([TAPDevice], opened by [OpenTAP]) as a hub port, optionally in a
// network namespace that it creates, enters and removes again. What the
// kernel sends out of the interface reaches the hub, and what the hub
// delivers arrives on it, so host tools (ping, curl, tcpdump) talk to the
// VMs through the policy and the capture. See TAP.md.
//
// A TAPDevice is a [hub.PortIO]: one goroutine reads, one writes, Close may
// come from any goroutine and undoes what OpenTAP did. Transports that
// reach a port through a socket are in package transport, whose tap port
// runner opens the device here.
//
// The device is attached with TUNSETIFF on a descriptor of /dev/net/tun
// opened close-on-exec, through golang.org/x/sys/unix, not through
// songgao/water: water opens it without close-on-exec (every QEMU a lab
// starts would hold the device) and leaks the descriptor when an attach
// fails, and it has not changed since 2020.
//
// Imports: hub only (for the PortIO contract); besides it netlink, netns
// and x/sys/unix.
package tap
