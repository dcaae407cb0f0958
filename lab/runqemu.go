package lab

// This file holds the runner's side of the VMs: launch (a VM's disks, its
// QEMU arguments with the run's variables filled in and the hub's netdev
// appended, its console log, its process: vm.go), how QEMU reads a comma
// in an argument that holds ${RUN} or ${LAB} (commaUse, checkRunDirCommas),
// and stopAll at the run's end.

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"l2hub/internal/shell"
)

// launch creates a VM's disks and starts its QEMU.
func (r *runner) launch(vi int) error {
	vm := r.lab.VMs[vi]
	absDir, err := filepath.Abs(r.dir)
	if err != nil {
		return err
	}
	info := VMInfo{Name: vm.Name, Port: vm.Port, Log: vm.Name + ".log"}
	defer func() { r.vmInfo = append(r.vmInfo, info) }()
	for _, d := range vm.Disks {
		f, err := os.OpenFile(filepath.Join(absDir, d.File), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return fmt.Errorf("VM %s: disk: %w", vm.Name, err)
		}
		err = f.Truncate(d.Size)
		f.Close()
		if err != nil {
			return fmt.Errorf("VM %s: disk %s: %w", vm.Name, d.File, err)
		}
	}
	args, err := r.args(vi, absDir)
	if err != nil {
		return err
	}
	info.Command = shell.Quote(append([]string{vm.QEMU}, args...))
	log, err := createLog(r.fs(), filepath.Join(r.dir, info.Log), info.Log, r.logStopped)
	if err != nil {
		return fmt.Errorf("VM %s: console log: %w", vm.Name, err)
	}
	r.logs = append(r.logs, log)
	p, err := startProcess(vi, vm.Name, vm.QEMU, args, r.lab.Dir, log, r.opts.Clock, r.start, r.inbox)
	if err != nil {
		return err
	}
	if p.noDog != nil && !r.warnedDog {
		r.warnedDog = true
		r.printf("%8.3f warning: VM %s: %v; the VMs start without a watchdog, so a QEMU started through a wrapper that does not exec it may outlive a runner killed with SIGKILL\n",
			r.now().Seconds(), vm.Name, p.noDog)
	}
	info.PID = p.cmd.Process.Pid
	r.procs = append(r.procs, p)
	r.printf("%8.3f %s: QEMU started (pid %d, port %s); command and console in %s\n", r.now().Seconds(), vm.Name, info.PID, vm.Port, filepath.Join(r.dir, info.Log))
	return nil
}

// args are VM vi's QEMU arguments with the run's variables filled in and,
// unless they place it themselves, the hub's netdev and a NIC appended.
// In an option string ${RUN} has its commas doubled, as QEMU reads them
// there (file=/runs/a,,b/blk.img); ${NETDEV} has them so already.
func (r *runner) args(vi int, runDir string) ([]string, error) {
	vm := r.lab.VMs[vi]
	netdevs := r.bound[vm.Port].QEMUArgs("n0")
	if len(netdevs) == 0 {
		return nil, fmt.Errorf("VM %s: port %s has no QEMU netdev", vm.Name, vm.Port)
	}
	vars := map[string]string{"NETDEV": netdevs[0], "MAC": vm.MAC, "SEED": strconv.FormatUint(r.seed, 10), "VM": vm.Name}
	var out []string
	var budget argBudget
	placed := false
	for i, a := range vm.Args {
		run := runDir
		if runDirUse(vm.Args, i) == inOptionString {
			run = strings.ReplaceAll(runDir, ",", ",,")
		}
		fill := func(s string, limit int) (string, error) {
			return expandVars(s, limit, func(name string) (string, bool) {
				if name == "RUN" {
					return run, true
				}
				v, ok := vars[name]
				return v, ok
			})
		}
		placed = placed || strings.Contains(a, "${NETDEV}")
		s, err := budget.fill(a, fill)
		if err != nil {
			return nil, fmt.Errorf("VM %s: args[%d]: %w", vm.Name, i, err)
		}
		out = append(out, s)
	}
	if !placed {
		out = append(out, "-netdev", netdevs[0], "-device", vm.NIC+",netdev=n0,mac="+vm.MAC)
	}
	return out, nil
}

// How QEMU reads an argument that holds ${RUN}.
const (
	asUnknown      = iota // l2hub cannot tell
	inOptionString        // key=value,key=value: a comma in a value is written doubled
	asWhole               // the whole value is a path or text: a comma is itself
)

// optionFlags take a QEMU option string (QemuOpts or keyval): a comma
// ends a value there, and one in a value is written doubled. Their JSON
// form ({"driver": ...}) is not one.
var optionFlags = []string{"-drive", "-blockdev", "-device", "-netdev", "-chardev", "-object", "-fsdev", "-virtfs", "-audiodev", "-machine", "-M"}

// wholeFlags take a value QEMU reads whole, a comma in it included (not
// -initrd: a multiboot kernel's modules are split at commas).
var wholeFlags = []string{"-kernel", "-dtb", "-bios", "-append", "-pidfile", "-D", "-L"}

// runDirUse says how QEMU reads args[i], by the flag before it.
func runDirUse(args []string, i int) int {
	if i == 0 {
		return asUnknown
	}
	return commaUse(args[i-1], args[i])
}

// commaUse says how QEMU reads arg, given after before.
func commaUse(before, arg string) int {
	switch f := flag(before); {
	case slices.Contains(optionFlags, f) && !strings.HasPrefix(strings.TrimSpace(arg), "{"):
		return inOptionString
	case slices.Contains(optionFlags, f), slices.Contains(wholeFlags, f):
		return asWhole
	}
	return asUnknown
}

// checkRunDirCommas refuses a run directory (absolute) whose path holds a
// comma when a VM's argument uses ${RUN} where l2hub cannot tell how QEMU
// reads it: in an option string (-drive file=${RUN}/blk.img) the run
// doubles the comma, and after -kernel and the like a comma is itself,
// but elsewhere (-serial unix:${RUN}/s,server=on, -initrd) QEMU may end
// the value at it, and open another file than the run's.
func checkRunDirCommas(l *Lab, runDir string) error {
	if !strings.Contains(runDir, ",") {
		return nil
	}
	for _, vm := range l.VMs {
		for i, a := range vm.Args {
			if !strings.Contains(a, "${RUN}") || runDirUse(vm.Args, i) != asUnknown {
				continue
			}
			after := ""
			if i > 0 {
				after = fmt.Sprintf(" after %s", vm.Args[i-1])
			}
			return fmt.Errorf("run directory %s: its path holds a comma, and VM %s's args[%d] %q%s uses ${RUN} where QEMU may read a comma as the end of the value "+
				"(the run doubles the commas of ${RUN} in the option strings of %s, and leaves them after %s): give --out a directory without a comma",
				runDir, vm.Name, i, a, after, strings.Join(optionFlags, ", "), strings.Join(wholeFlags, ", "))
		}
	}
	return nil
}

// stopAll ends every QEMU the run started: SIGTERM to all at once, SIGKILL
// after the grace period to those still running; it returns once each
// has ended and its console is read, or, for one that does not end after
// SIGKILL, killWait later: it says so in the VM's console log and the
// summary, and the run's files are written without its exit.
func (r *runner) stopAll() {
	r.inbox.close()
	ended := make([]bool, len(r.procs))
	var wg sync.WaitGroup
	for i, p := range r.procs {
		wg.Go(func() { ended[i] = p.terminate(r.opts.Grace) })
	}
	wg.Wait()
	for i, p := range r.procs {
		if !ended[i] {
			note := fmt.Sprintf("VM %s: QEMU (pid %d) still ran %s after SIGKILL; the run stopped waiting for it, and records neither its exit nor the rest of its console",
				p.name, p.cmd.Process.Pid, killWait)
			p.logf(r.now(), "# %s", note)
			p.closeLog()
			r.printf("%8.3f warning: %s\n", r.now().Seconds(), note)
			r.notes = append(r.notes, note)
		}
	}
	for i := range r.vmInfo {
		for pi, p := range r.procs {
			if p.name == r.vmInfo[i].Name {
				p.mu.Lock()
				r.vmInfo[i].Exit = p.status
				p.mu.Unlock()
				if !ended[pi] {
					r.vmInfo[i].Exit = "still running after SIGKILL (not waited for)"
				}
			}
		}
	}
}
