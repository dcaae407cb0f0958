// Package packet is l2hub's one parser of frame headers: Parse reads an
// Ethernet frame (up to two VLAN tags), IPv4 or IPv6 (walking the
// hop-by-hop, routing, destination-options and fragment extension
// headers), and TCP or UDP into Headers, offsets and fields, without
// allocating. The policy's matchers and impairments (filter), the
// conformance checker and replay's address rewriter all read frames
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
