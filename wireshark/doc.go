// Package wireshark carries l2hub's Wireshark dissector for open-nexus-OS's
// wire protocol (nexus.lua) and installs it where Wireshark looks for
// personal Lua plugins.
//
// The dissector decodes the NXSB discovery announce on UDP 37020 (and any
// UDP datagram that starts with "NXSB" 01), and the session on TCP 34567 and
// 34568: the nexus-v1 handshake (32/96/64-byte messages, no framing), its
// fixed-size records, which it decrypts and authenticates with the bring-up
// keys, and the length-prefixed noise-xk-std profile. Expert infos flag
// what the OS would reject (mux batches, ladder steps, node-b's proxy gate,
// node-a's verdicts) in the words of the conformance checker, which the
// tests run on the same captures. A direction whose SYN the capture missed,
// and the peer's SYN-ACK too, is marked, not decoded. It needs Wireshark or
// tshark 3.x or later, built with Lua.
//
// Concurrency: PersonalDir and Install are safe for concurrent use; Install
// replaces the file atomically.
//
// Imports: internal/atomicfile (the file written whole).
package wireshark
