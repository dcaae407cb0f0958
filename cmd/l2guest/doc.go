// Command l2guest is the agent inside l2hub's end-to-end test guests (see
// e2e/README.md). The guest's /init (e2e/guest/init.sh) loads the NIC
// modules and runs it; l2guest reads its settings from the kernel command
// line (l2.ip=, l2.peer=, l2.run=, ...), configures the NIC over netlink,
// runs the requested checks over the guest kernel's own network stack and
// prints one marker line per check on the console:
//
//	GUEST: up ip=10.0.0.1/24 mac=52:54:00:00:00:01 uptime=2.31
//	GUEST: ping ok 10.0.0.2 3/3 rtt=0.61/0.84/1.02ms
//	GUEST: tcp ok bytes=1048576 ms=412 sha256=9c1e…
//	GUEST: done ok
//
// The host side (package l2hub/e2e) waits for these lines. l2guest exits 0
// once it has printed its "GUEST: done" line, whatever the verdict; any other
// exit means it could not get that far, and /init reports it.
//
// Concurrency: checks run one after another on the main goroutine; a check
// may start goroutines of its own but joins them before it returns. Console
// output goes through one mutex so marker lines never interleave.
//
// Imports: conformance (the node) and internal/wallclock; besides them
// netlink and gVisor's checksum package. The guest binary is built static.
package main
