package lab

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"l2hub/control"
	"l2hub/serve"
)

// A lab file with every feature reads into the Lab it describes: relative
// paths made absolute, variables expanded (the run's left for the run),
// VM ports added to the hub, phases per VM, triggers parsed.
func TestParse(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"vmlinuz", "initramfs.cpio.gz"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("seed: 3\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "faults.yaml"), []byte("seed: 3\npartitions:\n  - {name: split, groups: a|t, start: 5s, end: 8s}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	const text = `# a lab
name: nexus-pair
timeout: 180s
seed: 7
vars: {KERNEL: vmlinuz}
hub:
  check: nexus-v1
  policy: faults.yaml
  ports:
    - {name: t, transport: tcp, address: "127.0.0.1:0"}
vms:
  - name: a
    mac: 52:54:00:12:34:0A
    qemu: qemu-system-x86_64
    args: [-machine, q35, -kernel, "${KERNEL}", --initrd, initramfs.cpio.gz, -append, "l2.role=${VM} l2.seed=${SEED}"]
    expect:
      - {marker: "nexus discovery ok", within: 60s}
      - {marker: "nexus proxy ok"}
    fail_on: ["Kernel panic", "/remote .* FAIL/"]
    disks: [{file: blk-a.img, size: 64M}]
  - name: b
    mac: 52:54:00:12:34:0b
    qemu: qemu-system-riscv64
    port: t
    nic: virtio-net-device
    args: [-netdev, "${NETDEV}", -device, "virtio-net-device,netdev=n0,mac=${MAC}", -drive, "file=${RUN}/x.img"]
phases:
  - {name: discovery, markers: {a: "discovery cross-vm up", b: "discovery cross-vm up"}, within: 60s, budget: 20s}
  - name: session
    markers: {b: [dial, "cross-vm session ok"]}
    evidence: {a: ["dial status would_block", "dial status timed_out"], b: ["accept pending"]}
triggers:
  - {on: "a: nexus handshake ok", do: "partition a|b", for: 3s}
  - {name: flap, at: 20s, do: "link t down", for: 1s}
  - {at: 30s, do: "heal split"}
  - {at: 40s, do: "heal trigger-1"}
`
	l := mustParse(t, dir, text)
	if l.Name != "nexus-pair" || l.Timeout != 180*time.Second || !l.SeedSet || l.Seed != 7 || l.Dir != dir {
		t.Errorf("got name %q timeout %v seed %d (%v) dir %q, want nexus-pair 180s 7 %q", l.Name, l.Timeout, l.Seed, l.SeedSet, l.Dir, dir)
	}
	if l.Hub.Check != "nexus-v1" || l.Hub.Policy != filepath.Join(dir, "faults.yaml") {
		t.Errorf("got hub check %q policy %q, want nexus-v1 and the policy next to the lab", l.Hub.Check, l.Hub.Policy)
	}
	if got := l.Hub.PortNames(); !slices.Equal(got, []string{"t", "a"}) {
		t.Errorf("got hub ports %v, want [t a]: the file's, then a's own", got)
	}
	a, b := l.VMs[0], l.VMs[1]
	wantArgs := []string{"-machine", "q35", "-kernel", filepath.Join(dir, "vmlinuz"), "--initrd", filepath.Join(dir, "initramfs.cpio.gz"),
		"-append", "l2.role=${VM} l2.seed=${SEED}"}
	if !slices.Equal(a.Args, wantArgs) {
		t.Errorf("got a's args %q, want %q", a.Args, wantArgs)
	}
	if a.MAC != "52:54:00:12:34:0a" || a.QEMU != "/usr/bin/qemu-system-x86_64" || a.NIC != DefaultNIC || a.Port != "a" || !a.Own {
		t.Errorf("got a = %+v, want its MAC lower-cased, the binary found, the default NIC and its own port", a)
	}
	if len(a.Expect) != 2 || a.Expect[0].Within != 60*time.Second || a.Expect[1].Within != 180*time.Second {
		t.Errorf("got a's expect %+v, want 60s and the run's timeout", a.Expect)
	}
	if len(a.FailOn) != 2 || !a.FailOn[1].Match("SELFTEST: remote query FAIL") || a.FailOn[1].Match("remote ok") {
		t.Errorf("got a's fail_on %v, want a regexp matching remote ... FAIL", a.FailOn)
	}
	if len(a.Disks) != 1 || a.Disks[0] != (Disk{File: "blk-a.img", Size: 64 << 20}) {
		t.Errorf("got a's disks %+v, want blk-a.img of 64M", a.Disks)
	}
	if b.Port != "t" || b.Own || b.NIC != "virtio-net-device" {
		t.Errorf("got b = %+v, want it on hub port t with a virtio-net-device", b)
	}
	if len(l.Phases) != 2 || l.Phases[0].Budget != 20*time.Second || l.Phases[1].Within != 180*time.Second ||
		len(l.Phases[1].Markers[0]) != 0 || len(l.Phases[1].Markers[1]) != 2 || len(l.Phases[1].Evidence[0]) != 2 {
		t.Errorf("got phases %+v, want discovery (budget 20s) and session (markers on b only, evidence on both)", l.Phases)
	}
	tr := l.Triggers
	if len(tr) != 4 || tr[0].OnVM != 0 || tr[0].On.String() != "nexus handshake ok" || tr[0].For != 3*time.Second ||
		tr[0].Do.String() != "partition a|t" || tr[0].Name != "trigger-1" {
		t.Fatalf("got triggers %+v, want trigger-1 on a's handshake marker", tr)
	}
	if tr[1].Name != "flap" || tr[1].OnVM != -1 || tr[1].At != 20*time.Second || tr[1].Do.String() != "link t down" ||
		tr[2].Do.String() != "heal split" || tr[3].Do.String() != "heal trigger-1" {
		t.Errorf("got triggers %+v, %+v, %+v, want flap at 20s setting t down, and heals of the policy's partition and trigger-1's", tr[1], tr[2], tr[3])
	}
	if tr[0].Text != `on a: "nexus handshake ok": partition a|t for 3s` {
		t.Errorf("got trigger text %q", tr[0].Text)
	}
}

// Every problem is an error naming the file, line, column and field,
// before anything starts.
func TestParseErrors(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "vmlinuz"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	const vmA = `  - {name: a, mac: "52:54:00:00:00:0a", qemu: q, expect: [{marker: up}]}`
	// One item over each bound on the number of VMs, phases, triggers,
	// disks, args and vars.
	var manyVMs, manyPhases, manyTriggers, manyDisks, manyVars []string
	for i := range maxDisks + 1 {
		manyDisks = append(manyDisks, fmt.Sprintf("{file: d%d.img, size: 1M}", i))
	}
	for i := range maxVars + 1 {
		manyVars = append(manyVars, fmt.Sprintf("V%d: x", i))
	}
	for i := range maxVMs + 1 {
		manyVMs = append(manyVMs, fmt.Sprintf("  - {name: v%d, mac: \"52:54:00:00:01:%02x\", qemu: q, expect: [{marker: up}]}", i, i))
	}
	for i := range maxPhases + 1 {
		manyPhases = append(manyPhases, fmt.Sprintf("{name: p%d, markers: {a: up}}", i))
	}
	for range maxTriggers + 1 {
		manyTriggers = append(manyTriggers, `{at: 1s, do: "link a down"}`)
	}
	tests := []struct {
		name, text, want string
	}{
		// The name makes the run directory: no path, and not left out.
		{"name-with-a-path", "name: ../x\nvms:\n" + vmA, `lab.yaml:1:7: name: "../x": want 1-64 letters, digits, '-', '_' or '.' (it names the run directory)`},
		{"name-missing", "vms:\n" + vmA, `lab.yaml:1:1: name: missing: a lab needs a name (it names the run directory)`},
		// A seed that is no unsigned integer is refused, not run as seed 0.
		{"seed-not-a-number", "name: x\nseed: abc\nvms:\n" + vmA, `lab.yaml:2:7: seed: "abc": want an unsigned 64-bit integer`},
		{"seed-negative", "name: x\nseed: -1\nvms:\n" + vmA, `lab.yaml:2:7: seed: "-1": want an unsigned 64-bit integer`},
		{"too-many-vms", "name: x\nvms:\n" + strings.Join(manyVMs, "\n"), `lab.yaml:3:3: vms: 33 items: at most 32`},
		{"too-many-phases", "name: x\nvms:\n" + vmA + "\nphases: [" + strings.Join(manyPhases, ", ") + "]", `lab.yaml:4:9: phases: 65 items: at most 64`},
		{"too-many-triggers", "name: x\nvms:\n" + vmA + "\ntriggers: [" + strings.Join(manyTriggers, ", ") + "]", `lab.yaml:4:11: triggers: 65 items: at most 64`},
		{"too-many-disks", "name: x\nvms:\n  - {name: a, mac: \"52:54:00:00:00:0a\", qemu: q, expect: [{marker: up}], disks: [" + strings.Join(manyDisks, ", ") + "]}",
			`lab.yaml:3:81: vms[0].disks: 9 items: at most 8`},
		{"too-many-args", "name: x\nvms:\n  - {name: a, mac: \"52:54:00:00:00:0a\", qemu: q, expect: [{marker: up}], args: [" + strings.Repeat("-s, ", maxArgs) + "-s]}",
			`lab.yaml:3:80: vms[0].args: 513 items: at most 512`},
		{"too-many-vars", "name: x\nvars: {" + strings.Join(manyVars, ", ") + "}\nvms:\n" + vmA, `lab.yaml:2:7: vars: 65 variables: at most 64`},
		// An expect item with no marker would never match: the run would wait out its bound.
		{"expect-without-marker", "name: x\nvms:\n  - {name: a, mac: \"52:54:00:00:00:0a\", qemu: q, expect: [{within: 5s}]}",
			`lab.yaml:3:59: vms[0].expect[0].marker: missing: what must the VM print?`},
		// A disk without a size would be an empty image the guest finds at run time.
		{"disk-without-size", "name: x\nvms:\n  - {name: a, mac: \"52:54:00:00:00:0a\", qemu: q, expect: [{marker: up}], disks: [{file: blk.img}]}",
			`lab.yaml:3:82: vms[0].disks[0]: a disk needs a file and a size`},
		// 64G and one byte is over the bound (TestParseDiskOf64G: 64G is not).
		{"disk-over-64G", "name: x\nvms:\n  - {name: a, mac: \"52:54:00:00:00:0a\", qemu: q, expect: [{marker: up}], disks: [{file: blk.img, size: \"68719476737\"}]}",
			`lab.yaml:3:104: vms[0].disks[0].size: 68719476737: want a size above zero and at most 64G`},
		// A port in two groups of a partition is refused at load, not when the trigger fires.
		{"trigger-port-in-two-groups", "name: x\nvms:\n" + vmA + "\ntriggers: [{at: 1s, do: \"partition a|a\"}]",
			`lab.yaml:4:25: triggers[0].do: "partition a|a": port "a" is in two groups`},
		// Two triggers of one name would make two partitions of that name, and heal NAME ambiguous.
		{"trigger-name-twice", "name: x\nvms:\n" + vmA + "\ntriggers: [{name: cut, at: 1s, do: \"link a down\"}, {name: cut, at: 2s, do: \"link a up\"}]",
			`lab.yaml:4:59: triggers[1].name: "cut": another trigger has that name`},
		{"trigger-named-like-another-by-default", "name: x\nvms:\n" + vmA + "\ntriggers: [{name: trigger-2, at: 1s, do: \"link a down\"}, {at: 2s, do: \"link a up\"}]",
			`lab.yaml:4:19: triggers[0].name: "trigger-2": another trigger has that name`},
		{"unknown-key", "name: x\ncolour: red\nvms:\n" + vmA, `lab.yaml:2:1: colour: unknown field "colour" (known: name, timeout, seed, vars, hub, vms, phases, triggers)`},
		{"misspelt-key", "name: x\ntimout: 9s\nvms:\n" + vmA, `lab.yaml:2:1: timout: unknown field "timout", did you mean "timeout"?`},
		{"var-twice", "name: x\nvars: {K: 1, K: 2}\nvms:\n" + vmA, `lab.yaml:2:14: vars.K: given twice (first at line 2, column 8)`},
		{"exit_ok-not-a-status", "name: x\nvms:\n  - {name: a, mac: \"52:54:00:00:00:0a\", qemu: q, expect: [{marker: up}], exit_ok: [0, 256, x]}",
			`lab.yaml:3:87: vms[0].exit_ok[1]: "256": want an exit status, 0 to 255` + "\n" + `lab.yaml:3:92: vms[0].exit_ok[2]: "x": want an exit status, 0 to 255`},
		{"exit_ok-empty", "name: x\nvms:\n  - {name: a, mac: \"52:54:00:00:00:0a\", qemu: q, expect: [{marker: up}], exit_ok: []}",
			`lab.yaml:3:83: vms[0].exit_ok: empty: give the exit statuses that end the VM's QEMU cleanly (default [0])`},
		{"bad-timeout", "name: x\ntimeout: soon\nvms:\n" + vmA, `lab.yaml:2:10: timeout: "soon": want a duration such as 60s or 1m30s`},
		{"timeout-over-a-day", "name: x\ntimeout: 25h\nvms:\n" + vmA, `lab.yaml:2:10: timeout: 25h: at most 24h0m0s`},
		{"fail_on-list-over-bound", "name: x\nvms:\n  - {name: a, mac: \"52:54:00:00:00:0a\", qemu: q, expect: [{marker: up}], fail_on: [" + strings.Repeat("x, ", maxMarkers) + "x]}",
			`vms[0].fail_on: 257 items: at most 256`},
		{"zero-within", "name: x\nvms:\n  - {name: a, mac: \"52:54:00:00:00:0a\", qemu: q, expect: [{marker: up, within: 0s}]}",
			`lab.yaml:3:80: vms[0].expect[0].within: 0s: want a duration above zero`},
		{"missing-kernel", "name: x\nvms:\n  - name: a\n    mac: 52:54:00:00:00:0a\n    qemu: q\n    args: [-kernel, nope, -initrd, vmlinuz]\n    expect: [{marker: up}]",
			`lab.yaml:6:21: vms[0].args[1]: -kernel nope: no such file (relative paths are relative to the lab file)`},
		{"missing-kernel-double-dash", "name: x\nvms:\n  - name: a\n    mac: 52:54:00:00:00:0a\n    qemu: q\n    args: [--kernel, nope]\n    expect: [{marker: up}]",
			`lab.yaml:6:22: vms[0].args[1]: --kernel nope: no such file (relative paths are relative to the lab file)`},
		{"arg-after-a-bad-one", "name: x\nvms:\n  - name: a\n    mac: 52:54:00:00:00:0a\n    qemu: q\n    args: [[-kernel], nope]\n    expect: [{marker: up}]",
			`lab.yaml:6:12: vms[0].args[0]: want a string, got a list`},
		{"unknown-var", "name: x\nvms:\n  - name: a\n    mac: 52:54:00:00:00:0a\n    qemu: q\n    args: [-append, \"${GUEST}/x\"]\n    expect: [{marker: up}]",
			`lab.yaml:6:21: vms[0].args[1]: ${GUEST}: no such variable (vars: and --var define them; l2hub fills in LAB, NETDEV, MAC, RUN, SEED, VM)`},
		{"own-netdev", "name: x\nvms:\n  - name: a\n    mac: 52:54:00:00:00:0a\n    qemu: q\n    args: [-netdev, \"user,id=n0\"]\n    expect: [{marker: up}]",
			`lab.yaml:6:11: vms[0].args: has its own -netdev: write ${NETDEV}`},
		{"unknown-var-near", "name: x\nvars: {GUEST: /g}\nvms:\n  - name: a\n    mac: 52:54:00:00:00:0a\n    qemu: q\n    args: [-append, \"${GEUST}/x\"]\n    expect: [{marker: up}]",
			`vms[0].args[1]: ${GEUST}: no such variable (vars: and --var define them; l2hub fills in LAB, NETDEV, MAC, RUN, SEED, VM); did you mean ${GUEST}?`},
		{"mac-var-without-mac", "name: x\nvms:\n  - name: a\n    qemu: q\n    args: [-netdev, \"${NETDEV}\", -device, \"virtio-net-pci,netdev=n0,mac=${MAC}\"]\n    expect: [{marker: up}]",
			`lab.yaml:3:5: vms[0].mac: missing: the VM's NIC needs a MAC`},
		{"phase-twice-in-another-case", "name: x\nvms:\n" + vmA + "\nphases: [{name: boot, markers: {a: up}}, {name: Boot, markers: {a: up}}]",
			`phases[1].name: "Boot": there is already a phase of that name`},
		{"qemu-missing", "name: x\nvms:\n  - {name: a, mac: \"52:54:00:00:00:0a\", expect: [{marker: up}]}", `lab.yaml:3:5: vms[0].qemu: missing: name the QEMU binary`},
		{"qemu-empty", "name: x\nvms:\n  - {name: a, mac: \"52:54:00:00:00:0a\", qemu: \"\", expect: [{marker: up}]}", `lab.yaml:3:47: vms[0].qemu: empty: name the QEMU binary`},
		{"phase-end", "name: x\nvms:\n" + vmA + "\nphases: [{name: end, markers: {a: up}}]", `phases[0].name: "end": the runner's own codes use it (END_TIMEOUT, END_<VM>_ENDED: a marker still owed after the last phase): name the phase otherwise`},
		{"phase-soak", "name: x\nvms:\n" + vmA + "\nphases: [{name: Soak, markers: {a: up}}]", `phases[0].name: "Soak": the runner's own codes use it (SOAK_TIMEOUT`},
		{"phase-run", "name: x\nvms:\n" + vmA + "\nphases: [{name: run, markers: {a: up}}]", `phases[0].name: "run": the runner's own codes use it (RUN_TIMEOUT`},
		{"own-netdev-two-dashes", "name: x\nvms:\n  - name: a\n    mac: 52:54:00:00:00:0a\n    qemu: q\n    args: [--netdev, \"user,id=u0\", -device, \"virtio-net-pci,netdev=u0\"]\n    expect: [{marker: up}]",
			`lab.yaml:6:11: vms[0].args: has its own --netdev: write ${NETDEV}`},
		{"device-on-n0-without-netdev", "name: x\nvms:\n  - name: a\n    mac: 52:54:00:00:00:0a\n    qemu: q\n    args: [-m, 64M, -device, \"e1000,netdev=n0\"]\n    expect: [{marker: up}]",
			`lab.yaml:6:11: vms[0].args: has a -device on netdev n0 without ${NETDEV}: the run appends its own (-netdev ...,id=n0 -device virtio-net-pci,netdev=n0,mac=...), and QEMU would refuse a second device on n0; give the model as nic: (nic: e1000) instead of the -device, or write -netdev ${NETDEV} too`},
		{"device-on-n0-with-nic", "name: x\nvms:\n  - name: a\n    mac: 52:54:00:00:00:0a\n    qemu: q\n    nic: e1000\n    args: [-m, 64M, -device, \"e1000,netdev=n0\"]\n    expect: [{marker: up}]",
			`lab.yaml:7:11: vms[0].args: has a -device on netdev n0 without ${NETDEV}: the run appends its own (-netdev ...,id=n0 -device e1000,netdev=n0,mac=...), and QEMU would refuse a second device on n0; remove the -device, as nic: (e1000) gives the model already, or write -netdev ${NETDEV} too`},
		{"own-nic", "name: x\nvms:\n  - name: a\n    mac: 52:54:00:00:00:0a\n    qemu: q\n    args: [-nic, \"user,model=virtio-net-pci\", -netdev, \"${NETDEV}\"]\n    expect: [{marker: up}]",
			`lab.yaml:6:11: vms[0].args: has its own -nic: it adds a NIC that is not on the hub`},
		{"own-net", "name: x\nvms:\n  - name: a\n    mac: 52:54:00:00:00:0a\n    qemu: q\n    args: [-net, nic, -net, user]\n    expect: [{marker: up}]",
			`lab.yaml:6:11: vms[0].args: has its own -net: it adds a NIC that is not on the hub`},
		{"netdev-unfillable", "name: x\nhub: {ports: [{name: h, transport: tap, address: l2h0}]}\nvms:\n  - {name: a, mac: \"52:54:00:00:00:0a\", qemu: q, port: h, expect: [{marker: up}]}",
			`lab.yaml:4:56: vms[0].port: "h" is a tap port: it has no QEMU netdev to fill ${NETDEV} with`},
		{"unknown-port", "name: x\nvms:\n  - {name: a, mac: \"52:54:00:00:00:0a\", qemu: q, port: z, expect: [{marker: up}]}",
			`lab.yaml:3:56: vms[0].port: "z": no such port in hub.ports (it has none)`},
		{"port-named-like-a-vm", "name: x\nhub: {ports: [{name: a, transport: tcp, address: \"127.0.0.1:0\"}]}\nvms:\n" + vmA,
			`lab.yaml:2:22: hub.ports[0].name: "a" is also VM a's name`},
		{"hub-error-keeps-its-line", "name: x\nhub:\n  mode: router\nvms:\n" + vmA, `lab.yaml:3:9: hub.mode: unknown mode "router"`},
		{"hub-not-a-mapping", "name: x\nhub: 3\nvms:\n" + vmA, `lab.yaml:2:6: hub: want a mapping, got "3"`},
		{"hub-capture", "name: x\nhub: {capture: {file: x.pcapng}}\nvms:\n" + vmA, `lab.yaml:2:7: hub.capture: a lab records its own capture`},
		{"vm-named-hub", "name: x\nvms:\n" + strings.Replace(vmA, "name: a", "name: hub", 1),
			`lab.yaml:3:12: vms[0].name: "hub": the VM's console log would be hub.log, which the run keeps for its own use in the run directory`},
		{"vm-named-hub-after-no-vm", "name: x\nvms:\n  - 3\n" + strings.Replace(vmA, "name: a", "name: hub", 1),
			`lab.yaml:4:12: vms[1].name: "hub": the VM's console log would be hub.log`},
		{"unknown-port-after-no-vm", "name: x\nvms:\n  - 3\n  - {name: a, mac: \"52:54:00:00:00:0a\", qemu: q, port: z, expect: [{marker: up}]}",
			`lab.yaml:4:56: vms[1].port: "z": no such port in hub.ports (it has none)`},
		{"port-named-like-a-vm-after-no-vm", "name: x\nhub: {ports: [{name: a, transport: tcp, address: \"127.0.0.1:0\"}]}\nvms:\n  - 3\n" + vmA,
			`lab.yaml:2:22: hub.ports[0].name: "a" is also VM a's name: give vms[1] port: a`},
		{"vm-named-lab", "name: x\nvms:\n" + strings.Replace(vmA, "name: a", "name: lab", 1), `vms[0].name: "lab": the VM's console log would be lab.log`},
		{"vm-named-ctl", "name: x\nvms:\n" + strings.Replace(vmA, "name: a", "name: ctl", 1), `vms[0].name: "ctl": the VM's hub socket would be ctl.sock`},
		{"disk-named-summary", "name: x\nvms:\n  - {name: a, mac: \"52:54:00:00:00:0a\", qemu: q, expect: [{marker: up}], disks: [{file: summary.json, size: 1M}]}",
			`lab.yaml:3:89: vms[0].disks[0].file: "summary.json" is a file the run makes in its directory`},
		{"disk-named-capture", "name: x\nvms:\n  - {name: a, mac: \"52:54:00:00:00:0a\", qemu: q, expect: [{marker: up}], disks: [{file: capture.pcapng, size: 1M}]}",
			`vms[0].disks[0].file: "capture.pcapng" is a file the run makes in its directory`},
		{"disk-named-another-vms-log", "name: x\nvms:\n  - {name: a, mac: \"52:54:00:00:00:0a\", qemu: q, expect: [{marker: up}], disks: [{file: b.log, size: 1M}]}\n" + strings.Replace(strings.Replace(vmA, "name: a", "name: b", 1), "0a", "0b", 1),
			`lab.yaml:3:89: vms[0].disks[0].file: "b.log" is VM b's console log in the run directory`},
		{"disk-named-its-socket", "name: x\nvms:\n  - {name: a, mac: \"52:54:00:00:00:0a\", qemu: q, expect: [{marker: up}], disks: [{file: a.sock, size: 1M}]}",
			`vms[0].disks[0].file: "a.sock" is VM a's hub socket in the run directory`},
		{"disk-file-twice", "name: x\nvms:\n  - {name: a, mac: \"52:54:00:00:00:0a\", qemu: q, expect: [{marker: up}], disks: [{file: blk.img, size: 1M}]}\n  - {name: b, mac: \"52:54:00:00:00:0b\", qemu: q, expect: [{marker: up}], disks: [{file: blk.img, size: 1M}]}",
			`lab.yaml:4:89: vms[1].disks[0].file: "blk.img" is already the file of VM a's disk vms[0].disks[0] (line 3): name the disk otherwise`},
		{"disk-file-twice-before-the-vms-name", "name: x\nvms:\n  - disks: [{file: blk.img, size: 1M}, {file: blk.img, size: 2M}]\n    name: a\n    mac: 52:54:00:00:00:0a\n    qemu: q\n    expect: [{marker: up}]",
			`lab.yaml:3:47: vms[0].disks[1].file: "blk.img" is already the file of VM a's disk vms[0].disks[0] (line 3): name the disk otherwise`},
		{"no-vms", "name: x\nvms: []", `lab.yaml:2:6: vms: empty`},
		{"duplicate-vm", "name: x\nvms:\n" + vmA + "\n" + strings.Replace(vmA, "0a", "0b", 1), `lab.yaml:4:12: vms[1].name: "a" is already the name of the VM at line 3`},
		{"duplicate-mac", "name: x\nvms:\n" + vmA + "\n" + strings.Replace(vmA, "name: a", "name: b", 1), `lab.yaml:4:20: vms[1].mac: 52:54:00:00:00:0a is already VM a's`},
		{"no-mac", "name: x\nvms:\n  - {name: a, qemu: q, expect: [{marker: up}]}", `lab.yaml:3:5: vms[0].mac: missing`},
		{"multicast-mac", "name: x\nvms:\n  - {name: a, mac: \"01:00:5e:00:00:01\", qemu: q, expect: [{marker: up}]}", `vms[0].mac: 01:00:5e:00:00:01 is a multicast address`},
		{"zero-mac", "name: x\nvms:\n  - {name: a, mac: \"00:00:00:00:00:00\", qemu: q, expect: [{marker: up}]}", `lab.yaml:3:20: vms[0].mac: 00:00:00:00:00:00 is the all-zero address`},
		{"qemu-not-found", "name: x\nvms:\n  - {name: a, mac: \"52:54:00:00:00:0a\", qemu: ./nope, expect: [{marker: up}]}", `vms[0].qemu: ./nope: no such file or directory`},
		{"bad-regexp", "name: x\nvms:\n  - {name: a, mac: \"52:54:00:00:00:0a\", qemu: q, fail_on: [\"/(/\"], expect: [{marker: up}]}", `vms[0].fail_on[0]: /(/: error parsing regexp`},
		{"escape-in-marker", "name: x\nvms:\n  - {name: a, mac: \"52:54:00:00:00:0a\", qemu: q, expect: [{marker: \"\\e[32mOK\\e[0m\"}]}",
			`lab.yaml:3:68: vms[0].expect[0].marker: "\x1b[32mOK\x1b[0m" holds ESC, which begins an escape sequence: lines are matched as a terminal shows them`},
		{"escape-in-fail-on", "name: x\nvms:\n  - {name: a, mac: \"52:54:00:00:00:0a\", qemu: q, fail_on: ['/\\x1b\\[31mFAIL/'], expect: [{marker: up}]}",
			`lab.yaml:3:60: vms[0].fail_on[0]: "/\\x1b\\[31mFAIL/" holds ESC`},
		{"escape-in-trigger", "name: x\nvms:\n" + vmA + "\ntriggers: [{on: \"a: \\e[1mready\", do: \"link a down\"}]",
			`lab.yaml:4:17: triggers[0].on: "\x1b[1mready" holds ESC`},
		{"nothing-to-wait-for", "name: x\nvms:\n  - {name: a, mac: \"52:54:00:00:00:0a\", qemu: q}", `lab.yaml:1:1: nothing to wait for`},
		{"phase-unknown-vm", "name: x\nvms:\n" + vmA + "\nphases: [{name: p, markers: {c: up}}]", `lab.yaml:4:30: phases[0].markers.c: no VM named "c" (VMs: a)`},
		{"phase-no-markers", "name: x\nvms:\n" + vmA + "\nphases: [{name: p}]", `lab.yaml:4:10: phases[0].markers: missing`},
		{"phase-markers-empty", "name: x\nvms:\n" + vmA + "\nphases: [{name: p, markers: {a: []}}]", `lab.yaml:4:10: phases[0].markers: missing: a phase waits for at least one marker`},
		{"phase-bad-name", "name: x\nvms:\n" + vmA + "\nphases: [{name: \"two words\", markers: {a: up}}]", `phases[0].name: "two words": want a name`},
		{"vm-codes-collide", "name: x\nvms:\n" + strings.Replace(vmA, "name: a", "name: node-a", 1) + "\n" + strings.Replace(strings.Replace(vmA, "name: a", "name: node_a", 1), "0a", "0b", 1),
			`lab.yaml:4:12: vms[1].name: "node_a" makes the same failure codes as VM node-a (<PHASE>_NODE_A_ENDED)`},
		{"phase-codes-collide", "name: x\nvms:\n" + vmA + "\nphases: [{name: mux-up, markers: {a: up}}, {name: mux_up, markers: {a: up}}]",
			`lab.yaml:4:51: phases[1].name: "mux_up" makes the same failure codes as phase mux-up (MUX_UP_TIMEOUT)`},
		{"budget-over-within", "name: x\nvms:\n" + vmA + "\nphases: [{name: p, markers: {a: up}, within: 5s, budget: 9s}]", `lab.yaml:4:58: phases[0].budget: 9s is above within (5s)`},
		{"trigger-unknown-vm", "name: x\nvms:\n" + vmA + "\ntriggers: [{on: \"c: up\", do: \"link a down\"}]", `lab.yaml:4:17: triggers[0].on: "c: up": want "VM: marker", with a VM of the lab (a)`},
		{"trigger-unknown-port", "name: x\nvms:\n" + vmA + "\ntriggers: [{at: 1s, do: \"partition a|z\"}]", `lab.yaml:4:25: triggers[0].do: "partition a|z": no port or VM "z" (ports: a)`},
		{"trigger-one-group", "name: x\nvms:\n" + vmA + "\ntriggers: [{at: 1s, do: \"partition a\"}]", `one group separates nothing`},
		{"trigger-on-and-at", "name: x\nvms:\n" + vmA + "\ntriggers: [{on: \"a: up\", at: 1s, do: \"link a down\"}]", `lab.yaml:4:30: triggers[0].at: give on: or at:, not both`},
		{"trigger-after-timeout", "name: x\ntimeout: 10s\nvms:\n" + vmA + "\ntriggers: [{at: 10s, do: \"link a down\"}]", `triggers[0].at: 10s is not before the run's timeout (10s)`},
		{"trigger-heal-for", "name: x\nvms:\n" + vmA + "\ntriggers: [{at: 1s, do: \"heal x\", for: 1s}]", `triggers[0].for: a heal cannot be undone`},
		{"heal-link-trigger", "name: x\nvms:\n" + vmA + "\ntriggers:\n  - {name: cut, at: 1s, do: \"partition a|h\"}\n  - {name: flap, at: 1s, do: \"link a down\", for: 1s}\n  - {at: 2s, do: \"heal flap\"}\nhub: {ports: [{name: h, transport: tcp, address: \"127.0.0.1:0\"}]}",
			`lab.yaml:7:18: triggers[2].do: "heal flap": trigger "flap" makes no partition, and heal ends a partition (partitions: cut)`},
		{"heal-typo", "name: x\nvms:\n" + vmA + "\ntriggers:\n  - {at: 2s, do: \"heal splti\"}\n  - {name: split, at: 1s, do: \"partition a|h\"}\nhub: {ports: [{name: h, transport: tcp, address: \"127.0.0.1:0\"}]}",
			`triggers[0].do: "heal splti": no partition named "splti" (partitions: split); did you mean heal split?`},
		{"heal-default-name", "name: x\nvms:\n" + vmA + "\ntriggers:\n  - {at: 1s, do: \"partition a|h\"}\n  - {at: 2s, do: \"heal trigger-l\"}\nhub: {ports: [{name: h, transport: tcp, address: \"127.0.0.1:0\"}]}",
			`triggers[1].do: "heal trigger-l": no partition named "trigger-l" (partitions: trigger-1); did you mean heal trigger-1?`},
		{"heal-no-partition", "name: x\nvms:\n" + vmA + "\ntriggers: [{at: 1s, do: \"heal nosuch\"}]",
			`"heal nosuch": no partition named "nosuch" (the lab has none: no partition trigger, none in the policy)`},
		{"trigger-without-control", "name: x\nhub: {control: \"off\"}\nvms:\n" + vmA + "\ntriggers: [{at: 1s, do: \"link a down\"}]", `triggers: the hub's control API is off`},
		{"alias", "name: x\nvms:\n  - &v {name: a, mac: \"52:54:00:00:00:0a\", qemu: q, expect: [{marker: up}]}\n  - *v", `lab.yaml:4:5: YAML aliases are not supported in a lab file`},
		{"not-yaml", "name: [x", `lab.yaml:1: did not find expected`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("lab.yaml", dir, []byte(tt.text), LoadOptions{LookPath: fakeLookPath})
			if err != nil && (strings.HasPrefix(tt.name, "heal-") || strings.HasSuffix(tt.name, "-mac")) && strings.Count(err.Error(), "\n") > 0 {
				t.Errorf("got more than one problem:\n%v", err)
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got Parse error\n%v\nwant one containing\n%s", err, tt.want)
			}
		})
	}
}

// An expect bound beyond the run's timeout reads, but cannot apply (the
// run ends first; only --soak extends it): a warning.
func TestParseWarnsWithinOverTimeout(t *testing.T) {
	l := mustParse(t, t.TempDir(), "name: x\ntimeout: 1m\nvms:\n  - {name: a, mac: \"52:54:00:00:00:0a\", qemu: q, expect: [{marker: up, within: 2m}, {marker: down, within: 1m}]}")
	want := "lab.yaml:4:80: vms[0].expect[0].within: 2m0s is above the run's timeout (1m0s): the run ends before this bound does"
	if got := strings.Join(l.Warnings, "\n"); got != want {
		t.Errorf("got warnings %q, want %q", got, want)
	}
}

// Problems are listed in file order, also those found late: a VM's args
// are read after its other keys, the hub after the VMs.
func TestParseErrorsInFileOrder(t *testing.T) {
	const text = `name: x
vms:
  - name: a
    mac: 52:54:00:00:00:0a
    qemu: q
    args: [-kernel, nope]
    expect: [{marker: up, within: soon}]
`
	_, err := Parse("lab.yaml", t.TempDir(), []byte(text), LoadOptions{LookPath: fakeLookPath})
	if err == nil {
		t.Fatal("got no error, want two")
	}
	var lines []string
	for _, l := range strings.Split(err.Error(), "\n") {
		lines = append(lines, strings.SplitN(l, ": ", 2)[0])
	}
	if want := []string{"lab.yaml:6:21", "lab.yaml:7:35"}; !slices.Equal(lines, want) {
		t.Errorf("got problems at %q, want %q:\n%v", lines, want, err)
	}
}

// The hub section's problems are reported with the others, in file order,
// each under hub.: its keys (an unknown one is offered the keys a lab takes,
// capture not among them), the values serve refuses, the policy file that
// cannot be read; a VM's problem does not hide them.
func TestParseHubErrorsTogether(t *testing.T) {
	const text = `name: x
hub:
  chek: nexus-v1
  capture: {file: x.pcapng}
  policy: nofile.yaml
  queue: many
  ports: [{name: h, transport: tcp, address: "127.0.0.1:0", colour: red}]
vms:
  - {name: a, mac: "52:54:00:00:00:0a", qemu: q, expect: [{marker: up, within: soon}]}
`
	_, err := Parse("lab.yaml", t.TempDir(), []byte(text), LoadOptions{LookPath: fakeLookPath})
	if err == nil {
		t.Fatal("got no error, want six")
	}
	got := strings.Split(err.Error(), "\n")
	want := []string{
		`lab.yaml:3:3: hub.chek: unknown field "chek", did you mean "check"? (known: ` + strings.Join(hubKeys, ", ") + `)`,
		`lab.yaml:4:3: hub.capture: a lab records its own capture (capture.pcapng in the run directory); leave this out`,
		`lab.yaml:5:11: hub.policy: open `,
		`lab.yaml:6:10: hub.queue: want a whole number, got "many"`,
		`lab.yaml:7:61: hub.ports[0].colour: unknown field "colour"`,
		`lab.yaml:9:80: vms[0].expect[0].within: "soon": want a duration`,
	}
	if len(got) != len(want) {
		t.Fatalf("got %d problems:\n%v\nwant %d", len(got), err, len(want))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("got problem %d\n  %s\nwant it to begin\n  %s", i+1, got[i], want[i])
		}
	}
	if strings.Contains(got[0], "capture") {
		t.Errorf("got %q, want capture not offered", got[0])
	}
}

// hubKeys are serve's config keys but capture: every key of a serve
// config, as it writes one.
func TestHubKeys(t *testing.T) {
	data, err := yaml.Marshal(serve.Config{})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	delete(m, "capture")
	if got, want := slices.Sorted(slices.Values(hubKeys)), slices.Sorted(maps.Keys(m)); !slices.Equal(got, want) {
		t.Errorf("got hub keys %q, want serve's but capture, %q", got, want)
	}
}

// A file not found is told that relative paths start at the lab file only
// when its path is relative.
func TestParseRelativePathHint(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "nope")
	for _, tc := range []struct {
		name, qemu, kernel, want string
	}{
		{"relative-kernel", "q", "nope", `vms[0].args[1]: -kernel nope: no such file (relative paths are relative to the lab file)`},
		{"absolute-kernel", "q", missing, `vms[0].args[1]: -kernel ` + missing + `: no such file`},
		{"relative-qemu", "./nope", "/", `vms[0].qemu: ./nope: no such file or directory (relative paths are relative to the lab file)`},
		{"absolute-qemu", missing, "/", `vms[0].qemu: ` + missing + `: no such file or directory`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text := fmt.Sprintf("name: x\nvms:\n  - {name: a, mac: \"52:54:00:00:00:0a\", qemu: %q, args: [-kernel, %q], expect: [{marker: up}]}", tc.qemu, tc.kernel)
			_, err := Parse("lab.yaml", dir, []byte(text), LoadOptions{LookPath: fakeLookPath})
			if err == nil || !strings.HasPrefix(err.Error(), "lab.yaml:3:") || !strings.Contains(err.Error(), ": "+tc.want) ||
				strings.Count(err.Error(), "relative") != strings.Count(tc.want, "relative") {
				t.Errorf("got Parse error\n%v\nwant lab.yaml:3:COL: %s", err, tc.want)
			}
		})
	}
}

// A phase whose markers name no VM of the lab has that one problem, not a
// second one saying it has no markers.
func TestParsePhaseUnknownVMIsOneProblem(t *testing.T) {
	const text = "name: x\nvms:\n  - {name: a, mac: \"52:54:00:00:00:0a\", qemu: q, expect: [{marker: up}]}\nphases: [{name: p, markers: {c: up}}]"
	_, err := Parse("lab.yaml", t.TempDir(), []byte(text), LoadOptions{LookPath: fakeLookPath})
	const want = `lab.yaml:4:30: phases[0].markers.c: no VM named "c" (VMs: a)`
	if err == nil || err.Error() != want {
		t.Errorf("got Parse error\n%v\nwant exactly\n%s", err, want)
	}
}

// A --var sets a variable vars: defines, or adds one a ${...} of qemu: or
// args: uses; any other name is a typo, refused with the nearest name.
func TestParseVarNames(t *testing.T) {
	dir := t.TempDir()
	const text = "name: x\nvars: {GUEST: g, SPARE: s}\nvms:\n  - {name: a, mac: \"52:54:00:00:00:0a\", qemu: \"${Q}\", args: [\"${GUEST}/vmlinuz\", \"${RUN}\"], expect: [{marker: up}]}"
	for _, tc := range []struct {
		name string
		vars map[string]string
		want string // the error, "" for none
	}{
		{"defined-and-used", map[string]string{"GUEST": "h", "Q": "q"}, ""},
		{"defined-not-used", map[string]string{"SPARE": "t", "Q": "q"}, ""},
		{"used-not-defined", map[string]string{"Q": "q"}, ""},
		{"a-typo", map[string]string{"Q": "q", "GEST": "h"},
			"lab.yaml: --var GEST: the lab file has no ${GEST} (in vars:, qemu: or args:), did you mean GUEST? (its variables: GUEST, Q, SPARE)"},
		{"nothing-near", map[string]string{"Q": "q", "ZZZZZZ": "h"},
			"lab.yaml: --var ZZZZZZ: the lab file has no ${ZZZZZZ} (in vars:, qemu: or args:) (its variables: GUEST, Q, SPARE)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := Parse("lab.yaml", dir, []byte(text), LoadOptions{LookPath: fakeLookPath, Vars: tc.vars})
			if tc.want == "" {
				if err != nil {
					t.Fatalf("got Parse error %v, want none", err)
				}
				if got, want := l.VMs[0].QEMU, "/usr/bin/q"; got != want {
					t.Errorf("got qemu %q, want %q", got, want)
				}
				return
			}
			if err == nil || err.Error() != tc.want {
				t.Errorf("got Parse error\n%v\nwant\n%s", err, tc.want)
			}
		})
	}
}

// --var overrides the file's vars; ${LAB} is the file's directory.
func TestParseVars(t *testing.T) {
	dir := t.TempDir()
	const text = "name: x\nvars: {G: one}\nvms:\n  - {name: a, mac: \"52:54:00:00:00:0a\", qemu: q, args: [\"${G}:${LAB}\"], expect: [{marker: up}]}"
	l, err := Parse("lab.yaml", dir, []byte(text), LoadOptions{LookPath: fakeLookPath, Vars: map[string]string{"G": "two"}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := l.VMs[0].Args[0], "two:"+dir; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	_, err = Parse("lab.yaml", dir, []byte(text), LoadOptions{LookPath: fakeLookPath, Vars: map[string]string{"NETDEV": "x"}})
	if err == nil || !strings.Contains(err.Error(), "--var NETDEV: not a variable a lab file can set") {
		t.Errorf("got %v, want --var NETDEV refused", err)
	}
}

// A variable can be used many times over, so its value is bounded where it
// is used: each argument (and the QEMU binary) once filled in to maxArg
// bytes, and a VM's arguments together to maxVMArgBytes. The error is at
// the argument that passed the bound, and only there.
func TestParseExpansionBounds(t *testing.T) {
	x := strings.Repeat("x", 8000)
	args := func(n int, arg string) string {
		return "    args:\n      - -m\n      - 64\n" + strings.Repeat("      - \""+arg+"\"\n", n)
	}
	const head = "name: x\nvars: {A: %s}\nvms:\n  - name: a\n    mac: 52:54:00:00:00:0a\n    qemu: %s\n"
	tests := []struct {
		name, text, want string
	}{
		{"one-arg", fmt.Sprintf(head, x, "q") + args(1, "${A}${A}"),
			`lab.yaml:10:9: vms[0].args[2]: more than 8192 bytes once ${...} are filled in: at most 8192`},
		{"qemu", fmt.Sprintf(head, x, "${A}/${A}"),
			`lab.yaml:6:11: vms[0].qemu: more than 8192 bytes once ${...} are filled in: at most 8192`},
		// 131 arguments of 8000 bytes fit in 1 MiB, the 132nd does not.
		{"all-args", fmt.Sprintf(head, x, "q") + args(140, "${A}"),
			`lab.yaml:141:9: vms[0].args[133]: with this one the VM's arguments come to more than 1048576 bytes once ${...} are filled in: at most that many (1 MiB) in all`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("lab.yaml", t.TempDir(), []byte(tt.text), LoadOptions{LookPath: fakeLookPath})
			if err == nil || err.Error() != tt.want {
				t.Errorf("got Parse error\n%.300v\nwant exactly\n%s", err, tt.want)
			}
		})
	}
}

// A small lab file that uses a big variable many times costs a parse of
// its size, not of what it would expand to (136 KiB once came to 481 MB).
func TestParseExpansionCost(t *testing.T) {
	arg := strings.Repeat("${A}", 2000)
	text := "name: x\nvars: {A: " + strings.Repeat("x", 8000) + "}\nvms:\n  - name: a\n    mac: 52:54:00:00:00:0a\n    qemu: q\n    args:\n" +
		strings.Repeat("      - \""+arg+"\"\n", 16) + "    expect: [{marker: up}]\n"
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := Parse("lab.yaml", t.TempDir(), []byte(text), LoadOptions{LookPath: fakeLookPath})
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), "more than 8192 bytes once ${...} are filled in") {
		t.Errorf("got Parse error %.300v, want each argument too long", err)
	}
	if got, limit := after.TotalAlloc-before.TotalAlloc, uint64(64<<20); got > limit {
		t.Errorf("got Parse allocating %d bytes for a %d-byte file, want at most %d", got, len(text), limit)
	}
}

// Load reads a file and takes its directory for relative paths; a file
// that is not a lab (too big) is refused without being parsed.
func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "lab.yaml")
	if err := os.WriteFile(path, []byte("name: x\nvms:\n  - {name: a, mac: \"52:54:00:00:00:0a\", qemu: q, expect: [{marker: up}]}"), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := Load(path, LoadOptions{LookPath: fakeLookPath})
	if err != nil || l.Dir != dir || l.File != path {
		t.Fatalf("got Load = %+v, %v, want the lab with dir %s", l, err, dir)
	}
	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, make([]byte, maxFileBytes+1), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(big, LoadOptions{}); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("got %v, want a too-large error", err)
	}
}

// TestLoadTokenInFile: a lab file whose hub gives control_token must be
// as private as a token file, as serve --config's is; one that gives
// control_token_file need not be.
func TestLoadTokenInFile(t *testing.T) {
	dir := t.TempDir()
	const vms = "vms:\n  - {name: a, mac: \"52:54:00:00:00:0a\", qemu: q, expect: [{marker: up}]}\n"
	for _, tc := range []struct {
		name, hub string
		mode      os.FileMode
		ok        bool
	}{
		{"token-private", "hub: {control_token: a-token-of-enough-length-0123456789}\n", 0o600, true},
		{"token-group-readable", "hub: {control_token: a-token-of-enough-length-0123456789}\n", 0o640, false},
		{"token-world-readable", "hub: {control_token: a-token-of-enough-length-0123456789}\n", 0o644, false},
		{"token-file-readable", "hub: {control_token_file: ctl.tok}\n", 0o644, true},
		{"no-token-readable", "", 0o644, true},
		{"token-variable", "hub: {control_token: \"${CI_TOKEN}\"}\n", 0o600, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name+".yaml")
			if err := os.WriteFile(path, []byte("name: x\n"+tc.hub+vms), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, tc.mode); err != nil {
				t.Fatal(err)
			}
			_, err := Load(path, LoadOptions{LookPath: fakeLookPath})
			if tc.ok && err != nil {
				t.Errorf("got Load = %v, want the lab", err)
			}
			want := "other users can read it"
			if tc.name == "token-variable" {
				want = "not expanded from variables"
			}
			if !tc.ok && (err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "control_token")) {
				t.Errorf("got Load = %v, want the file refused saying %q, naming control_token", err, want)
			}
		})
	}
	// Another user's file: the advice offers no variable, as a lab reads
	// none.
	if os.Getuid() != 0 {
		t.Skip("chown of another user's file needs root")
	}
	path := filepath.Join(dir, "theirs.yaml")
	if err := os.WriteFile(path, []byte("name: x\nhub: {control_token: a-token-of-enough-length-0123456789}\n"+vms), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(path, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path, LoadOptions{LookPath: fakeLookPath})
	if err == nil || !errors.Is(err, control.ErrNotYours) || strings.Contains(err.Error(), "$") {
		t.Errorf("another user's lab file with a token: got Load = %v, want it refused as not yours, offering no variable", err)
	}
}

// Any bytes are a lab or an error, never a panic, and a Lab that parses
// is one a judge can follow.
func FuzzParse(f *testing.F) {
	f.Add([]byte(pairLab))
	f.Add([]byte("name: x\nvms:\n  - {name: a, mac: \"52:54:00:00:00:0a\", qemu: q, expect: [{marker: up}]}"))
	f.Add([]byte("name: x\nvms: [{name: a, qemu: q, args: [\"${\"]}]\ntriggers: [{on: \"a: \", do: partition}]"))
	f.Add([]byte("name: x\nphases: [{name: p, markers: {a: [/x/, y]}, budget: -1s}]"))
	f.Add([]byte("name: x\nvms: [{name: a, qemu: q, args: [[x], -kernel, y, z]}]"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := Parse("fuzz.yaml", dir, data, LoadOptions{LookPath: fakeLookPath})
		if err != nil {
			return
		}
		j := newJudge(l, -1, 0, nil)
		j.line(0, time.Second, "up")
		j.exit(0, 2*time.Second, "exit status 0")
		j.tick(l.Timeout)
		if !j.done {
			t.Errorf("got a run still going after its timeout")
		}
		j.results()
	})
}

// The lab files in testdata/labs read cleanly (with the guest and the OS
// they name made up), and the RFC-0010 one has os2vm.sh's phases, budgets
// and markers.
func TestTestdataLabs(t *testing.T) {
	guest, osDir := t.TempDir(), t.TempDir()
	boot := filepath.Join(osDir, "target-os2vm", "riscv64imac-unknown-none-elf", "release")
	if err := os.MkdirAll(boot, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{filepath.Join(guest, "vmlinuz"), filepath.Join(guest, "initramfs.cpio.gz"), filepath.Join(boot, "neuron-boot.bin")} {
		if err := os.WriteFile(f, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	files, _ := filepath.Glob(filepath.Join("..", "testdata", "labs", "*.yaml"))
	if len(files) < 4 {
		t.Fatalf("got lab files %v, want pair, pair-partitioned, pair-trigger and os2vm", files)
	}
	labs := map[string]*Lab{}
	for _, f := range files {
		vars := map[string]string{"GUEST": guest}
		if filepath.Base(f) == "os2vm.yaml" {
			vars = map[string]string{"OS": osDir}
		}
		l, err := Load(f, LoadOptions{Vars: vars, LookPath: fakeLookPath})
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		labs[filepath.Base(f)] = l
	}
	os2vm := labs["os2vm.yaml"]
	if os2vm == nil {
		t.Fatal("no os2vm.yaml")
	}
	var got []string
	for _, p := range os2vm.Phases {
		got = append(got, fmt.Sprintf("%s/%s/%d+%d", p.Name, p.Budget, len(p.Markers[0]), len(p.Markers[1])))
	}
	if want := []string{"discovery/15s/1+1", "session/5s/1+1", "mux/5s/5+5", "remote/1m0s/8+2"}; !slices.Equal(got, want) {
		t.Errorf("got os2vm phases %v, want %v (os2vm.sh's, with its budgets)", got, want)
	}
	if a := os2vm.VMs[0]; a.QEMU != "/usr/bin/qemu-system-riscv64" || !slices.Contains(a.Args, "virtio-net-device,netdev=n0,mac=${MAC}") || a.Disks[0].Size != 64<<20 {
		t.Errorf("got os2vm's VM a %+v, want riscv64 virt with a virtio-net-device and a 64M disk", a)
	}
	if tr := labs["pair-trigger.yaml"].Triggers; len(tr) != 1 || tr[0].OnVM != 0 || tr[0].For != 3*time.Second {
		t.Errorf("got pair-trigger's triggers %+v, want a partition on a's marker for 3s", tr)
	}
	if tr := labs["pair-partitioned.yaml"].Triggers; len(tr) != 1 || tr[0].For != 0 {
		t.Errorf("got pair-partitioned's triggers %+v, want a partition that never heals", tr)
	}
}

// The README's lab file reference is a lab file that reads.
func TestREADMELabFile(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "### The lab file\n")
	_, block, ok2 := strings.Cut(section, "```yaml\n")
	block, _, ok3 := strings.Cut(block, "```\n")
	if !ok || !ok2 || !ok3 {
		t.Fatal("README.md has no yaml block under \"### The lab file\"")
	}
	dir, guest := t.TempDir(), t.TempDir()
	for _, f := range []string{filepath.Join(dir, "faults.yaml"), filepath.Join(dir, "boot.bin"), filepath.Join(guest, "vmlinuz"), filepath.Join(guest, "initramfs.cpio.gz")} {
		if err := os.WriteFile(f, []byte("seed: 1\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	l, err := Parse("README.md", dir, []byte(block), LoadOptions{LookPath: fakeLookPath, Vars: map[string]string{"GUEST": guest}})
	if err != nil {
		t.Fatalf("the README's lab file: %v", err)
	}
	if len(l.VMs) != 2 || len(l.Phases) != 2 || len(l.Triggers) != 4 {
		t.Errorf("got %d VMs, %d phases, %d triggers, want 2, 2, 4", len(l.VMs), len(l.Phases), len(l.Triggers))
	}
}

// -nic none and -net none add no NIC: they are no network of the VM's own.
func TestParseNoNIC(t *testing.T) {
	for _, arg := range []string{"-nic", "-net", "--nic"} {
		text := fmt.Sprintf("name: x\nvms:\n  - {name: a, mac: \"52:54:00:00:00:0a\", qemu: q, args: [%s, none], expect: [{marker: up}]}", arg)
		if _, err := Parse("lab.yaml", t.TempDir(), []byte(text), LoadOptions{LookPath: fakeLookPath}); err != nil {
			t.Errorf("%s none: got %v, want it read", arg, err)
		}
	}
}

// A QEMU whose arguments send no serial console to stdout reads, with a
// warning at its args: its console would be empty and no marker seen.
func TestParseWarnsNoSerial(t *testing.T) {
	for _, tc := range []struct {
		qemu, args, want string
	}{
		{"qemu-system-x86_64", "[-m, 128M]", `lab.yaml:3:73: vms[0].args: no -serial stdio, -serial mon:stdio or -nographic: VM a's serial console may not reach the run, and no marker can be seen`},
		{"qemu-system-x86_64", "[-serial, stdio]", ""},
		{"qemu-system-x86_64", "[--serial, \"mon:stdio\"]", ""},
		{"qemu-system-riscv64", "[-nographic]", ""},
		{"qemu-system-x86_64", "[-chardev, \"stdio,id=c0\", -serial, chardev:c0]", ""},
		{"fakeqemu", "[-m, 128M]", ""}, // not QEMU: a stand-in prints as it likes
	} {
		text := fmt.Sprintf("name: x\nvms:\n  - {name: a, mac: \"52:54:00:00:00:0a\", qemu: %s, args: %s, expect: [{marker: up}]}", tc.qemu, tc.args)
		l := mustParse(t, t.TempDir(), text)
		if got := strings.Join(l.Warnings, "\n"); got != tc.want {
			t.Errorf("%s %s: got warnings %q, want %q", tc.qemu, tc.args, got, tc.want)
		}
	}
}

// ${NETDEV} without a NIC on it (a -device with netdev=n0) reads, with a
// warning at its args: the VM would send the hub nothing.
func TestParseWarnsNetdevWithoutNIC(t *testing.T) {
	for _, tc := range []struct {
		args, want string
	}{
		{`[-netdev, "${NETDEV}"]`, `lab.yaml:3:56: vms[0].args: ${NETDEV} but no -device with netdev=n0: VM a has the hub's netdev and no NIC on it, so it sends the hub nothing (add -device virtio-net-pci,netdev=n0,mac=${MAC})`},
		{`[-netdev, "${NETDEV}", -device, "virtio-net-pci,netdev=n1"]`, `but no -device with netdev=n0`},
		{`[-netdev, "${NETDEV}", -device, "virtio-net-pci,netdev=n0,mac=${MAC}"]`, ""},
		{`[-netdev, "${NETDEV}", --device, "e1000,netdev=n0"]`, ""},
		{`[-m, 128M]`, ""}, // the run appends both
	} {
		text := fmt.Sprintf("name: x\nvms:\n  - {name: a, mac: \"52:54:00:00:00:0a\", qemu: q, args: %s, expect: [{marker: up}]}", tc.args)
		l := mustParse(t, t.TempDir(), text)
		got := strings.Join(l.Warnings, "\n")
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("%s: got warnings %q, want %q", tc.args, got, tc.want)
		}
	}
}

// The hub's socket paths are relative to the lab file, as its other paths
// are: QEMU runs in the file's directory and dials what the hub binds, so
// both must name the same file wherever the runner was started. So are
// its token files.
func TestParseHubPathsRelativeToTheFile(t *testing.T) {
	dir := t.TempDir()
	l := mustParse(t, dir, `
name: paths
hub:
  control: my-ctl.sock
  control_token_file: ctl.tok
  metrics_token_file: tokens/metrics.tok
  ports:
    - {name: t, transport: unix, address: t.sock}
    - {name: d, transport: unix-dial, address: socks/d.sock}
    - {name: g, transport: unixgram, address: g.sock, peer: g-vm.sock}
    - {name: abs, transport: unix, address: /run/abs.sock}
vms:
  - {name: a, mac: "52:54:00:00:00:0a", qemu: q, port: t, expect: [{marker: up}]}
`)
	want := map[string]string{
		"t": filepath.Join(dir, "t.sock"), "d": filepath.Join(dir, "socks/d.sock"),
		"g": filepath.Join(dir, "g.sock") + " peer " + filepath.Join(dir, "g-vm.sock"), "abs": "/run/abs.sock",
	}
	for _, spec := range l.Hub.Ports {
		got := spec.Address
		if spec.Peer != "" {
			got += " peer " + spec.Peer
		}
		if w, ok := want[spec.Name]; ok && got != w {
			t.Errorf("got port %s at %q, want %q", spec.Name, got, w)
		}
	}
	if want := filepath.Join(dir, "my-ctl.sock"); l.Hub.Control != want {
		t.Errorf("got control %q, want %q", l.Hub.Control, want)
	}
	for _, tc := range []struct{ key, got, want string }{
		{"control_token_file", l.Hub.ControlTokenFile, filepath.Join(dir, "ctl.tok")},
		{"metrics_token_file", l.Hub.MetricsTokenFile, filepath.Join(dir, "tokens", "metrics.tok")},
	} {
		if tc.got != tc.want {
			t.Errorf("got %s %q, want %q", tc.key, tc.got, tc.want)
		}
	}
	for _, tt := range []struct{ control, want string }{
		{"unix:c.sock", "unix:" + filepath.Join(dir, "c.sock")},
		{"tcp:127.0.0.1:0", "tcp:127.0.0.1:0"},
		{"off", "off"},
		{"/run/c.sock", "/run/c.sock"},
	} {
		l, err := Parse("lab.yaml", dir, []byte("name: c\nhub: {control: \""+tt.control+"\", control_token: a-token-of-enough-length-0123456789}\nvms: [{name: a, mac: \"52:54:00:00:00:0a\", qemu: q, expect: [{marker: up}]}]\n"),
			LoadOptions{LookPath: fakeLookPath})
		if err != nil {
			t.Errorf("control %q: %v", tt.control, err)
			continue
		}
		if l.Hub.Control != tt.want {
			t.Errorf("got control %q for %q, want %q", l.Hub.Control, tt.control, tt.want)
		}
	}
}

// ${LAB} is filled in as the run fills ${RUN} in: in a lab directory with
// a comma, the comma is doubled in a QEMU option string (also through a
// variable whose value holds ${LAB}), left as it is after -kernel and the
// like, and refused where l2hub cannot tell how QEMU reads it. A relative
// -initrd stays relative there: QEMU splits a multiboot kernel's at commas.
func TestParseLabDirectoryWithAComma(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "lab,1")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"vmlinuz", "initrd"} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	const text = `
name: c
vars: {D: "${LAB}/disk", R: "${RUN}/r"}
vms:
  - name: a
    mac: 52:54:00:00:00:0a
    qemu: q
    args: [-drive, "file=${LAB}/d.img,if=none", -M, "virt,dumpdtb=${D}.dtb", -blockdev, "filename=${R}", -kernel, "${LAB}/vmlinuz",
           -initrd, initrd, -dtb, vmlinuz, -append, "root=${LAB}", -device, '{"driver": "loader", "file": "${LAB}/x"}']
    expect: [{marker: up}]
`
	l := mustParse(t, dir, text)
	esc := strings.ReplaceAll(dir, ",", ",,")
	want := []string{"-drive", "file=" + esc + "/d.img,if=none", "-M", "virt,dumpdtb=" + esc + "/disk.dtb", "-blockdev", "filename=${RUN}/r",
		"-kernel", dir + "/vmlinuz", "-initrd", "initrd", "-dtb", dir + "/vmlinuz", "-append", "root=" + dir, "-device", `{"driver": "loader", "file": "` + dir + `/x"}`}
	if got := l.VMs[0].Args; !slices.Equal(got, want) {
		t.Errorf("got args\n%q\nwant\n%q", got, want)
	}

	for _, tt := range []struct{ name, args, want string }{
		{"serial", `[-serial, "file:${LAB}/s"]`,
			`lab.yaml:6:21: vms[0].args[1]: "file:${LAB}/s": ${LAB} is ` + dir + `, whose path holds a comma, and after -serial QEMU may read a comma as the end of the value`},
		{"through-a-variable", `[-initrd, "${D}"]`,
			`lab.yaml:6:21: vms[0].args[1]: "${D}": ${LAB} is ` + dir + `, whose path holds a comma, and after -initrd QEMU may read`},
		{"another-variable", `[-append, "${B}"]`,
			`lab.yaml:6:21: vms[0].args[1]: ${B} is "${A}/b": a variable's value may hold ${LAB} and the run's variables, not ${A}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			text := "name: c\nvars: {D: \"${LAB}/d\", A: a, B: \"${A}/b\"}\nvms:\n  - name: a\n    mac: 52:54:00:00:00:0a\n    args: " + tt.args + "\n    qemu: q\n    expect: [{marker: up}]\n"
			_, err := Parse("lab.yaml", dir, []byte(text), LoadOptions{LookPath: fakeLookPath})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got Parse error\n%v\nwant\n%s", err, tt.want)
			}
		})
	}
}

// A heal of no partition is reported with the hub section's problems,
// unless that section may name a policy with it: a policy: key the run
// could not read, or a key serve does not know (a mistyped policy:).
func TestParseHealWithHubErrors(t *testing.T) {
	const vmA = "vms:\n  - {name: a, mac: \"52:54:00:00:00:0a\", qemu: q, expect: [{marker: up}]}\ntriggers: [{at: 1s, do: \"heal nosuch\"}]\n"
	const heal = `triggers[0].do: "heal nosuch": no partition named "nosuch"`
	for _, tt := range []struct {
		name, hub string
		heal      bool
	}{
		{"bad-mode", "hub: {mode: bogus}\n", true},
		{"no-mapping", "hub: 5\n", true},
		{"bad-policy-file", "hub: {mode: bogus, policy: nofile.yaml}\n", false},
		{"mistyped-policy", "hub: {polcy: nofile.yaml}\n", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("lab.yaml", t.TempDir(), []byte("name: x\n"+tt.hub+vmA), LoadOptions{LookPath: fakeLookPath})
			if err == nil || !strings.Contains(err.Error(), "lab.yaml:2:") {
				t.Fatalf("got Parse error\n%v\nwant the hub section's", err)
			}
			if got := strings.Contains(err.Error(), heal); got != tt.heal {
				t.Errorf("got Parse error\n%v\nwant the heal reported: %v", err, tt.heal)
			}
		})
	}
}

// exit_ok: the exit statuses that end a VM's QEMU cleanly; 0 only without
// it.
func TestParseExitOK(t *testing.T) {
	l := mustParse(t, t.TempDir(), "name: x\nvms:\n  - {name: a, mac: \"52:54:00:00:00:0a\", qemu: q, expect: [{marker: up}], exit_ok: [1, 3]}\n  - {name: b, mac: \"52:54:00:00:00:0b\", qemu: q}")
	if got := [][]int{l.VMs[0].ExitOK, exitOKs(l.VMs[1])}; !slices.Equal(got[0], []int{1, 3}) || !slices.Equal(got[1], []int{0}) {
		t.Errorf("got exit statuses %v, want [1 3] and [0]", got)
	}
}

// A disk of 64G, the bound, reads.
func TestParseDiskOf64G(t *testing.T) {
	l := mustParse(t, t.TempDir(), "name: x\nvms:\n  - {name: a, mac: \"52:54:00:00:00:0a\", qemu: q, expect: [{marker: up}], disks: [{file: blk.img, size: 64G}]}")
	if d := l.VMs[0].Disks; len(d) != 1 || d[0].Size != 64<<30 {
		t.Errorf("got disks %+v, want one of 64G", d)
	}
}

// An at: heal of a trigger's partition that is (or may be) made after it
// would find nothing to heal: refused when the partition would then last
// to the run's end, or when it is always made after; read with a warning
// when it has a for:, which governs then. A heal on a marker, or after its
// at: partition, reads as it is.
func TestParseHealAtOfALaterPartition(t *testing.T) {
	const head = `name: x
vms:
  - {name: a, mac: "52:54:00:00:00:0a", qemu: q, expect: [{marker: up}]}
  - {name: b, mac: "52:54:00:00:00:0b", qemu: q}
triggers:
`
	for _, tt := range []struct {
		name, triggers string
		err, warning   string
	}{
		{"marker-no-for", "  - {name: cut, on: \"a: handshake ok\", do: \"partition a|b\"}\n  - {at: 1s, do: \"heal cut\"}\n",
			`lab.yaml:7:18: triggers[1].do: "heal cut" at 1s: partition cut is made on a marker (on a: "handshake ok"), which may come after 1s, and the heal would then find nothing to heal and leave cut to the run's end: give cut a for: instead of this heal`, ""},
		{"marker-with-for", "  - {name: cut, on: \"a: handshake ok\", do: \"partition a|b\", for: 3s}\n  - {at: 1s, do: \"heal cut\"}\n",
			"", `lab.yaml:7:18: triggers[1].do: "heal cut" at 1s, and partition cut is made on a marker: the heal cuts it short if the marker comes before 1s, and is dropped if it comes after (its for: 3s governs then); to keep cut for 3s whatever the guests' speed, remove this heal`},
		{"at-same-time", "  - {name: timed, at: 1s, do: \"partition a|b\"}\n  - {at: 1s, do: \"heal timed\"}\n",
			`lab.yaml:7:18: triggers[1].do: "heal timed" at 1s: partition timed is made at 1s, not before it, and the heal would find nothing to heal: heal it after 1s, or give timed a for: instead`, ""},
		{"at-later-with-for", "  - {name: timed, at: 2s, do: \"partition a|b\", for: 1s}\n  - {at: 1s, do: \"heal timed\"}\n",
			`triggers[1].do: "heal timed" at 1s: partition timed is made at 2s, not before it, and the heal would find nothing to heal: remove this heal: timed's for: (1s) bounds it`, ""},
		{"at-after", "  - {name: timed, at: 1s, do: \"partition a|b\"}\n  - {at: 2s, do: \"heal timed\"}\n", "", ""},
		{"on-heal", "  - {name: cut, on: \"a: handshake ok\", do: \"partition a|b\"}\n  - {on: \"b: back\", do: \"heal cut\"}\n", "", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l, err := Parse("lab.yaml", t.TempDir(), []byte(head+tt.triggers), LoadOptions{LookPath: fakeLookPath})
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("got Parse error\n%v\nwant %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("got Parse error\n%v\nwant none", err)
			}
			if got := strings.Join(l.Warnings, "\n"); got != tt.warning {
				t.Errorf("got warnings %q, want %q", got, tt.warning)
			}
		})
	}
}

// A partition trigger is refused a name the hub's policy has for one of
// its partitions (the hub would refuse the partition, or a heal of that
// name would not say which it ends), by name: or by default.
func TestParseTriggerNamedLikeAPolicyPartition(t *testing.T) {
	dir := t.TempDir()
	policy := filepath.Join(dir, "faults.yaml")
	if err := os.WriteFile(policy, []byte("partitions:\n  - {name: split, groups: a|t, start: 5s, end: 8s}\n  - {name: trigger-2, groups: a|t, start: 9s, end: 10s}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	const text = `name: x
hub: {policy: faults.yaml, ports: [{name: t, transport: tcp, address: "127.0.0.1:0"}]}
vms:
  - {name: a, mac: "52:54:00:00:00:0a", qemu: q, expect: [{marker: up}]}
triggers:
  - {name: split, on: "a: go", do: "partition a|t", for: 1s}
  - {at: 1s, do: "partition a|t", for: 1s}
  - {name: cut, at: 1s, do: "partition a|t", for: 1s}
  - {on: "a: back", do: "heal split"}
`
	_, err := Parse("lab.yaml", dir, []byte(text), LoadOptions{LookPath: fakeLookPath})
	want := []string{
		`lab.yaml:6:12: triggers[0].name: "split": trigger split makes partition split, and the hub's policy ` + policy + ` has a partition of that name: name the trigger otherwise`,
		`lab.yaml:7:5: triggers[1]: its default name "trigger-2": trigger trigger-2 makes partition trigger-2, and the hub's policy ` + policy + ` has a partition of that name`,
	}
	if err == nil || strings.Count(err.Error(), "\n") != 1 {
		t.Fatalf("got Parse error\n%v\nwant two problems", err)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("got Parse error\n%v\nwant one containing\n%s", err, w)
		}
	}
}

// A name is refused only when its file is one the run makes: ctl.sock is
// the control socket only without hub.control, and <vm>.sock the VM's
// socket only when it has a port of its own (not one of hub.ports).
func TestParseRunNamesThatDoNotCollide(t *testing.T) {
	const tcp = `{name: t, transport: tcp, address: "127.0.0.1:0"}`
	for _, tt := range []struct{ name, text string }{
		{"vm-ctl-on-a-hub-port", "name: x\nhub: {ports: [" + tcp + "]}\nvms:\n  - {name: ctl, mac: \"52:54:00:00:00:0a\", qemu: q, port: t, expect: [{marker: up}]}"},
		{"vm-ctl-with-hub-control", "name: x\nhub: {control: my-ctl.sock}\nvms:\n  - {name: ctl, mac: \"52:54:00:00:00:0a\", qemu: q, expect: [{marker: up}]}"},
		{"disk-ctl-sock-with-hub-control", "name: x\nhub: {control: my-ctl.sock}\nvms:\n  - {name: a, mac: \"52:54:00:00:00:0a\", qemu: q, expect: [{marker: up}], disks: [{file: ctl.sock, size: 1M}]}"},
		{"disk-sock-of-a-vm-on-a-hub-port", "name: x\nhub: {ports: [" + tcp + "]}\nvms:\n  - {name: z, mac: \"52:54:00:00:00:0a\", qemu: q, port: t, expect: [{marker: up}], disks: [{file: z.sock, size: 1M}]}"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Parse("lab.yaml", t.TempDir(), []byte(tt.text), LoadOptions{LookPath: fakeLookPath}); err != nil {
				t.Errorf("got Parse error\n%v\nwant none", err)
			}
		})
	}
}
