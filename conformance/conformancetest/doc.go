// Package conformancetest builds nexus-v1 session bytes for tests: the
// bring-up handshake and records sealed with its keys, as the conformance
// codecs produce them.
//
// A Transcript belongs to the test that made it: one goroutine at a time.
//
// Imports: conformance only; only tests import it.
package conformancetest
