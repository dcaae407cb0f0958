// Package packet is l2hub's one parser of frame headers: Parse reads an
// Ethernet frame (up to two VLAN tags), IPv4 or IPv6 (walking the
// hop-by-hop, routing, destination-options and fragment extension
// headers), and TCP or UDP into Headers, offsets and fields, without
// allocating. ARP, ICMPv4 and ICMPv6 are views of those payloads,
// ParseQuoted reads the IP header (and what follows) that an ICMP error
// quotes, and AddrBytes the addresses as the header holds them. The
// policy's matchers and impairments (filter), the conformance checker,
// replay's address rewriter and the report's labels all read frames
// through it; ChecksumsOK, Checksum and UpdateChecksum are the Internet
// checksum as they need it.
//
// It builds on gVisor's header views (gvisor.dev/gvisor/pkg/tcpip/header)
// and checksum package, zero-copy accessors over the frame's bytes, and
// checks every length before it reads: a frame is untrusted input (see
// FuzzParse).
//
// Concurrency: Parse and the functions are pure; a Headers is a value.
// Imports: nothing of l2hub.
package packet
