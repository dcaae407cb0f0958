package lab

// This file reads the lab file's vms: section: each VM's name, MAC, QEMU
// binary, args (variables filled in, paths made absolute, the hub's netdev
// placed or left for the run to append), expect:, fail_on:, disks: and
// exit_ok:, and checks, once the hub is read, that no VM or disk takes a
// name the run directory keeps for its own files, and no two disks one
// file (checkRunNames).

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"l2hub/transport"
)

// runFiles are the files a run makes in its directory besides the VMs'
// (<vm>.log, <vm>.sock for a VM on a port of its own) and their disks;
// ctl.sock only with the default control API (no hub.control).
var runFiles = []string{"lab.log", "hub.log", "ctl.sock", "capture.pcapng", "check.txt", "check.json",
	"summary.json", "summary.txt", "junit.xml", "report.html"}

// runFiles are the files this run makes in its directory besides the
// VMs' (see the var).
func (p *parser) runFiles() []string {
	if p.hubRead && p.lab.Hub.Control != "" {
		return slices.DeleteFunc(slices.Clone(runFiles), func(f string) bool { return f == "ctl.sock" })
	}
	return runFiles
}

// checkRunNames refuses, once the VMs and the hub are read, a VM whose
// console log or hub socket would be one of the run's own files, and a
// disk whose file is one the run makes in its directory too: its own
// files, a VM's console log or socket, an earlier disk's file.
func (p *parser) checkRunNames() {
	files := p.runFiles()
	for i, vm := range p.lab.VMs {
		n := p.nameNodes[i]
		if n == nil {
			continue
		}
		path := p.vmPaths[i] + ".name"
		switch {
		case slices.Contains(files, vm.Name+".log"):
			p.errf(n, path, "%q: the VM's console log would be %s, which the run keeps for its own use in the run directory: name the VM otherwise", vm.Name, vm.Name+".log")
		case vm.Own && slices.Contains(files, vm.Name+".sock"):
			p.errf(n, path, "%q: the VM's hub socket would be %s, which the run keeps for its own use in the run directory: name the VM otherwise", vm.Name, vm.Name+".sock")
		}
	}
	disks := map[string]diskNode{} // a disk's file: its first disk
	for _, d := range p.diskNodes {
		if first, ok := disks[d.file]; ok && labName.MatchString(d.file) {
			of := "disk"
			if first.vm != "" {
				of = fmt.Sprintf("VM %s's disk", first.vm)
			}
			p.errf(d.node, d.path, "%q is already the file of %s %s (line %d): name the disk otherwise", d.file, of, strings.TrimSuffix(first.path, ".file"), first.node.Line)
			continue
		}
		disks[d.file] = d
		switch {
		case slices.Contains(files, d.file):
			p.errf(d.node, d.path, "%q is a file the run makes in its directory (%s): name the disk otherwise", d.file, strings.Join(files, ", "))
		default:
			for _, vm := range p.lab.VMs {
				if d.file == vm.Name+".log" || vm.Own && d.file == vm.Name+".sock" {
					what := "console log"
					if strings.HasSuffix(d.file, ".sock") {
						what = "hub socket"
					}
					p.errf(d.node, d.path, "%q is VM %s's %s in the run directory: name the disk otherwise", d.file, vm.Name, what)
					break
				}
			}
		}
	}
}

func (p *parser) readVMs(n *yaml.Node) {
	p.seen = map[string]*yaml.Node{}
	codes := map[string]string{} // a VM's name as a failure code: its first VM's name
	macs := map[string]string{}
	p.list(n, "vms", maxVMs, func(i int, item *yaml.Node, path string) {
		firstDisk := len(p.diskNodes)
		vm := VM{NIC: DefaultNIC}
		var argsNode, nameNode, macNode, qemuNode, portNode *yaml.Node
		nicSet := false
		p.errs.Fields(item, path, []string{"name", "mac", "qemu", "args", "nic", "port", "expect", "fail_on", "disks", "exit_ok"}, func(key string, v *yaml.Node, kpath string) {
			switch key {
			case "name":
				nameNode = v
				vm.Name, _ = p.str(v, kpath)
			case "mac":
				macNode = v
				if s, ok := p.str(v, kpath); ok {
					vm.MAC = p.mac(v, kpath, s)
				}
			case "qemu":
				qemuNode = v
				if s, ok := p.str(v, kpath); ok {
					var alone argBudget
					if s, err := alone.fill(s, p.fill); err != nil {
						p.errf(v, kpath, "%v", err)
					} else {
						vm.QEMU = p.binary(v, kpath, s)
					}
				}
			case "args":
				argsNode = v
			case "nic":
				nicSet = true
				if s, ok := p.str(v, kpath); ok {
					if !nicName.MatchString(s) {
						p.errf(v, kpath, "%q: want a QEMU device model such as virtio-net-pci or virtio-net-device", s)
					}
					vm.NIC = s
				}
			case "port":
				portNode = v
				vm.Port, _ = p.str(v, kpath)
			case "expect":
				vm.Expect = p.readExpect(v, kpath)
			case "fail_on":
				vm.FailOn = p.patterns(v, kpath)
			case "disks":
				vm.Disks = p.readDisks(v, kpath)
			case "exit_ok":
				vm.ExitOK = []int{}
				if v.Kind == yaml.SequenceNode && len(v.Content) == 0 {
					p.errf(v, kpath, "empty: give the exit statuses that end the VM's QEMU cleanly (default [0])")
				}
				p.list(v, kpath, 256, func(_ int, item *yaml.Node, ipath string) {
					s, ok := p.str(item, ipath)
					if !ok {
						return
					}
					if n, err := strconv.Atoi(s); err != nil || n < 0 || n > 255 {
						p.errf(item, ipath, "%q: want an exit status, 0 to 255", s)
					} else {
						vm.ExitOK = append(vm.ExitOK, n)
					}
				})
			}
		})
		if item.Kind != yaml.MappingNode {
			return
		}
		switch {
		case nameNode == nil:
			p.errf(item, path+".name", "missing: every VM needs a name (its hub port's, unless port: says)")
		default:
			if err := (transport.Spec{Name: vm.Name, Transport: transport.Unix, Address: "/x"}).Validate(); err != nil {
				var se *transport.SpecError
				if errors.As(err, &se) && se.Field == "name" {
					p.errf(nameNode, path+".name", "%q: %s", vm.Name, se.Reason)
				}
			}
			if first := p.seen[vm.Name]; first != nil {
				p.errf(nameNode, path+".name", "%q is already the name of the VM at line %d", vm.Name, first.Line)
			} else if other, ok := codes[Code(vm.Name)]; ok {
				p.errf(nameNode, path+".name", "%q makes the same failure codes as VM %s (<PHASE>_%s_ENDED): name one otherwise", vm.Name, other, Code(vm.Name))
			}
			p.seen[vm.Name] = nameNode
			if _, ok := codes[Code(vm.Name)]; !ok {
				codes[Code(vm.Name)] = vm.Name
			}
		}
		if qemuNode == nil {
			p.errf(item, path+".qemu", "missing: name the QEMU binary (qemu-system-x86_64, qemu-system-riscv64, ...)")
		}
		if vm.MAC != "" {
			if other, dup := macs[vm.MAC]; dup {
				p.errf(macNode, path+".mac", "%s is already VM %s's: two NICs with one MAC confuse a switch", vm.MAC, other)
			}
			macs[vm.MAC] = vm.Name
		}
		if argsNode != nil {
			vm.Args = p.readArgs(argsNode, path+".args")
		}
		hasNetdev := slices.ContainsFunc(vm.Args, func(a string) bool { return strings.Contains(a, "${NETDEV}") })
		hasMAC := slices.ContainsFunc(vm.Args, func(a string) bool { return strings.Contains(a, "${MAC}") })
		own, nic := ownNetwork(vm.Args)
		switch {
		case nic != "":
			p.errf(argsNode, path+".args", "has its own %s: it adds a NIC that is not on the hub; the run gives the VM its NIC (write ${NETDEV} and a -device, or leave both out and the run appends them)", nic)
		case !hasNetdev && own != "":
			p.errf(argsNode, path+".args", "has its own %s: write ${NETDEV} where the hub's netdev goes (it includes id=n0), or leave it out and the run appends it", own)
		case !hasNetdev && nicOnHub(vm.Args):
			advice := "give the model as nic: (nic: e1000) instead of the -device"
			if nicSet {
				advice = fmt.Sprintf("remove the -device, as nic: (%s) gives the model already", vm.NIC)
			}
			p.errf(argsNode, path+".args", "has a -device on netdev n0 without ${NETDEV}: the run appends its own (-netdev ...,id=n0 -device %s,netdev=n0,mac=...), and QEMU would refuse a second device on n0; %s, or write -netdev ${NETDEV} too", vm.NIC, advice)
		case (!hasNetdev || hasMAC) && macNode == nil:
			p.errf(item, path+".mac", "missing: the VM's NIC needs a MAC (QEMU would give every VM 52:54:00:12:34:56)")
		}
		if hasNetdev && !nicOnHub(vm.Args) {
			p.lab.Warnings = append(p.lab.Warnings, fmt.Sprintf("%s:%d:%d: %s.args: ${NETDEV} but no -device with netdev=n0: VM %s has the hub's netdev and no NIC on it, so it sends the hub nothing (add -device %s,netdev=n0,mac=${MAC})",
				p.name, argsNode.Line, argsNode.Column, path, vm.Name, vm.NIC))
		}
		if argsNode != nil && noConsoleFlag(vm) {
			p.lab.Warnings = append(p.lab.Warnings, fmt.Sprintf("%s:%d:%d: %s.args: no %s: VM %s's serial console may not reach the run, and no marker can be seen",
				p.name, argsNode.Line, argsNode.Column, path, strings.ReplaceAll(serialFlags, ", -nographic", " or -nographic"), vm.Name))
		}
		vm.Own = vm.Port == ""
		if vm.Own {
			vm.Port = vm.Name
		}
		for j := firstDisk; j < len(p.diskNodes); j++ {
			p.diskNodes[j].vm = vm.Name // known only now: name: may follow disks:
		}
		p.vmPaths = append(p.vmPaths, path)
		p.portNodes = append(p.portNodes, portNode)
		p.nameNodes = append(p.nameNodes, nameNode)
		p.lab.VMs = append(p.lab.VMs, vm)
	})
	if len(p.lab.VMs) == 0 && !p.failed() {
		p.errf(n, "vms", "empty: a lab needs at least one VM")
	}
}

// flag is a QEMU argument as an option: QEMU takes --netdev for -netdev.
func flag(a string) string {
	if strings.HasPrefix(a, "--") && len(a) > 2 {
		return a[1:]
	}
	return a
}

// ownNetwork finds the arguments that give a VM a network of its own:
// own is a -netdev (or --netdev), nic a -nic or -net that adds a NIC
// ("-nic none" and "-net none" add none).
func ownNetwork(args []string) (own, nic string) {
	for i, a := range args {
		switch flag(a) {
		case "-netdev":
			if own == "" {
				own = a
			}
		case "-nic", "-net":
			if i+1 < len(args) && args[i+1] == "none" {
				continue
			}
			if nic == "" {
				nic = a
			}
		}
	}
	return own, nic
}

// nicOnHub reports whether QEMU arguments give the hub's netdev (id n0,
// as ${NETDEV} names it) a NIC: a -device whose netdev= is n0.
func nicOnHub(args []string) bool {
	for i, a := range args {
		if flag(a) == "-device" && i+1 < len(args) && slices.Contains(strings.Split(args[i+1], ","), "netdev=n0") {
			return true
		}
	}
	return false
}

// noConsoleFlag reports whether vm's command is QEMU's own (not a
// wrapper, whose arguments cannot be read for it) and sends no serial
// console to stdout.
func noConsoleFlag(vm VM) bool {
	return vm.QEMU != "" && strings.HasPrefix(filepath.Base(vm.QEMU), "qemu") && !consoleOnStdout(vm.Args)
}

// consoleOnStdout reports whether QEMU arguments send a serial console
// to stdout, where the run reads it: -nographic, or a -serial, -chardev or
// -console whose value uses stdio.
func consoleOnStdout(args []string) bool {
	for i, a := range args {
		switch flag(a) {
		case "-nographic":
			return true
		case "-serial", "-chardev", "-console":
			if i+1 < len(args) && strings.Contains(args[i+1], "stdio") {
				return true
			}
		}
	}
	return false
}

func (p *parser) mac(n *yaml.Node, path, s string) string {
	hw, err := net.ParseMAC(s)
	switch {
	case err != nil || len(hw) != 6:
		p.errf(n, path, "%q: want a MAC such as 52:54:00:12:34:0a", s)
		return ""
	case hw[0]&1 != 0:
		p.errf(n, path, "%s is a multicast address; a NIC needs a unicast one", s)
		return ""
	case slices.Equal(hw, make(net.HardwareAddr, 6)):
		p.errf(n, path, "%s is the all-zero address, which no NIC may send from; give a unicast one such as 52:54:00:12:34:0a", s)
		return ""
	}
	return hw.String()
}

// binary resolves the QEMU binary: a path (relative to the lab file) or a
// name in $PATH.
func (p *parser) binary(n *yaml.Node, path, s string) string {
	if s == "" {
		p.errf(n, path, "empty: name the QEMU binary (qemu-system-x86_64, qemu-system-riscv64, ...)")
		return s
	}
	if !strings.Contains(s, "/") {
		found, err := p.opts.LookPath(s)
		if err != nil {
			p.errf(n, path, "%s: not found in $PATH (Debian: qemu-system-x86 or qemu-system-misc)", s)
			return s
		}
		return found
	}
	abs := s
	if !filepath.IsAbs(abs) {
		abs = filepath.Join(p.dir, s)
	}
	fi, err := os.Stat(abs)
	switch {
	case err != nil:
		p.errf(n, path, "%s: %v%s", s, errors.Unwrap(err), relativeHint(s))
	case fi.IsDir() || fi.Mode()&0o111 == 0:
		p.errf(n, path, "%s: not an executable file", s)
	}
	return abs
}

// relativeHint is what a path not found is told when it is relative: it
// was looked for from the lab file's directory, not the working one.
func relativeHint(s string) string {
	if filepath.IsAbs(s) {
		return ""
	}
	return " (relative paths are relative to the lab file)"
}

// pathFlags take a file the run must find: a missing kernel is an error
// before anything starts. -bios is not among them: QEMU also looks a bare
// name up in its own data directory.
var pathFlags = []string{"-kernel", "-initrd", "-dtb"}

func (p *parser) readArgs(n *yaml.Node, path string) []string {
	var args []string
	var budget argBudget
	prev, over := "", false // prev: the item before, "" if it was an error
	p.list(n, path, maxArgs, func(_ int, item *yaml.Node, ipath string) {
		before := prev
		prev = ""
		if over {
			return
		}
		s, ok := p.str(item, ipath)
		if !ok {
			return
		}
		// ${LAB} as ${RUN} (see runner.args): its commas doubled in an
		// option string, as they are; where l2hub cannot tell how QEMU
		// reads a comma, a lab directory with one is refused.
		use, lab, usedLab := commaUse(before, s), p.dir, false
		if use == inOptionString {
			lab = strings.ReplaceAll(p.dir, ",", ",,")
		}
		s, err := budget.fill(s, func(s string, limit int) (string, error) { return p.fillLab(s, limit, lab, &usedLab) })
		if err != nil {
			p.errf(item, ipath, "%v", err)
			over = errors.Is(err, errArgsTotal)
			return
		}
		if usedLab && use == asUnknown && strings.Contains(p.dir, ",") {
			where := "here"
			if before != "" {
				where = "after " + before
			}
			p.errf(item, ipath, "%q: ${LAB} is %s, whose path holds a comma, and %s QEMU may read a comma as the end of the value "+
				"(l2hub doubles the commas of ${LAB} in the option strings of %s, and leaves them after %s): give a path relative to the lab file instead (QEMU runs in its directory)",
				item.Value, p.dir, where, strings.Join(optionFlags, ", "), strings.Join(wholeFlags, ", "))
		}
		if slices.Contains(pathFlags, flag(before)) && !strings.Contains(s, "${") {
			abs := s
			if !filepath.IsAbs(abs) {
				abs = filepath.Join(p.dir, s)
			}
			if fi, err := os.Stat(abs); err != nil || fi.IsDir() {
				what := "no such file"
				if err == nil {
					what = "a directory"
				}
				p.errf(item, ipath, "%s %s: %s%s", before, s, what, relativeHint(s))
			}
			// A multiboot kernel's -initrd is split at commas: one in
			// the lab directory stays out of it (QEMU runs there).
			if flag(before) != "-initrd" || !strings.Contains(p.dir, ",") {
				s = abs
			}
		}
		prev = s
		args = append(args, s)
	})
	return args
}

func (p *parser) readExpect(n *yaml.Node, path string) []Expect {
	var out []Expect
	p.list(n, path, maxMarkers, func(_ int, item *yaml.Node, ipath string) {
		e := Expect{Within: p.lab.Timeout}
		var markerNode *yaml.Node
		p.errs.Fields(item, ipath, []string{"marker", "within"}, func(key string, v *yaml.Node, kpath string) {
			switch key {
			case "marker":
				markerNode = v
				e.Marker, _ = p.pattern(v, kpath)
			case "within":
				if d, ok := p.duration(v, kpath, false); ok {
					e.Within = d
					if d > p.lab.Timeout {
						// Only --soak, which extends the run, could let it apply.
						p.lab.Warnings = append(p.lab.Warnings, fmt.Sprintf("%s:%d:%d: %s: %s is above the run's timeout (%s): the run ends before this bound does",
							p.name, v.Line, v.Column, kpath, d, p.lab.Timeout))
					}
				}
			}
		})
		if item.Kind == yaml.MappingNode && markerNode == nil {
			p.errf(item, ipath+".marker", "missing: what must the VM print?")
		}
		out = append(out, e)
	})
	return out
}

var sizeRE = regexp.MustCompile(`^([0-9]{1,12})([KMG]?)$`)

func (p *parser) readDisks(n *yaml.Node, path string) []Disk {
	var out []Disk
	p.list(n, path, maxDisks, func(_ int, item *yaml.Node, ipath string) {
		var d Disk
		p.errs.Fields(item, ipath, []string{"file", "size"}, func(key string, v *yaml.Node, kpath string) {
			s, ok := p.str(v, kpath)
			if !ok {
				return
			}
			switch key {
			case "file":
				if !labName.MatchString(s) {
					p.errf(v, kpath, "%q: want a plain file name (it is made in the run directory: ${RUN}/%s)", s, s)
				}
				p.diskNodes = append(p.diskNodes, diskNode{node: v, path: kpath, file: s})
				d.File = s
			case "size":
				m := sizeRE.FindStringSubmatch(s)
				if m == nil {
					p.errf(v, kpath, "%q: want a size such as 64M or 1G", s)
					return
				}
				n, _ := strconv.ParseInt(m[1], 10, 64)
				n <<= map[string]int{"": 0, "K": 10, "M": 20, "G": 30}[m[2]]
				if n <= 0 || n > maxDiskSize {
					p.errf(v, kpath, "%s: want a size above zero and at most 64G", s)
				}
				d.Size = n
			}
		})
		if item.Kind == yaml.MappingNode && (d.File == "" || d.Size == 0) {
			p.errf(item, ipath, "a disk needs a file and a size")
		}
		out = append(out, d)
	})
	return out
}
