//go:build linux

package tap_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"maps"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"l2hub/capture"
	"l2hub/filter"
	"l2hub/hub"
	"l2hub/hub/hubtest"
	"l2hub/internal/wallclock"
	"l2hub/tap/taptest"
	"l2hub/transport"
	"l2hub/transport/netstack"
	"l2hub/transport/transporttest"
)

// The VXLAN port against real VTEPs, in network namespaces this test makes
// (no address outside them): the Linux kernel's vxlan device behind a
// bridge, and other hubs in a full mesh.

// vethPair creates a veth pair with one end in each namespace, addresses
// them (a prefix, or "" for none) and sets both up.
func vethPair(t *testing.T, nsA, nameA, addrA, nsB, nameB, addrB string, mtu int) {
	t.Helper()
	ha := nlHandle(t, nsA)
	v := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: nameA, MTU: mtu}, PeerName: nameB}
	if err := ha.LinkAdd(v); err != nil {
		t.Fatalf("veth %s/%s: %v", nameA, nameB, err)
	}
	if nsB != nsA {
		peer, err := ha.LinkByName(nameB)
		if err != nil {
			t.Fatal(err)
		}
		fd := nsFD(t, nsB)
		if err := ha.LinkSetNsFd(peer, fd); err != nil {
			t.Fatalf("move %s to %s: %v", nameB, nsB, err)
		}
	}
	for _, end := range []struct{ ns, name, addr string }{{nsA, nameA, addrA}, {nsB, nameB, addrB}} {
		h := nlHandle(t, end.ns)
		l, err := h.LinkByName(end.name)
		if err != nil {
			t.Fatal(err)
		}
		if mtu > 0 {
			h.LinkSetMTU(l, mtu)
		}
		if end.addr != "" {
			a, err := netlink.ParseAddr(end.addr)
			if err != nil {
				t.Fatal(err)
			}
			if err := h.AddrAdd(l, a); err != nil {
				t.Fatalf("address %s on %s: %v", end.addr, end.name, err)
			}
		}
		if err := h.LinkSetUp(l); err != nil {
			t.Fatal(err)
		}
	}
}

// testNetns creates a namespace the test owns and deletes at its end (the
// links in it go with it).
func testNetns(t *testing.T) string {
	t.Helper()
	name := taptest.UniqueName(t)
	addNetns(t, name)
	t.Cleanup(func() { netns.DeleteNamed(name) })
	return name
}

// nsFD opens namespace name and returns its file descriptor, closed at
// cleanup.
func nsFD(t *testing.T, name string) int {
	t.Helper()
	h, err := netns.GetFromName(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return int(h)
}

// linkUp sets a link in namespace ns up.
func linkUp(t *testing.T, ns, name string) netlink.Link {
	t.Helper()
	h := nlHandle(t, ns)
	l, err := h.LinkByName(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.LinkSetUp(l); err != nil {
		t.Fatal(err)
	}
	return l
}

// vxHub is an in-process hub with a vxlan port "ov" and whatever else.
type vxHub struct {
	hub  *hub.Hub
	stop func()
}

// startVXHub runs a hub with the given ports (specs opened and run), peers
// (in-process ends attached) and policy, recording to capturePath if set.
func startVXHub(t *testing.T, policyYAML, capturePath string, specs []transport.Spec, peers map[string]hub.PortIO) *vxHub {
	t.Helper()
	cfg := hub.Config{Mode: hub.ModeSwitch, Clock: wallclock.Clock{}}
	closeCapture := func() {}
	if capturePath != "" {
		sink, err := capture.Open(capture.Config{Path: capturePath})
		if err != nil {
			t.Fatal(err)
		}
		cfg.Observers = []hub.Observer{sink}
		closeCapture = func() {
			if err := sink.Close(); err != nil {
				t.Errorf("close capture: %v", err)
			}
		}
	}
	var names []string
	for _, s := range specs {
		names = append(names, s.Name)
	}
	for n := range peers {
		names = append(names, n)
	}
	if policyYAML != "" {
		p, err := filter.Parse([]byte(policyYAML), "test-policy", names)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Policy = p
	}
	h, err := hub.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { h.Run(ctx) })
	v := &vxHub{hub: h, stop: sync.OnceFunc(func() { cancel(); wg.Wait(); closeCapture() })}
	t.Cleanup(v.stop)
	for _, s := range specs {
		if err := h.AddPortWith(s.Name, s.String(), s.PortOptions()); err != nil {
			t.Fatal(err)
		}
		r, err := s.Open(transport.Options{})
		if err != nil {
			t.Fatalf("open %s: %v", s, err)
		}
		wg.Go(func() {
			if err := r.Run(ctx, h); err != nil {
				t.Errorf("run %s: %v", s, err)
			}
		})
	}
	for n, p := range peers {
		if err := h.AddPort(n, n); err != nil {
			t.Fatal(err)
		}
		if _, err := h.Attach(n, p); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range specs {
		waitPortAttached(t, h, s.Name)
	}
	return v
}

func waitPortAttached(t *testing.T, h *hub.Hub, port string) {
	t.Helper()
	deadline := time.Now().Add(transporttest.HangGuard)
	for time.Now().Before(deadline) {
		ports, _ := h.Ports(context.Background())
		for _, p := range ports {
			if p.Name == port && p.Attached {
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("port %s never attached", port)
}

func mustSpec(t *testing.T, text string) transport.Spec {
	t.Helper()
	s, err := transport.ParseSpec(text)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestVXLANWithTheKernel: namespace k holds a Linux bridge with the
// kernel's vxlan device (VNI 42) and a veth whose other end, 10.42.0.2,
// stands for a host; namespace h holds l2hub, with a vxlan port to k and a
// virtual VM at 10.42.0.10. The two VTEPs flood to each other as remotes
// (remote), or to the IPv4 multicast group both join on the underlay's
// veth, as `ip link add ... type vxlan id 42 group 239.1.1.1 dev u0` does
// (group: neither side is given the other's address, each learns it from
// the frames, so every flooded frame crosses the underlay as multicast).
// Pings and TCP pass both ways, and so does broadcast: the VM's ARP request
// leaves through the vxlan port, and the host, its neighbour cache flushed,
// must send its own, which the capture shows arriving on it. The
// capture-side comment names the kernel's VTEP.
func TestVXLANWithTheKernel(t *testing.T) {
	taptest.NeedTAP(t)
	for _, tc := range []struct {
		name string
		// kernel sets the kernel's vxlan device's flood destination; hub
		// is the hub's port's.
		kernel func(vx *netlink.Vxlan, underlay netlink.Link)
		hub    string
	}{
		{"remote", func(vx *netlink.Vxlan, _ netlink.Link) { vx.Group = net.IPv4(10, 77, 0, 2) }, "remote=10.77.0.1"},
		{"group", func(vx *netlink.Vxlan, u0 netlink.Link) {
			vx.Group, vx.VtepDevIndex = net.IPv4(239, 1, 1, 1), u0.Attrs().Index
		}, "group=239.1.1.1"},
	} {
		t.Run(tc.name, func(t *testing.T) { testVXLANWithTheKernel(t, tc.kernel, tc.hub) })
	}
}

func testVXLANWithTheKernel(t *testing.T, kernel func(vx *netlink.Vxlan, underlay netlink.Link), flood string) {
	k, h := testNetns(t), testNetns(t)
	// The underlay: 10.77.0.1 (k) to 10.77.0.2 (h).
	vethPair(t, k, "u0", "10.77.0.1/24", h, "u1", "10.77.0.2/24", 0)
	// The kernel's side: br0 with vx0 and the host's veth.
	kh := nlHandle(t, k)
	if err := kh.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "br0"}}); err != nil {
		t.Fatal(err)
	}
	br := linkUp(t, k, "br0")
	vx := &netlink.Vxlan{LinkAttrs: netlink.LinkAttrs{Name: "vx0", MasterIndex: br.Attrs().Index},
		VxlanId: 42, Port: transport.DefaultVXLANPort, SrcAddr: net.IPv4(10, 77, 0, 1), Learning: true}
	u0, err := kh.LinkByName("u0")
	if err != nil {
		t.Fatal(err)
	}
	kernel(vx, u0)
	if err := kh.LinkAdd(vx); err != nil {
		t.Fatalf("kernel vxlan: %v", err)
	}
	linkUp(t, k, "vx0")
	vethPair(t, k, "hb", "", k, "host", "10.42.0.2/24", 1500-transport.VXLANGuestMTUOverhead)
	// A veth leaves TCP checksums to be filled in by hardware that never
	// comes: the kernel's vxlan device encapsulates the segment with its
	// checksum still partial, and the far VTEP, a process, gets it so. A
	// NIC fills it in on a real underlay; here the kernel must.
	inNetns(t, k, func() error { return txChecksumOff("host") })
	hb := linkUp(t, k, "hb")
	if err := kh.LinkSetMaster(hb, br); err != nil {
		t.Fatal(err)
	}

	vm, err := netstack.New(netstack.Config{MAC: vmMAC, Addr: netip.MustParsePrefix("10.42.0.10/24"), MTU: 1500 - transport.VXLANGuestMTUOverhead})
	if err != nil {
		t.Fatal(err)
	}
	spec := mustSpec(t, fmt.Sprintf("ov=vxlan:10.77.0.2:4789,%s,vni=42,netns=%s", flood, h))
	segment := filepath.Join(t.TempDir(), "segment.pcapng")
	vh := startVXHub(t, "", segment, []transport.Spec{spec}, map[string]hub.PortIO{"vm": vm})

	// The VM pings the kernel's host: ARP crosses the overlay both ways.
	ctx, cancel := context.WithTimeout(context.Background(), transporttest.HangGuard)
	defer cancel()
	if err := pingUntil(ctx, vm, netip.MustParseAddr("10.42.0.2")); err != nil {
		t.Fatalf("VM ping 10.42.0.2 across the kernel's VXLAN: %v", err)
	}
	// The kernel's host pings the VM. It learned the VM's MAC from the
	// VM's ARP request: forgetting it makes the host broadcast a request
	// of its own, which the kernel's VTEP floods to the hub.
	flushNeighbours(t, k, "host")
	p := newKernelPinger(t, k, "10.42.0.2")
	if err := p.ping(netip.MustParseAddr("10.42.0.10"), 1, transporttest.HangGuard); err != nil {
		t.Fatalf("kernel ping 10.42.0.10 through l2hub: %v", err)
	}
	// TCP both ways, 1 MiB each, hashes compared.
	payload := bytes.Repeat([]byte("l2hub vxlan "), 1<<20/12)
	ln, err := vm.ListenTCP(7000)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	echoOnce(t, ln)
	var c net.Conn
	inNetns(t, k, func() error {
		c, err = net.DialTimeout("tcp", "10.42.0.10:7000", transporttest.HangGuard)
		return err
	})
	transfer(t, c, payload, "kernel host to VM")

	var kl net.Listener
	inNetns(t, k, func() error {
		kl, err = net.Listen("tcp", "10.42.0.2:7001")
		return err
	})
	defer kl.Close()
	echoOnce(t, kl)
	vc, err := vm.DialTCP(ctx, netip.MustParseAddrPort("10.42.0.2:7001"))
	if err != nil {
		t.Fatalf("VM dials the kernel's host: %v", err)
	}
	transfer(t, vc, payload, "VM to kernel host")

	// The capture has the overlay's frames decapsulated, each with the VTEP
	// it came from, broadcast ARP among them both ways.
	vh.stop()
	frames := readCapture(t, segment)
	hostLink, err := nlHandle(t, k).LinkByName("host")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []struct {
		dir    capture.Dir
		src    net.HardwareAddr
		target string
		where  string
	}{
		{capture.DirOut, vmMAC, "10.42.0.2", "leaving through"},
		{capture.DirIn, hostLink.Attrs().HardwareAddr, "10.42.0.10", "arriving on"},
	} {
		match := isBroadcastARP(want.src, netip.MustParseAddr(want.target))
		if !slices.ContainsFunc(frames, func(f segmentFrame) bool { return f.port == "ov" && f.dir == want.dir && match(f.pkt) }) {
			t.Errorf("the capture holds no broadcast ARP request from %s for %s %s port ov", want.src, want.target, want.where)
		}
	}
	var fromKernel int
	for _, f := range frames {
		if f.port == "ov" && f.dir == capture.DirIn {
			if f.comment != "from (vtep 10.77.0.1)" {
				t.Fatalf("a frame from the overlay has comment %q, want its VTEP", f.comment)
			}
			fromKernel++
		}
	}
	if fromKernel == 0 {
		t.Error("the capture holds no frame from the overlay")
	}
}

// TestVXLANMesh: three hubs in three namespaces, a full mesh over VXLAN
// (each hub's vxlan port lists the other two), two clients on each. Every
// broadcast reaches each of the five other clients exactly once; unicast
// goes to the one VTEP its destination was learned on; a partition on one
// hub's vxlan port cuts exactly that hub off.
//
// "Exactly once" is accounted, not watched for: after each step every
// hub's ports must reach the frame counts the traffic implies (received,
// handed to the port, dropped by reason) and each namespace must have sent
// exactly the datagrams head-end replication implies (two per flooded
// frame, one per learned unicast). A hub reads a port's counters in one
// step with the forwarding of every frame counted, and datagrams are
// counted once the vxlan ports' queues are empty, so a loop or a duplicate
// makes a count exceed its due, whenever it happens; the wait for the
// counts is a hang guard, not a time bound on the traffic.
func TestVXLANMesh(t *testing.T) {
	taptest.NeedTAP(t)
	under := testNetns(t)
	uh := nlHandle(t, under)
	if err := uh.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "ubr"}}); err != nil {
		t.Fatal(err)
	}
	ubr := linkUp(t, under, "ubr")
	type hubEnd struct {
		ns      string
		ip      string
		vx      *vxHub
		clients [2]*pipeVM
		// What the traffic so far implies: each port's counters (since the
		// hub started) and the datagrams the namespace sent (ever).
		want map[string]*portCount
		sent uint64
	}
	hubs := make([]*hubEnd, 3)
	for i := range hubs {
		hubs[i] = &hubEnd{ns: testNetns(t), ip: fmt.Sprintf("10.78.0.%d", i+1)}
		port := fmt.Sprintf("u%d", i)
		vethPair(t, under, port, "", hubs[i].ns, "eth0", hubs[i].ip+"/24", 0)
		if err := uh.LinkSetMaster(linkUp(t, under, port), ubr); err != nil {
			t.Fatal(err)
		}
		hubs[i].sent = udpOutDatagrams(t, hubs[i].ns) // 0 in a new namespace; counted from here
	}
	start := func(i int, policy string) {
		h := hubs[i]
		text := fmt.Sprintf("ov=vxlan:%s:4789,vni=7,netns=%s", h.ip, h.ns)
		for j, o := range hubs {
			if j != i {
				text += ",remote=" + o.ip
			}
		}
		peers := map[string]hub.PortIO{}
		for c := range h.clients {
			hubEnd, vmEnd := transport.Pipe()
			h.clients[c] = newPipeVM(t, vmEnd)
			peers[fmt.Sprintf("c%d", c)] = hubEnd
		}
		h.want = map[string]*portCount{"ov": {}, "c0": {}, "c1": {}}
		h.vx = startVXHub(t, policy, "", []transport.Spec{mustSpec(t, text)}, peers)
	}
	for i := range hubs {
		start(i, "")
	}
	mac := func(i, c int) [6]byte { return [6]byte{0x02, 0x78, 0, 0, byte(i), byte(c)} }
	client := func(c int) string { return fmt.Sprintf("c%d", c) }
	send := func(i, c int, dst [6]byte, label string) {
		t.Helper()
		if err := hubs[i].clients[c].end.WriteFrame(hubtest.Frame(dst, mac(i, c), label)); err != nil {
			t.Fatal(err)
		}
	}
	// labels is what each client is to read in a step.
	labels := map[[2]int][]string{}
	deliver := func(i, c int, label string) {
		hubs[i].want[client(c)].tx++
		labels[[2]int{i, c}] = append(labels[[2]int{i, c}], label)
	}
	// flood sends a broadcast from client c of hub i and books what it
	// makes on a mesh without a policy: one copy to the other local client
	// and one to the vxlan port, which sends a datagram to each remote,
	// whose hub hands it to both its clients.
	flood := func(i, c int, label string) {
		t.Helper()
		send(i, c, hubtest.Broadcast, label)
		hubs[i].want[client(c)].rx++
		deliver(i, 1-c, label)
		hubs[i].want["ov"].tx++
		hubs[i].sent += uint64(len(hubs) - 1)
		for j := range hubs {
			if j != i {
				hubs[j].want["ov"].rx++
				deliver(j, 0, label)
				deliver(j, 1, label)
			}
		}
	}
	// settle reads what each client is due, in any order (arrival order
	// across senders is not ours), then waits for every count to reach its
	// due, failing at once if one exceeds it.
	settle := func(step string) {
		t.Helper()
		for i, h := range hubs {
			for c, vm := range h.clients {
				want := labels[[2]int{i, c}]
				got := readLabels(t, vm, len(want))
				slices.Sort(got)
				slices.Sort(want)
				if !slices.Equal(got, want) {
					t.Errorf("%s: hub %d client %d got %q, want %q", step, i, c, got, want)
				}
			}
		}
		clear(labels)
		deadline := time.Now().Add(transporttest.HangGuard)
		for {
			var behind []string
			for i, h := range hubs {
				ports, err := h.vx.hub.Ports(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				for _, p := range ports {
					got, want := portCount{rx: p.Stats.RxFrames, tx: p.Stats.TxFrames, drops: p.Stats.Drops}, h.want[p.Name]
					if got.exceeds(*want) {
						t.Fatalf("%s: hub %d port %s counted %v, want %v: more than the traffic makes", step, i, p.Name, got, *want)
					}
					if !got.equal(*want) || p.Queued > 0 {
						behind = append(behind, fmt.Sprintf("hub %d port %s counted %v (%d queued), want %v", i, p.Name, got, p.Queued, *want))
					}
				}
			}
			if len(behind) == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: after %v, %s", step, transporttest.HangGuard, strings.Join(behind, "; "))
			}
			time.Sleep(10 * time.Millisecond)
		}
		// No queue holds a frame: every datagram for what was counted is sent.
		for i, h := range hubs {
			if got := udpOutDatagrams(t, h.ns); got != h.sent {
				t.Errorf("%s: hub %d's namespace sent %d UDP datagrams in all, want %d", step, i, got, h.sent)
			}
		}
	}

	// Every client says hello to all: five copies of each, one per other client.
	for i := range hubs {
		for c := range 2 {
			flood(i, c, fmt.Sprintf("hello-%d%d", i, c))
		}
	}
	settle("hello")

	// Unicast from hub 0 to a client of hub 1, learned on hub 1's VTEP from
	// its hello, is one datagram, to hub 1 alone.
	send(0, 0, mac(1, 1), "to-11")
	hubs[0].want["c0"].rx++
	hubs[0].want["ov"].tx++
	hubs[0].sent++
	hubs[1].want["ov"].rx++
	deliver(1, 1, "to-11")
	settle("unicast")

	// A partition on hub 0 between its vxlan port and its clients cuts hub
	// 0 off, and only hub 0: its broadcast stays local, hub 1's reaches hub
	// 0's port and no further.
	hubs[0].vx.stop()
	start(0, "seed: 1\npartitions:\n  - {name: cut, groups: \"ov|c0,c1\", start: 0s}\n")
	send(0, 0, hubtest.Broadcast, "from-cut-off")
	hubs[0].want["c0"].rx++
	deliver(0, 1, "from-cut-off")
	hubs[0].want["ov"].drop(hub.DropPolicy)
	send(1, 0, hubtest.Broadcast, "from-1")
	hubs[1].want["c0"].rx++
	deliver(1, 1, "from-1")
	hubs[1].want["ov"].tx++
	hubs[1].sent += 2
	hubs[2].want["ov"].rx++
	deliver(2, 0, "from-1")
	deliver(2, 1, "from-1")
	hubs[0].want["ov"].rx++
	hubs[0].want["c0"].drop(hub.DropPolicy)
	hubs[0].want["c1"].drop(hub.DropPolicy)
	settle("partition")
}

// portCount is what a hub's port has counted: frames received from its
// peer, frames handed to it, and frames dropped, by reason.
type portCount struct {
	rx, tx uint64
	drops  map[string]uint64
}

func (c *portCount) drop(r hub.DropReason) {
	if c.drops == nil {
		c.drops = map[string]uint64{}
	}
	c.drops[r.String()]++
}

func (c portCount) exceeds(want portCount) bool {
	for r, n := range c.drops {
		if n > want.drops[r] {
			return true
		}
	}
	return c.rx > want.rx || c.tx > want.tx
}

func (c portCount) equal(want portCount) bool {
	return c.rx == want.rx && c.tx == want.tx && maps.Equal(c.drops, want.drops)
}

func (c portCount) String() string {
	s := fmt.Sprintf("rx %d tx %d", c.rx, c.tx)
	for _, r := range slices.Sorted(maps.Keys(c.drops)) {
		s += fmt.Sprintf(" %s %d", r, c.drops[r])
	}
	return s
}

// udpOutDatagrams returns how many UDP datagrams namespace ns has sent (its
// Udp OutDatagrams counter, /proc/net/snmp).
func udpOutDatagrams(t *testing.T, ns string) uint64 {
	t.Helper()
	var snmp []byte
	inNetns(t, ns, func() (err error) {
		snmp, err = os.ReadFile("/proc/thread-self/net/snmp") // the thread's namespace
		return err
	})
	var names []string
	for line := range strings.Lines(string(snmp)) {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != "Udp:" {
			continue
		}
		if names == nil { // the first Udp: line names the fields, the second has their values
			names = f
			continue
		}
		if k := slices.Index(names, "OutDatagrams"); k > 0 && k < len(f) {
			if n, err := strconv.ParseUint(f[k], 10, 64); err == nil {
				return n
			}
		}
		break
	}
	t.Fatalf("no Udp OutDatagrams in namespace %s's /proc/net/snmp:\n%s", ns, snmp)
	return 0
}

// flushNeighbours empties the neighbour cache of link dev in namespace ns,
// as `ip neigh flush dev DEV` does: its next packet to a neighbour must
// first resolve it by a broadcast ARP request.
func flushNeighbours(t *testing.T, ns, dev string) {
	t.Helper()
	h := nlHandle(t, ns)
	l, err := h.LinkByName(dev)
	if err != nil {
		t.Fatal(err)
	}
	neighs, err := h.NeighList(l.Attrs().Index, netlink.FAMILY_V4)
	if err != nil {
		t.Fatalf("neighbours of %s: %v", dev, err)
	}
	for _, n := range neighs {
		if err := h.NeighDel(&n); err != nil {
			t.Fatalf("forget neighbour %s on %s: %v", n.IP, dev, err)
		}
	}
}

// isBroadcastARP matches an ARP request from src for target sent to the
// broadcast address (ethertype 0x0806, destination ff:ff:ff:ff:ff:ff).
func isBroadcastARP(src net.HardwareAddr, target netip.Addr) func(gopacket.Packet) bool {
	req := isARP(layers.ARPRequest, src, target)
	return func(p gopacket.Packet) bool {
		eth, ok := p.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
		return ok && eth.EthernetType == layers.EthernetTypeARP &&
			bytes.Equal(eth.DstMAC, layers.EthernetBroadcast) && req(p)
	}
}

// pipeVM is a client's end of a pipe with one reader goroutine that hands
// over every frame's label, so that a read that gives up loses nothing.
type pipeVM struct {
	end    *transport.PipeEnd
	labels chan string
}

func newPipeVM(t *testing.T, end *transport.PipeEnd) *pipeVM {
	vm := &pipeVM{end: end, labels: make(chan string, 64)}
	go func() {
		buf := make([]byte, transport.DefaultMaxFrame)
		for {
			k, err := end.ReadFrame(buf)
			if err != nil {
				close(vm.labels)
				return
			}
			vm.labels <- strings.TrimRight(string(buf[14:k]), "\x00")
		}
	}()
	t.Cleanup(func() { end.Close() })
	return vm
}

// readLabels reads n labels from vm, failing the test if they do not come
// within the guard.
func readLabels(t *testing.T, vm *pipeVM, n int) []string {
	t.Helper()
	var out []string
	for len(out) < n {
		select {
		case l, ok := <-vm.labels:
			if !ok {
				t.Fatalf("read %d of %d frames, then the pipe closed: %q", len(out), n, out)
			}
			out = append(out, l)
		case <-time.After(transporttest.HangGuard):
			t.Fatalf("read %d of %d frames: %q", len(out), n, out)
		}
	}
	return out
}

// pingUntil pings dst until it answers (the first may go out before ARP
// resolves) or ctx ends.
func pingUntil(ctx context.Context, h *netstack.Host, dst netip.Addr) error {
	var err error
	for seq := uint16(1); ctx.Err() == nil; seq++ {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		err = h.Ping(pctx, dst, seq)
		cancel()
		if err == nil {
			return nil
		}
	}
	return err
}

// transfer sends payload over c to an echo and checks that the same bytes
// come back. Its guard is on progress, not on the whole transfer: a switch
// outside l2hub (Open vSwitch's userspace datapath on a loaded machine)
// may drop a flight that TCP then retransmits, which is slow but no hang.
func transfer(t *testing.T, c net.Conn, payload []byte, what string) {
	t.Helper()
	defer c.Close()
	errc := make(chan error, 1)
	go func() {
		_, err := c.Write(payload)
		if cw, ok := c.(interface{ CloseWrite() error }); ok {
			cw.CloseWrite()
		}
		errc <- err
	}()
	got := make([]byte, 0, len(payload))
	buf := make([]byte, 64<<10)
	var err error
	for {
		c.SetReadDeadline(time.Now().Add(transporttest.HangGuard))
		var n int
		n, err = c.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			break
		}
	}
	if err == io.EOF {
		err = nil
	} else {
		c.Close() // unblock the writer
	}
	if werr := <-errc; werr != nil && err == nil {
		t.Fatalf("%s: write: %v", what, werr)
	}
	if err != nil {
		t.Fatalf("%s: read %d of %d bytes, then nothing for %v: %v", what, len(got), len(payload), transporttest.HangGuard, err)
	}
	if sha256.Sum256(got) != sha256.Sum256(payload) {
		t.Fatalf("%s: %d bytes came back that differ from the %d sent", what, len(got), len(payload))
	}
}

// txChecksumOff turns off transmit checksum offload on interface name in
// the calling thread's namespace, as `ethtool -K name tx off` does.
func txChecksumOff(name string) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	const ethtoolSTXCSUM = 0x17 // linux/ethtool.h: set TX checksum offload
	v := &struct{ cmd, data uint32 }{cmd: ethtoolSTXCSUM}
	var ifr [40]byte // struct ifreq: the name, then a pointer to the request
	copy(ifr[:unix.IFNAMSIZ-1], name)
	*(*uintptr)(unsafe.Pointer(&ifr[unix.IFNAMSIZ])) = uintptr(unsafe.Pointer(v))
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SIOCETHTOOL, uintptr(unsafe.Pointer(&ifr[0])))
	runtime.KeepAlive(v)
	if errno != 0 {
		return fmt.Errorf("ethtool -K %s tx off: %w", name, errno)
	}
	return nil
}

// TestVXLANWithOpenVSwitch: Open vSwitch (its userspace datapath: this
// kernel may have no openvswitch module) in one namespace, with a bridge
// whose vxlan interface (VNI 42) reaches l2hub in another, and an internal
// port at 10.42.0.3; l2hub has a virtual VM at 10.42.0.10. Pings and TCP
// pass both ways.
//
// The bridge is set up as README's three-host recipe says: a second vxlan
// interface reaches a third VTEP (10.79.0.9, a bare UDP socket beside the
// hub that counts what it gets), both interfaces protected=true, and the
// hub names both other VTEPs. Open vSwitch's NORMAL action does no split
// horizon: without protected ports it relays a flood from one tunnel out
// of the other, so the third VTEP got each of the hub's floods twice
// (directly and through Open vSwitch), and learned the hub's MACs behind
// Open vSwitch. The test floods an ARP request from a client of the hub
// and checks that no copy of it comes to the third VTEP from Open vSwitch,
// while Open vSwitch's own host's broadcast does.
func TestVXLANWithOpenVSwitch(t *testing.T) {
	taptest.NeedTAP(t)
	for _, bin := range []string{"ovsdb-server", "ovs-vswitchd", "ovs-vsctl", "ovsdb-tool", "ip"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("skipping: %s not found (apt-get install openvswitch-switch iproute2)", bin)
		}
	}
	schema := "/usr/share/openvswitch/vswitch.ovsschema"
	if _, err := os.Stat(schema); err != nil {
		t.Skipf("skipping: %s not found", schema)
	}
	o, h := testNetns(t), testNetns(t)
	vethPair(t, o, "o0", "", h, "o1", "10.79.0.2/24", 0)
	// OVS's userspace datapath reads the underlay with a packet socket and
	// checks UDP checksums: the hub's veth must compute them, as a NIC does.
	inNetns(t, h, func() error { return txChecksumOff("o1") })

	dir := t.TempDir()
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("ip", append([]string{"netns", "exec", o}, args...)...)
		cmd.Env = append(os.Environ(), "OVS_RUNDIR="+dir, "OVS_DBDIR="+dir, "OVS_LOGDIR="+dir)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	db := "unix:" + filepath.Join(dir, "db.sock")
	run("ovsdb-tool", "create", filepath.Join(dir, "conf.db"), schema)
	run("ovsdb-server", filepath.Join(dir, "conf.db"), "--remote=p"+db, "--pidfile="+filepath.Join(dir, "ovsdb.pid"), "--detach",
		"--log-file="+filepath.Join(dir, "ovsdb.log"))
	t.Cleanup(func() { killPidfile(filepath.Join(dir, "ovsdb.pid")) })
	vsctl := func(args ...string) string { return run(append([]string{"ovs-vsctl", "--db=" + db}, args...)...) }
	vsctl("--no-wait", "init")
	ctl := filepath.Join(dir, "vswitchd.ctl")
	run("ovs-vswitchd", db, "--pidfile="+filepath.Join(dir, "vswitchd.pid"), "--unixctl="+ctl, "--detach", "--log-file="+filepath.Join(dir, "vswitchd.log"))
	t.Cleanup(func() { killPidfile(filepath.Join(dir, "vswitchd.pid")) })
	o0, err := nlHandle(t, o).LinkByName("o0")
	if err != nil {
		t.Fatal(err)
	}
	vsctl("add-br", "br-phy", "--", "set", "bridge", "br-phy", "datapath_type=netdev", "other_config:hwaddr="+o0.Attrs().HardwareAddr.String())
	vsctl("add-port", "br-phy", "o0")
	vsctl("add-br", "br-int", "--", "set", "bridge", "br-int", "datapath_type=netdev")
	// As README's recipe: one vxlan interface per other VTEP, each
	// protected, so that Open vSwitch floods nothing from one to another.
	for vx, remote := range map[string]string{"vx0": "10.79.0.2", "vx1": "10.79.0.9"} {
		vsctl("add-port", "br-int", vx, "--", "set", "interface", vx, "type=vxlan",
			"options:remote_ip="+remote, "options:key=42", "options:dst_port=4789", "--", "set", "port", vx, "protected=true")
	}
	// The third VTEP's MAC, so that no relay waits for Open vSwitch to
	// resolve it (and is dropped meanwhile).
	o1, err := nlHandle(t, h).LinkByName("o1")
	if err != nil {
		t.Fatal(err)
	}
	run("ovs-appctl", "-t", ctl, "tnl/neigh/set", "br-phy", "10.79.0.9", o1.Attrs().HardwareAddr.String())
	vsctl("add-port", "br-int", "host", "--", "set", "interface", "host", "type=internal")
	for _, step := range [][]string{
		{"ip", "addr", "add", "10.79.0.1/24", "dev", "br-phy"},
		{"ip", "link", "set", "br-phy", "up"},
		{"ip", "link", "set", "br-int", "up"},
		{"ip", "addr", "add", "10.42.0.3/24", "dev", "host"},
		{"ip", "link", "set", "host", "mtu", fmt.Sprint(1500 - transport.VXLANGuestMTUOverhead), "up"},
	} {
		run(step...)
	}

	vm, err := netstack.New(netstack.Config{MAC: vmMAC, Addr: netip.MustParsePrefix("10.42.0.10/24"), MTU: 1500 - transport.VXLANGuestMTUOverhead})
	if err != nil {
		t.Fatal(err)
	}
	third := openThirdVTEP(t, h, "10.79.0.9")
	spec := mustSpec(t, fmt.Sprintf("ov=vxlan:10.79.0.2:4789,remote=10.79.0.1,remote=10.79.0.9,vni=42,netns=%s", h))
	hubEnd, client := transport.Pipe()
	t.Cleanup(func() { client.Close() })
	startVXHub(t, "", "", []transport.Spec{spec}, map[string]hub.PortIO{"vm": vm, "client": hubEnd})
	arpReplies := arpRepliesTo(client, probeMAC)

	ctx, cancel := context.WithTimeout(context.Background(), transporttest.HangGuard)
	defer cancel()
	if err := pingUntil(ctx, vm, netip.MustParseAddr("10.42.0.3")); err != nil {
		t.Fatalf("VM ping 10.42.0.3 across Open vSwitch's VXLAN: %v\n%s", err, ovsLog(dir))
	}
	p := newKernelPinger(t, o, "10.42.0.3")
	if err := p.ping(netip.MustParseAddr("10.42.0.10"), 1, transporttest.HangGuard); err != nil {
		t.Fatalf("ping 10.42.0.10 from behind Open vSwitch: %v", err)
	}
	payload := bytes.Repeat([]byte("l2hub ovs "), 1<<18)
	ln, err := vm.ListenTCP(7000)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	echoOnce(t, ln)
	var c net.Conn
	inNetns(t, o, func() error {
		c, err = net.DialTimeout("tcp", "10.42.0.10:7000", transporttest.HangGuard)
		return err
	})
	transfer(t, c, payload, "host behind Open vSwitch to VM")

	// The client's ARP request is flooded to both VTEPs; Open vSwitch
	// hands it to its host, which answers. By then any relay of it to the
	// third VTEP has left Open vSwitch, ahead of the host's broadcast that
	// follows on the same path: once that has come, a relay would have.
	if err := client.WriteFrame(arpRequest(probeMAC, netip.MustParseAddr("10.42.0.20"), netip.MustParseAddr("10.42.0.3"))); err != nil {
		t.Fatal(err)
	}
	select {
	case <-arpReplies:
	case <-time.After(transporttest.HangGuard):
		t.Fatalf("no ARP reply from 10.42.0.3 behind Open vSwitch to the client's request\n%s", ovsLog(dir))
	}
	marker := []byte("l2hub: the last flood from Open vSwitch")
	inNetns(t, o, func() error { return sendBroadcast("10.42.0.3", "10.42.0.255:9", marker) })
	relayed := third.until(t, "10.79.0.1", marker)
	if relayed > 0 {
		t.Errorf("Open vSwitch relayed %d copies of the hub's flood to the third VTEP, want 0: its tunnel ports must be protected (README's recipe)", relayed)
	}
}

// probeMAC is the hub's client that floods an ARP request across the
// overlay in TestVXLANWithOpenVSwitch.
var probeMAC = net.HardwareAddr{0x02, 0x79, 0x00, 0x00, 0x00, 0x01}

// arpRequest is a broadcast ARP request from mac at ip for target.
func arpRequest(mac net.HardwareAddr, ip, target netip.Addr) []byte {
	f := make([]byte, 60)
	copy(f, layers.EthernetBroadcast)
	copy(f[6:], mac)
	f[12], f[13] = 0x08, 0x06
	copy(f[14:], []byte{0, 1, 0x08, 0x00, 6, 4, 0, 1}) // Ethernet, IPv4, request
	copy(f[22:], mac)
	copy(f[28:], ip.AsSlice())
	copy(f[38:], target.AsSlice())
	return f
}

// arpRepliesTo reads every frame from end and signals each ARP reply to
// mac.
func arpRepliesTo(end *transport.PipeEnd, mac net.HardwareAddr) <-chan struct{} {
	replies := make(chan struct{}, 1)
	go func() {
		buf := make([]byte, transport.DefaultMaxFrame)
		for {
			n, err := end.ReadFrame(buf)
			if err != nil {
				return
			}
			f := buf[:n]
			if n >= 42 && bytes.Equal(f[0:6], mac) && f[12] == 0x08 && f[13] == 0x06 && f[20] == 0 && f[21] == 2 {
				select {
				case replies <- struct{}{}:
				default:
				}
			}
		}
	}()
	return replies
}

// sendBroadcast sends payload from local to the broadcast address to, in
// the calling thread's namespace.
func sendBroadcast(local, to string, payload []byte) error {
	c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr(local), 0)))
	if err != nil {
		return err
	}
	defer c.Close()
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_BROADCAST, 1) }); err != nil {
		return err
	}
	if serr != nil {
		return serr
	}
	_, err = c.WriteToUDPAddrPort(payload, netip.MustParseAddrPort(to))
	return err
}

// thirdVTEP is a bare UDP socket at a VTEP's address that reads what
// comes to it.
type thirdVTEP struct {
	c *net.UDPConn
}

// openThirdVTEP adds ip to namespace ns's o1 and binds a socket at its
// VXLAN port.
func openThirdVTEP(t *testing.T, ns, ip string) *thirdVTEP {
	t.Helper()
	h := nlHandle(t, ns)
	l, err := h.LinkByName("o1")
	if err != nil {
		t.Fatal(err)
	}
	a, _ := netlink.ParseAddr(ip + "/24")
	if err := h.AddrAdd(l, a); err != nil {
		t.Fatalf("address %s on o1: %v", ip, err)
	}
	var c *net.UDPConn
	inNetns(t, ns, func() (err error) {
		c, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr(ip), 4789)))
		return err
	})
	t.Cleanup(func() { c.Close() })
	return &thirdVTEP{c: c}
}

// until reads datagrams until one from IP from carries marker, and
// returns how many from it before then carried a frame from probeMAC.
func (v *thirdVTEP) until(t *testing.T, from string, marker []byte) (probes int) {
	t.Helper()
	src := netip.MustParseAddr(from)
	buf := make([]byte, 65536)
	for {
		v.c.SetReadDeadline(time.Now().Add(transporttest.HangGuard))
		n, ap, err := v.c.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatalf("the third VTEP: %v, before the datagram from %s it waited for", err, from)
		}
		d := buf[:n]
		if ap.Addr().Unmap() != src || n < 8+14 {
			continue
		}
		if bytes.Equal(d[8+6:8+12], probeMAC) {
			probes++
		}
		if bytes.Contains(d, marker) {
			return probes
		}
	}
}

func killPidfile(path string) {
	b, err := os.ReadFile(path)
	if err != nil {
		return
	}
	if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
		syscall.Kill(pid, syscall.SIGTERM)
	}
}

func ovsLog(dir string) string {
	b, _ := os.ReadFile(filepath.Join(dir, "vswitchd.log"))
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}
