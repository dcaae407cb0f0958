// Package transporttest holds the suites every transport must pass and the
// fakes they need, as nettest.TestConn does for net.Conn:
//
//   - TestFraming runs the framing suite against one transport given as a
//     MakePair (a hub end and a VM end over real loopback sockets, or in
//     memory): sizes, order, split and coalesced stream writes, bad length
//     prefixes, runts, oversized and foreign datagrams, no loopback of the
//     hub's own frames, close semantics.
//   - TestStreamRunner runs the connection-lifecycle suite against a stream
//     transport's transport.Runner: reattach after a disconnect, busy refusal,
//     redial with backoff, shutdown.
//   - Attacher is a fake hub with hub.Hub's attach rules, which hands each
//     attached PortIO to the test.
//
// Concurrency contract. Attacher is safe for concurrent use (runners attach
// from their own goroutines); an Attachment's IO is then owned by the test.
// The suites start goroutines and wait for them; every wait is bounded by
// HangGuard so that a hang fails the test instead of stalling it.
//
// Imports: hub and transport; only tests import it.
package transporttest
