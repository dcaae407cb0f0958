// Package netstack is an in-process IPv4 host for a hub port: a gVisor
// network stack (ARP, IPv4, ICMP echo, TCP, UDP) behind a hub.PortIO that
// speaks whole Ethernet frames, with helpers that hand callers ordinary
// net.Conn, net.Listener and net.PacketConn values. It is what a virtual
// peer (the DSoftBus node, probes, demos) runs on when there is no VM.
//
// Concurrency contract. A Host follows hub.PortIO: one goroutine calls
// ReadFrame, one calls WriteFrame (the stack processes an inbound frame on
// the caller's goroutine before WriteFrame returns), and Close may be
// called from any goroutine. The helpers (DialTCP, ListenTCP, ListenUDP,
// Ping) and the connections they return are safe for concurrent use, as the
// standard library's are. The stack takes its time from Config.Clock (the
// wall clock by default): on a hub.VirtualClock driven by internal/vsim, a
// host runs in virtual time, deterministically with a seeded Config.Rand.
// gVisor logs through one logger per process; LogTo points it at a
// command's slog logger.
//
// Imports: hub only (gVisor's tcpip is the stack).
package netstack
