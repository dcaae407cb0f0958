// Package archtest holds no code, only tests that keep the module's
// architecture as documented. For every package of the module it checks
// that doc.go holds the package's one package comment, that the comment's
// Imports line names exactly the l2hub packages the package's non-test
// files import, and that the README's dependency rule holds: nothing under
// hub/ imports an l2hub package outside hub/ (hub itself imports none).
// And it keeps the determinism contract: no non-test file of hub, filter,
// capture, conformance, replay, internal/vsim or transport/netstack
// (hub/hubtest and the other *test helper packages included) reads the
// wall clock (time.Now, time.Sleep, timers and tickers, a context's
// WithTimeout or WithDeadline, internal/wallclock, a dot-imported time or
// context), the global random stream (math/rand, math/rand/v2's top-level
// functions), crypto/rand or hash/maphash (seeded at random); they take a
// hub.Clock and seeded streams. The few findings made on purpose (a
// wall-clock default for a live run, replay's injection into a running
// hub) are allowed one by one, as a file and the import or call it may
// make, with the reason; any other finding in that file is still reported.
// What a package leaves to a library is out of sight: a netstack host
// without Config.Clock or Config.Rand gets gVisor's wall clock and
// crypto/rand, and nothing here sees it. Map iteration order and a select
// among several ready channels are not checked either: a range over a map
// must sort or not depend on the order, a select must not decide what is
// recorded, and review keeps it so.
//
// The Imports line. A line of the package comment starts with "Imports:";
// what follows, up to the first ";" or sentence-ending "." outside
// parentheses, is either "nothing of l2hub" or a list of package paths
// relative to the module ("hub", "internal/shell", "conformance/checker"),
// separated by ", " or " and ", each optionally followed by a remark in
// parentheses that says why; the list may end with "only". Whatever comes
// after the ";" or "." is free text (other modules, who imports the
// package) and is not read:
//
//	Imports: hub (the PortIO contract), tap and internal/wallclock; besides
//	them netlink and netns.
//	Imports: hub (for its Clock) only.
//
// A file counts as non-test if its name does not end in _test.go and it is
// built for some GOOS and GOARCH, with or without cgo and the e2e and race
// tags: the union over every platform, so a Linux-only file's imports
// count as much as a portable one's.
//
// Imports: nothing of l2hub.
package archtest
