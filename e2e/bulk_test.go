//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// bulkBytes is what TestBulkTransfer moves each way: 32 MiB out and back.
const bulkBytes = 32 << 20

// envStrictTiming makes TestBulkTransfer fail, not only report, when the
// transfer through the hub takes more than 10% longer than over a direct
// socket pair. Wall-clock comparisons fail by chance on a shared machine,
// so by default the figures are logged and the test asserts what holds
// under any load.
const envStrictTiming = "L2HUB_E2E_STRICT_TIMING"

// TestBulkTransfer moves 32 MiB each way over TCP between two guests, once
// over a direct socket pair and once through l2hub, in the same test: the
// hub delivers every byte (the SHA-256 both guests print agree) with no drop
// of any kind on any port, and backpressure does not slow real guests (the
// guests' own timings are logged side by side).
func TestBulkTransfer(t *testing.T) {
	requireGuests(t)
	requireHub(t)
	run := []string{"tcp"}
	bytes := fmt.Sprintf("l2.bytes=%d", bulkBytes)
	transfer := func(t *testing.T, na, nb string, listening func()) time.Duration {
		ca, cb := pair(na, nb, run...)
		ca.Args = append(ca.Args, bytes)
		cb.Args = append(cb.Args, bytes)
		ca.Log, cb.Log = t.Name()+"-a.log", t.Name()+"-b.log"
		a := bootGuest(t, ca)
		if listening != nil {
			listening() // QEMU 7.2 never retries a failed connect
		}
		b := bootGuest(t, cb)
		waitAll(t, "GUEST: up", bootTimeout, a, b)
		lines := waitAll(t, "GUEST: tcp ok", checkTimeout, a, b)
		checkTCPHashes(t, lines)
		if got := field(lines[1].Text, "bytes"); got != strconv.Itoa(bulkBytes) {
			t.Fatalf("the sender moved %s bytes, want %d: %s", got, bulkBytes, lines[1].Text)
		}
		waitAll(t, "GUEST: done ok", checkTimeout, a, b)
		waitExit(t, hubTimeout, a, b)
		ms, err := strconv.Atoi(field(lines[1].Text, "ms"))
		if err != nil {
			t.Fatalf("no ms= in %q", lines[1].Text)
		}
		return time.Duration(ms) * time.Millisecond
	}

	// One after the other, not side by side: two TCG guests each take a
	// core, and a third pair would only measure the contest for them.
	p := freePort(t)
	direct := transfer(t, fmt.Sprintf("socket,listen=127.0.0.1:%d", p), fmt.Sprintf("socket,connect=127.0.0.1:%d", p),
		func() { waitTCPListen(t, p, hubTimeout) })

	pa, pb := tcpAttach(t, "a"), tcpAttach(t, "b")
	h := startHub(t, HubConfig{Ports: []Attach{pa, pb}, NoCapture: true})
	hubbed := transfer(t, pa.Netdev, pb.Netdev, nil)
	ports := h.Ctl("ports")
	h.Stop()
	if drops := dropCounts(ports); len(drops) > 0 {
		t.Errorf("the hub dropped frames: %v\n%s", drops, ports)
	}

	ratio := float64(hubbed) / float64(direct)
	t.Logf("32 MiB each way: direct pair %v, through l2hub %v (%.2fx); ctl ports:\n%s", direct, hubbed, ratio, ports)
	if ratio > 1.10 {
		msg := fmt.Sprintf("through l2hub the transfer took %.2fx as long as over a direct pair (%v vs %v), more than 1.10x", ratio, hubbed, direct)
		if os.Getenv(envStrictTiming) != "" {
			t.Error(msg)
		} else {
			t.Log(msg + " (reported only; set " + envStrictTiming + "=1 to fail on it)")
		}
	}
}

// dropReason matches one DROPS entry of ctl ports: "queue-full=12".
var dropReason = regexp.MustCompile(`\b([a-z]+(?:-[a-z]+)*)=(\d+)\b`)

// dropCounts returns every drop counter ctl ports shows, by "port reason".
func dropCounts(ports string) map[string]int {
	out := map[string]int{}
	for _, m := range dropReason.FindAllStringSubmatch(ports, -1) {
		n, _ := strconv.Atoi(m[2])
		out[m[1]] += n
	}
	return out
}
