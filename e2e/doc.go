// Package e2e is l2hub's end-to-end suite: real QEMU processes booting tiny
// Linux guests (e2e/guest, agent cmd/l2guest) whose NICs are wired to each
// other directly or through an l2hub subprocess, with marker lines on their
// serial consoles as the verdict. The tests carry the build tag e2e:
//
//	go test -tags e2e -count=1 ./e2e/...
//
// See e2e/README.md for prerequisites, timings and artifacts. Tests skip, with
// the reason, only when the machine lacks something (QEMU, busybox-static,
// cpio, a QEMU option); under L2HUB_E2E_REQUIRE=1 (as .ci/run sets) a
// missing package fails them instead. A missing part of l2hub (a serve
// flag, a command) fails the scenario that exercises it, and so does a
// guest that boots and then fails its checks.
//
// Concurrency: TestMain builds the guest and l2hub once; scenarios run in
// parallel (t.Parallel), each with its own ports, guests and artifact
// directory. When run as root, the whole suite runs in a private network
// namespace so it neither sees nor disturbs other loopback traffic.
//
// Imports: nothing of l2hub; the tests import e2e/qemu, capture (to read a
// lab run's capture) and lab (its summary), and drive cmd/l2hub and
// cmd/l2guest as binaries.
package e2e
