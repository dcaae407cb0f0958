//go:build e2e

package e2e

import (
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"l2hub/e2e/qemu"
)

// TestHubStream is scenario 1 of issue 7: two guests attached to l2hub over
// stream sockets ping each other both ways, deliver a broadcast and a
// multicast datagram, echo UDP across the MTU and move 1 MiB over TCP with
// its SHA-256 checked.
func TestHubStream(t *testing.T) {
	requireGuests(t)
	requireHub(t)
	tests := []struct {
		name   string
		attach func(t *testing.T) (a, b Attach)
	}{
		// a uses QEMU's legacy socket,connect= spelling, b the stream one.
		{"tcp", func(t *testing.T) (Attach, Attach) { return tcpAttach(t, "a"), streamAttach(t, "b") }},
		{"unix", func(t *testing.T) (Attach, Attach) { return unixAttach(t, "a"), unixAttach(t, "b") }},
		// The netdevs are the ones `l2hub qemu-args --env` prints, as the
		// OS's two-VM harness would take them (NETDEV_A, NETDEV_B).
		{"qemu-args", func(t *testing.T) (Attach, Attach) {
			a, b := tcpAttach(t, "a"), unixAttach(t, "b")
			env := qemuArgsEnv(t, a.Hub, b.Hub)
			a.Netdev, b.Netdev = env["NETDEV_A"], env["NETDEV_B"]
			return a, b
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pa, pb := tt.attach(t)
			h := startHub(t, HubConfig{Ports: []Attach{pa, pb}})
			ca, cb := pair(pa.Netdev, pb.Netdev, fullRun...)
			a, b := bootGuest(t, ca), bootGuest(t, cb)
			expectChecks(t, fullRun, a, b)
			h.Stop()
			checkCapture(t, h, "icmp", "tcp.len > 0", "ip.dst == 239.255.0.1", "ip.dst == 255.255.255.255")
		})
	}
}

// qemuArgsEnv runs `l2hub qemu-args --env` for ports and returns its
// NETDEV_<PORT> values as -netdev values without the id (the harness adds
// id=n0 itself).
func qemuArgsEnv(t *testing.T, ports ...string) map[string]string {
	t.Helper()
	args := []string{"qemu-args", "--env"}
	for _, p := range ports {
		args = append(args, "--port", p)
	}
	out, err := exec.Command(suite.Hub, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("l2hub %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	env := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		k, v, ok := strings.Cut(line, "=")
		if !ok || !strings.HasPrefix(k, "NETDEV_") {
			continue
		}
		v = strings.Trim(v, "'")
		v = strings.TrimPrefix(v, "-netdev ")
		parts := strings.Split(v, ",")
		keep := parts[:0]
		for _, p := range parts {
			if p != "id=n0" {
				keep = append(keep, p)
			}
		}
		env[k] = strings.Join(keep, ",")
	}
	if len(env) != len(ports) {
		t.Fatalf("got %d NETDEV_ lines from l2hub %s, want %d:\n%s", len(env), strings.Join(args, " "), len(ports), out)
	}
	return env
}

// TestHubMixed is scenario 2: one segment, three QEMU back ends. Guest a
// is on -netdev dgram (UDP), b on the socket multicast back end (the hub
// joins the group), c on stream; every guest pings the other two and hears
// their multicast and broadcast datagrams; a and b also move 1 MiB over TCP.
func TestHubMixed(t *testing.T) {
	requireGuests(t)
	requireHub(t)
	t.Parallel()
	pa, pb, pc := dgramAttach(t, "a"), mcastAttach(t, "b", "230.0.0.1"), tcpAttach(t, "c")
	h := startHub(t, HubConfig{Ports: []Attach{pa, pb, pc}})
	ips := []string{"10.0.0.1", "10.0.0.2", "10.0.0.3"}
	others := func(i int) []string {
		var p []string
		for j, ip := range ips {
			if j != i {
				p = append(p, ip)
			}
		}
		return p
	}
	run := []string{"ping", "mcast", "bcast"}
	a := bootGuest(t, GuestConfig{Name: "a", IP: ips[0] + "/24", MAC: "52:54:00:00:00:01", Peers: others(0),
		Role: "a", Run: append(run, "tcp"), Netdev: pa.Netdev})
	b := bootGuest(t, GuestConfig{Name: "b", IP: ips[1] + "/24", MAC: "52:54:00:00:00:02",
		// tcp dials the first peer: a.
		Peers: others(1), Role: "b", Run: append(run, "tcp"), Netdev: pb.Netdev})
	c := bootGuest(t, GuestConfig{Name: "c", IP: ips[2] + "/24", MAC: "52:54:00:00:00:03", Peers: others(2),
		Run: run, Netdev: pc.Netdev})
	waitAll(t, "GUEST: up", bootTimeout, a, b, c)
	for _, check := range run {
		lines := waitAll(t, "GUEST: "+check+" ok", checkTimeout, a, b, c)
		for i, l := range lines {
			for _, peer := range others(i) {
				if !strings.Contains(l.Text, peer) {
					t.Errorf("got %q, want it to name peer %s", l.Text, peer)
				}
			}
		}
	}
	checkTCPHashes(t, waitAll(t, "GUEST: tcp ok", checkTimeout, a, b))
	waitAll(t, "GUEST: done ok", checkTimeout, a, b, c)
	waitExit(t, hubTimeout, a, b, c)
	h.Stop()
	checkCapture(t, h, "icmp", "ip.dst == 239.255.0.1")
}

// TestHubRestart is scenario 6: QEMU 7.2 never redials, so the guests
// listen (stream,server=on) and the hub dials. Killing l2hub cuts them off;
// the restarted hub dials again and traffic resumes on the same ports.
func TestHubRestart(t *testing.T) {
	requireGuests(t)
	requireHub(t)
	t.Parallel()
	pa, pb := dialAttach(t, "a"), dialAttach(t, "b")
	ca, cb := pair(pa.Netdev, pb.Netdev, "resume")
	a, b := bootGuest(t, ca), bootGuest(t, cb)
	h := startHub(t, HubConfig{Ports: []Attach{pa, pb}})
	waitAll(t, "GUEST: resume watching", bootTimeout+checkTimeout, a, b)
	h.Kill()
	waitAll(t, "GUEST: resume lost", checkTimeout, a, b)
	h.Restart()
	lines := waitAll(t, "GUEST: resume ok", checkTimeout, a, b)
	for _, l := range lines {
		if field(l.Text, "outage") == "" {
			t.Errorf("got %q, want an outage=… field", l.Text)
		}
	}
	waitAll(t, "GUEST: done ok", checkTimeout, a, b)
}

// TestHubReattach is the other half of scenario 6: a VM that goes away and
// comes back (a new QEMU process on the same port, as after a reboot with
// -no-reboot) is accepted again and reaches its peer; twice, once after a
// clean power-off and once after QEMU was killed.
func TestHubReattach(t *testing.T) {
	requireGuests(t)
	requireHub(t)
	t.Parallel()
	pa, pb := tcpAttach(t, "a"), unixAttach(t, "b")
	h := startHub(t, HubConfig{Ports: []Attach{pa, pb}})
	// a stays up for the whole test, answering pings (the kernel does).
	ca, cb := pair(pa.Netdev, pb.Netdev, "sleep600")
	ca.Args = []string{"l2.sync=0"}
	a := bootGuest(t, ca)
	waitMarker(t, a, "GUEST: up", bootTimeout)

	cb.Run, cb.Args = []string{"ping"}, []string{"l2.sync=0"}
	for i, how := range []string{"power-off", "killed", "again"} {
		cb.Log = fmt.Sprintf("b-%d.log", i+1)
		b := bootGuest(t, cb)
		l := waitMarker(t, b, "GUEST: ping ok", bootTimeout+checkTimeout)
		t.Logf("boot %d of b (previous one %s) reached a: %s", i+1, how, l.Text)
		if how == "killed" {
			b.Kill()
			continue
		}
		waitMarker(t, b, "GUEST: done ok", checkTimeout)
		waitExit(t, hubTimeout, b)
	}
	a.Kill()
	h.Stop()
}

// TestHubReboot is the in-place half of scenario 6's "a guest that reboots
// reattaches to its port": b reboots inside the same QEMU (no -no-reboot,
// l2.exit=reboot), so its NIC is reset and re-initialised by a new kernel
// while QEMU's netdev stays connected to the hub, and b must reach a again
// after the first boot's "GUEST: done ok".
func TestHubReboot(t *testing.T) {
	requireGuests(t)
	requireHub(t)
	t.Parallel()
	pa, pb := tcpAttach(t, "a"), unixAttach(t, "b")
	h := startHub(t, HubConfig{Ports: []Attach{pa, pb}})
	ca, cb := pair(pa.Netdev, pb.Netdev, "sleep600")
	ca.Args = []string{"l2.sync=0"}
	cb.Run, cb.Args, cb.Reboot = []string{"ping"}, []string{"l2.sync=0"}, true
	a, b := bootGuest(t, ca), bootGuest(t, cb)
	waitMarker(t, a, "GUEST: up", bootTimeout)
	waitMarker(t, b, "GUEST: ping ok", bootTimeout+checkTimeout)
	done := waitMarker(t, b, "GUEST: done ok", checkTimeout)
	up := waitMarkerAfter(t, b, done, "GUEST: up", bootTimeout)
	l := waitMarkerAfter(t, b, up, "GUEST: ping ok", checkTimeout)
	t.Logf("b rebooted in place (%.1fs from the first boot's done to the second's up) and reached a again: %s",
		(up.At - done.At).Seconds(), l.Text)
	b.Kill()
	a.Kill()
	h.Stop()
}

// TestQEMUReconnect covers the direction QEMU itself redials
// (stream,server=off,reconnect=…), where the host's QEMU has it: the guests
// start before the hub, and ride through a hub restart. QEMU 7.2 has no
// reconnect=, so there the test skips.
func TestQEMUReconnect(t *testing.T) {
	requireGuests(t)
	requireHub(t)
	opt := qemuReconnectOption(t)
	if opt == "" {
		t.Skip("this QEMU has no stream reconnect= / reconnect-ms= (QEMU 7.2 has neither)")
	}
	t.Parallel()
	pa, pb := streamAttach(t, "a"), streamAttach(t, "b")
	ca, cb := pair(pa.Netdev+","+opt, pb.Netdev+","+opt, "resume")
	a, b := bootGuest(t, ca), bootGuest(t, cb)
	time.Sleep(time.Second) // let QEMU fail its first connects
	h := startHub(t, HubConfig{Ports: []Attach{pa, pb}})
	waitAll(t, "GUEST: resume watching", bootTimeout+checkTimeout, a, b)
	h.Kill()
	waitAll(t, "GUEST: resume lost", checkTimeout, a, b)
	h.Restart()
	waitAll(t, "GUEST: resume ok", checkTimeout, a, b)
	waitAll(t, "GUEST: done ok", checkTimeout, a, b)
}

// qemuReconnectOption returns the stream reconnect option this QEMU accepts
// ("reconnect-ms=500" from QEMU 9.2, "reconnect=1" before), or "" when it
// says it has neither. A probe QEMU that ends for any other reason fails t:
// a broken probe must not read as a QEMU without the option.
func qemuReconnectOption(t *testing.T) string {
	t.Helper()
	port := freePort(t)
	for _, opt := range []string{"reconnect-ms=500", "reconnect=1"} {
		netdev := fmt.Sprintf("stream,id=n0,server=off,addr.type=inet,addr.host=127.0.0.1,addr.port=%d,%s", port, opt)
		cmd := exec.Command(suite.QEMU, "-machine", "none", "-nodefaults", "-display", "none", "-S", "-netdev", netdev)
		out, exited, err := runFor(cmd, 3*time.Second)
		name, _, _ := strings.Cut(opt, "=")
		switch {
		case err != nil && !exited:
			t.Fatalf("QEMU probe: %v", err)
		case !exited: // it took the option and waits
			return opt
		case !optionUnknown(out, name):
			t.Fatalf("QEMU probe -netdev %s ended (%v), and not for an unknown %s:\n%s", netdev, err, name, out)
		}
	}
	return ""
}

// optionUnknown tells whether QEMU's output says it has no option name.
// QEMU prefixes every complaint about a -netdev with the whole option
// text, so only its words for an unknown parameter count (7.2: "Parameter
// 'reconnect-ms' is unexpected").
func optionUnknown(out, name string) bool {
	q := regexp.QuoteMeta(name)
	return regexp.MustCompile(`Parameter '` + q + `' is unexpected|Invalid parameter '` + q + `'`).MatchString(out)
}

// runFor runs cmd for at most d and returns its combined output and whether
// it exited by itself (with its exit error); a command still running at d
// (QEMU happily waiting) is killed.
func runFor(cmd *exec.Cmd, d time.Duration) (out string, exited bool, err error) {
	var b strings.Builder
	cmd.Stdout, cmd.Stderr = &b, &b
	if err := qemu.StartTied(cmd); err != nil {
		return "", false, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return b.String(), true, err
	case <-time.After(d):
		cmd.Process.Kill()
		<-done
		return b.String(), false, nil
	}
}

func TestOptionUnknown(t *testing.T) {
	const prefix = "qemu-system-x86_64: -netdev stream,id=n0,server=off,addr.type=inet,addr.host=127.0.0.1,addr.port=21001,"
	for _, c := range []struct {
		out, name string
		want      bool
	}{
		{prefix + "reconnect-ms=500: Parameter 'reconnect-ms' is unexpected\n", "reconnect-ms", true}, // QEMU 7.2
		{prefix + "reconnect=1: Parameter 'reconnect' is unexpected\n", "reconnect", true},
		{prefix + "reconnect=1: Invalid parameter 'reconnect'\n", "reconnect", true},
		{prefix + "reconnect=1: Parameter 'reconnect' is unexpected\n", "reconnect-ms", false},
		{prefix + "reconnect-ms=500: Parameter 'addr.port' expects a number\n", "reconnect-ms", false},
		{prefix + "reconnect-ms=500: Parameter 'reconnect-ms' expects uint64\n", "reconnect-ms", false},
		{"qemu-system-x86_64: -machine none: unsupported machine type\n", "reconnect", false},
		{"", "reconnect", false},
	} {
		if got := optionUnknown(c.out, c.name); got != c.want {
			t.Errorf("got optionUnknown(%q, %q) = %v, want %v", c.out, c.name, got, c.want)
		}
	}
}

// TestHubPartition is the generic half of scenario 5: the control API
// partitions a from b for 3 s and heals it; the guests see the path go down
// and come back, and the hub counts the drops.
func TestHubPartition(t *testing.T) {
	requireGuests(t)
	requireHub(t)
	t.Parallel()
	// Partitions live in the policy engine: any policy turns it on.
	requireHubFlags(t, "--policy")
	pa, pb := tcpAttach(t, "a"), tcpAttach(t, "b")
	h := startHub(t, HubConfig{Ports: []Attach{pa, pb}, Policy: "seed: 1\n"})
	ca, cb := pair(pa.Netdev, pb.Netdev, "resume")
	a, b := bootGuest(t, ca), bootGuest(t, cb)
	waitAll(t, "GUEST: resume watching", bootTimeout+checkTimeout, a, b)
	h.Ctl("partition", "split", "a", "b")
	start := time.Now()
	waitAll(t, "GUEST: resume lost", checkTimeout, a, b)
	time.Sleep(3*time.Second - time.Since(start))
	h.Ctl("heal", "split")
	for _, l := range waitAll(t, "GUEST: resume ok", checkTimeout, a, b) {
		// No reply can cross a partition: the guest's outage spans it
		// (less a few ping intervals for when the loss was noticed).
		outage, err := strconv.ParseFloat(strings.TrimSuffix(field(l.Text, "outage"), "s"), 64)
		if err != nil || outage < 2 {
			t.Errorf("got %q, want outage >= 2s for a 3 s partition", l.Text)
		}
	}
	waitAll(t, "GUEST: done ok", checkTimeout, a, b)
	h.Stop()
	checkCapture(t, h, "icmp", `frame.comment contains "rule split: partition"`)
}

// checkCapture reads the hub's capture with tshark and wants at least one
// frame matching each display filter. Without tshark it says so and checks
// nothing (see haveTshark); h must have a capture (not HubConfig.NoCapture).
func checkCapture(t *testing.T, h *Hub, filters ...string) {
	t.Helper()
	if h.Capture == "" {
		t.Fatal("checkCapture: the hub was started with NoCapture")
	}
	if !haveTshark(t, "capture") {
		return
	}
	for _, f := range filters {
		n := tsharkCount(t, h.Capture, f)
		if n == 0 {
			t.Errorf("got 0 frames matching %q in %s, want some", f, h.Capture)
		}
	}
}

// tsharkCount returns how many frames of file match a display filter.
func tsharkCount(t *testing.T, file, filter string) int {
	t.Helper()
	return len(tsharkFields(t, file, filter, "frame.number"))
}

// TestHubLoss is the generic half of scenario 5's loss: with 5% of frames
// lost each way, the checks that retransmit (TCP, the UDP echo, gossip)
// still complete, and the capture names the rule behind each drop.
func TestHubLoss(t *testing.T) {
	requireGuests(t)
	requireHubFlags(t, "--policy")
	t.Parallel()
	const policy = `seed: 1
rules:
  - name: loss-a-b
    match: {link: a->b}
    loss: 5%
  - name: loss-b-a
    match: {link: b->a}
    loss: 5%
`
	pa, pb := tcpAttach(t, "a"), unixAttach(t, "b")
	h := startHub(t, HubConfig{Ports: []Attach{pa, pb}, Policy: policy})
	run := []string{"mcast", "bcast", "udp", "tcp"}
	ca, cb := pair(pa.Netdev, pb.Netdev, run...)
	a, b := bootGuest(t, ca), bootGuest(t, cb)
	expectChecks(t, run, a, b)
	h.Stop()
	checkCapture(t, h, `frame.comment contains "loss-a-b"`, `frame.comment contains "loss-b-a"`)
}

// tsharkTimes returns frame.time_relative (seconds since the capture's
// first frame) of every frame of file matching a display filter.
func tsharkTimes(t *testing.T, file, filter string) []float64 {
	t.Helper()
	var times []float64
	for _, f := range tsharkFields(t, file, filter, "frame.time_relative") {
		v, err := strconv.ParseFloat(f, 64)
		if err != nil {
			t.Fatalf("tshark printed %q for frame.time_relative", f)
		}
		times = append(times, v)
	}
	return times
}

// tsharkFields returns one field of every frame of file matching filter.
// Only stdout is parsed: tshark warns on stderr when run as root.
func tsharkFields(t *testing.T, file, filter, field string) []string {
	t.Helper()
	cmd := exec.Command(suite.Tshark, "-n", "-r", file, "-Y", filter, "-T", "fields", "-e", field)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark -r %s -Y %q: %v\n%s", file, filter, err, stderr.String())
	}
	return strings.Fields(string(out))
}
