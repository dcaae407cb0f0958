package lab

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"l2hub/control"
	"l2hub/filter"
	"l2hub/internal/shell"
	"l2hub/internal/suggest"
	"l2hub/internal/yamlfile"
	"l2hub/serve"
	"l2hub/transport"
)

// Bounds on what a lab file may ask for. A lab file is input: each bound
// is far above what a real one needs and keeps a bad one from costing more
// than a clear error.
const (
	maxFileBytes   = 1 << 20
	maxVMs         = 32
	maxArgs        = 512
	maxArg         = 8 << 10 // one value, also once ${...} are filled in
	maxMarkers     = 256     // per VM's expect, per phase, per fail_on list
	maxPhases      = 64
	maxTriggers    = 64
	maxVars        = 64
	maxDisks       = 8
	maxDiskSize    = 64 << 30
	maxRunTimeout  = 24 * time.Hour
	defaultTimeout = 10 * time.Minute
	maxErrors      = 20
	maxDepth       = 16
	// maxVMArgBytes bounds a VM's arguments together once ${...} are filled
	// in: Linux's execve takes 2 MiB of arguments and environment with the
	// usual 8 MiB stack, and a real command line is a few KiB.
	maxVMArgBytes = 1 << 20
)

// DefaultNIC is the NIC model the runner adds when the args do not place
// the hub's netdev themselves (${NETDEV}).
const DefaultNIC = "virtio-net-pci"

// A Lab is a lab file, read and checked: the hub, the VMs, what each must
// print and when, the phases, and the faults to fire.
type Lab struct {
	Name    string
	File    string        // the path it was read from
	Dir     string        // its directory, absolute: relative paths in the file are relative to it
	Timeout time.Duration // the whole run
	Seed    uint64        // the policy's seed (SeedSet), else the policy file's
	SeedSet bool
	// Hub is the hub section as serve reads it, with a unix stream port
	// added for each VM that names none (OwnPort); those ports' addresses
	// are placeholders until a run puts them in its directory.
	Hub      serve.Config
	VMs      []VM
	Phases   []Phase
	Triggers []Trigger
	// Warnings are what reads but is likely a mistake ("file:line:col:
	// field: ..."): a run prints them first.
	Warnings []string
}

// A VM is one QEMU guest of the lab.
type VM struct {
	Name string
	MAC  string // "" when the args place the NIC themselves without ${MAC}
	QEMU string // the binary: an absolute path, or as found in $PATH
	// Args are the QEMU arguments with the file's variables expanded
	// (${LAB}'s commas doubled in an option string) and -kernel, -initrd
	// and -dtb made absolute (not -initrd in a lab directory whose path
	// holds a comma); ${NETDEV}, ${MAC}, ${RUN},
	// ${SEED} and ${VM} are filled in by the run (Args). Without ${NETDEV}
	// the run appends the hub's netdev and a NIC of model NIC.
	Args   []string
	NIC    string
	Port   string // the hub port it is attached to
	Own    bool   // the port is the runner's: a unix stream socket in the run directory
	Expect []Expect
	FailOn []Pattern
	Disks  []Disk
	// ExitOK are the exit statuses that end its QEMU cleanly (exit_ok:);
	// nil for 0 only. A guest that ends QEMU through isa-debug-exit
	// makes it exit with (value<<1)|1, never 0.
	ExitOK []int
}

// An Expect is a marker a VM must print, in order after the VM's previous
// one, within a bound from the run's start.
type Expect struct {
	Marker Pattern
	Within time.Duration
}

// A Disk is an empty raw disk image the run creates in its directory
// before the VM starts (${RUN}/File in the args), such as the block device
// open-nexus-OS's statefs needs.
type Disk struct {
	File string
	Size int64
}

// A Phase is a named set of markers across VMs, waited for after the
// previous phase: Within bounds it from the phase's start, Budget (if
// set) is the duration it should not exceed, and Evidence are lines to
// count on each VM's console when it ends or fails.
type Phase struct {
	Name     string
	Markers  [][]Pattern // per VM (index into Lab.VMs), in order; nil for a VM with none
	Within   time.Duration
	Budget   time.Duration
	Evidence [][]Pattern // per VM, as Markers
}

// A Trigger fires an action through the hub's control API when a VM prints
// a marker (OnVM >= 0) or at a time since the run's start; For, if set,
// undoes it that long after.
type Trigger struct {
	Name string // the partition's name in the policy and the capture
	OnVM int    // index into Lab.VMs, or -1 for At
	On   Pattern
	At   time.Duration
	Do   Action
	For  time.Duration
	Text string // the trigger as the file wrote it: "on a: nexus session ok: partition a|b for 3s"
}

// An Action is what a trigger does.
type Action struct {
	Kind   ActionKind
	Groups [][]string // partition: ports in each group
	Target string     // heal: the partition's name; link: the port
	Up     bool       // link: up or down
}

// ActionKind is a trigger's verb.
type ActionKind uint8

const (
	ActPartition ActionKind = iota + 1 // partition a|b
	ActHeal                            // heal NAME
	ActLink                            // link PORT up|down
)

func (a Action) String() string {
	switch a.Kind {
	case ActPartition:
		g := make([]string, len(a.Groups))
		for i, grp := range a.Groups {
			g[i] = strings.Join(grp, ",")
		}
		return "partition " + strings.Join(g, "|")
	case ActHeal:
		return "heal " + a.Target
	case ActLink:
		if a.Up {
			return "link " + a.Target + " up"
		}
		return "link " + a.Target + " down"
	}
	return "?"
}

// Undo is the action that ends a, for a trigger's For.
func (a Action) undo(name string) Action {
	switch a.Kind {
	case ActPartition:
		return Action{Kind: ActHeal, Target: name}
	case ActLink:
		return Action{Kind: ActLink, Target: a.Target, Up: !a.Up}
	}
	return Action{}
}

// fault reports whether a makes a fault (a partition, a link down)
// rather than undoing one (a heal, a link up).
func (a Action) fault() bool {
	return a.Kind == ActPartition || a.Kind == ActLink && !a.Up
}

// filledVars are the variables a lab file may use but not define: ${LAB}
// (the file's directory) is filled in as the file is read, the others by
// the run (VM.Args).
var filledVars = []string{"LAB", "NETDEV", "MAC", "RUN", "SEED", "VM"}

// filled reports whether name is one of filledVars.
func filled(name string) bool { return slices.Contains(filledVars, name) }

// runVar reports whether the run, not the reading of the file, fills name in.
func runVar(name string) bool { return name != "LAB" && filled(name) }

// LoadOptions change how a lab file is read.
type LoadOptions struct {
	// Vars override the file's vars (l2hub lab --var NAME=VALUE).
	Vars map[string]string
	// LookPath finds a QEMU binary named without a slash; default
	// exec.LookPath. Tests give a fake one.
	LookPath func(string) (string, error)
}

// ParseVars reads --var values, NAME=VALUE each, into LoadOptions.Vars.
func ParseVars(vars []string) (map[string]string, error) {
	m := make(map[string]string, len(vars))
	for _, v := range vars {
		k, val, ok := strings.Cut(v, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--var %s: want NAME=VALUE", v)
		}
		m[k] = val
	}
	return m, nil
}

// Load reads and checks the lab file at path. Every problem is reported
// with the file, line and column and the field ("lab.yaml:12:7:
// vms[0].args[9]: -kernel vmlinuz: no such file"), up to maxErrors of
// them, before anything starts. A file whose hub gives control_token must
// be as private as a token file (control.CheckPrivateFile).
func Load(path string, opts LoadOptions) (*Lab, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(data) > maxFileBytes {
		return nil, fmt.Errorf("%s: larger than %d bytes; is this a lab file?", path, maxFileBytes)
	}
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, err
	}
	l, err := Parse(path, dir, data, opts)
	if err != nil {
		return nil, err
	}
	if strings.Contains(l.Hub.ControlToken, "${") {
		return nil, fmt.Errorf("%s: hub: control_token %q: the hub's keys are taken as written, not expanded from variables; "+
			"give the token in a file of mode 0600 instead: hub: {control_token_file: FILE}", path, l.Hub.ControlToken)
	}
	if l.Hub.ControlToken != "" {
		// The hub's token is written in the file: the file must be as
		// private as a token file, as serve --config's. A lab reads no
		// token variable, so the refusal offers none.
		if err := control.CheckPrivateFile("lab file", "", path); err != nil {
			return nil, fmt.Errorf("%w (its hub gives control_token, so it must be as private as a token file; "+
				"or move the token to a file of mode 0600, hub: {control_token_file: FILE})", err)
		}
	}
	return l, nil
}

// Parse reads a lab file's bytes; name is used in messages and dir is
// where its relative paths start.
func Parse(name, dir string, data []byte, opts LoadOptions) (*Lab, error) {
	if opts.LookPath == nil {
		opts.LookPath = exec.LookPath
	}
	root, derr := yamlfile.Decode(name, data, "lab file")
	switch {
	case derr != nil:
		return nil, derr
	case root == nil:
		return nil, fmt.Errorf("%s: empty lab file", name)
	}
	if err := yamlfile.CheckTree(name, root, "lab file", maxDepth); err != nil {
		return nil, err
	}
	p := &parser{name: name, dir: dir, opts: opts, lab: &Lab{File: name, Dir: dir, Timeout: defaultTimeout},
		errs: yamlfile.Errors{File: name, Max: maxErrors}}
	p.top(root)
	if len(p.errs.List) > 0 {
		// In file order, as the file is read top down; the problems found
		// late (a VM's args are read after its other keys) too. Those
		// without a position (a policy file's, the last "too many") stay
		// last, in their order.
		slices.SortStableFunc(p.errs.List, func(a, b *yamlfile.Error) int {
			switch {
			case a.Line == 0 || b.Line == 0:
				return cmp.Compare(b.Line, a.Line) // positioned first
			case a.Line != b.Line:
				return cmp.Compare(a.Line, b.Line)
			}
			return cmp.Compare(a.Column, b.Column)
		})
		return nil, p.errs.List
	}
	return p.lab, nil
}

// parser reads the YAML tree of a lab file, collecting problems.
type parser struct {
	name string
	dir  string
	opts LoadOptions
	lab  *Lab
	vars map[string]string
	// varValues are the file's variables' values as fillLab fills them
	// in, by name and ${LAB}: each is filled in once.
	varValues map[varKey]varValue
	errs      yamlfile.Errors

	hubNode   *yaml.Node
	hubRead   bool         // serve read the hub section: lab.Hub holds it
	portNodes []*yaml.Node // vms[i].port, for errors found once the hub is read
	seen      map[string]*yaml.Node
	diskNodes []diskNode   // every VM's disks' file:, checked once every VM's name is known
	nameNodes []*yaml.Node // vms[i].name, checked once the hub is read (checkRunNames)
}

// diskNode is a disk's file: in the lab file.
type diskNode struct {
	node       *yaml.Node
	path, file string
}

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
// files, a VM's console log or socket.
func (p *parser) checkRunNames() {
	files := p.runFiles()
	for i, vm := range p.lab.VMs {
		n := p.nameNodes[i]
		if n == nil {
			continue
		}
		path := fmt.Sprintf("vms[%d].name", i)
		switch {
		case slices.Contains(files, vm.Name+".log"):
			p.errf(n, path, "%q: the VM's console log would be %s, which the run keeps for its own use in the run directory: name the VM otherwise", vm.Name, vm.Name+".log")
		case vm.Own && slices.Contains(files, vm.Name+".sock"):
			p.errf(n, path, "%q: the VM's hub socket would be %s, which the run keeps for its own use in the run directory: name the VM otherwise", vm.Name, vm.Name+".sock")
		}
	}
	for _, d := range p.diskNodes {
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

func (p *parser) errf(n *yaml.Node, path, format string, args ...any) {
	p.errs.At(n, path, format, args...)
}

// failed reports whether a problem was found.
func (p *parser) failed() bool { return len(p.errs.List) > 0 }

func (p *parser) str(n *yaml.Node, path string) (string, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		p.errf(n, path, "want a string, got %s", yamlfile.Got(n))
		return "", false
	}
	if len(n.Value) > maxArg {
		p.errf(n, path, "%d bytes: at most %d", len(n.Value), maxArg)
		return "", false
	}
	return n.Value, true
}

func (p *parser) duration(n *yaml.Node, path string, allowZero bool) (time.Duration, bool) {
	s, ok := p.str(n, path)
	if !ok {
		return 0, false
	}
	d, err := time.ParseDuration(s)
	switch {
	case err != nil:
		p.errf(n, path, "%q: want a duration such as 60s or 1m30s", s)
		return 0, false
	case d < 0 || (d == 0 && !allowZero):
		p.errf(n, path, "%s: want a duration above zero", s)
		return 0, false
	case d > maxRunTimeout:
		p.errf(n, path, "%s: at most %s", s, maxRunTimeout)
		return 0, false
	}
	return d, true
}

// list walks a sequence of at most limit items.
func (p *parser) list(n *yaml.Node, path string, limit int, fn func(i int, item *yaml.Node, ipath string)) {
	if n.Kind != yaml.SequenceNode {
		p.errf(n, path, "want a list, got %s", yamlfile.Got(n))
		return
	}
	if len(n.Content) > limit {
		p.errf(n, path, "%d items: at most %d", len(n.Content), limit)
		return
	}
	for i, item := range n.Content {
		fn(i, item, fmt.Sprintf("%s[%d]", path, i))
	}
}

func (p *parser) pattern(n *yaml.Node, path string) (Pattern, bool) {
	s, ok := p.str(n, path)
	if !ok {
		return Pattern{}, false
	}
	pt, err := ParsePattern(s)
	if err != nil {
		p.errf(n, path, "%v", err)
		return Pattern{}, false
	}
	return pt, true
}

// patterns reads one pattern or a list of them.
func (p *parser) patterns(n *yaml.Node, path string) []Pattern {
	if n.Kind == yaml.ScalarNode {
		if pt, ok := p.pattern(n, path); ok {
			return []Pattern{pt}
		}
		return nil
	}
	var out []Pattern
	p.list(n, path, maxMarkers, func(_ int, item *yaml.Node, ipath string) {
		if pt, ok := p.pattern(item, ipath); ok {
			out = append(out, pt)
		}
	})
	return out
}

var (
	labName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)
	varName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,31}$`)
	nicName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)
)

func (p *parser) top(n *yaml.Node) {
	var vmsNode, phasesNode, triggersNode *yaml.Node
	p.vars = map[string]string{"LAB": p.dir}
	ok := p.errs.Fields(n, "", []string{"name", "timeout", "seed", "vars", "hub", "vms", "phases", "triggers"}, func(key string, v *yaml.Node, path string) {
		switch key {
		case "name":
			if s, ok := p.str(v, path); ok {
				if !labName.MatchString(s) {
					p.errf(v, path, "%q: want 1-64 letters, digits, '-', '_' or '.' (it names the run directory)", s)
				}
				p.lab.Name = s
			}
		case "timeout":
			if d, ok := p.duration(v, path, false); ok {
				p.lab.Timeout = d
			}
		case "seed":
			if s, ok := p.str(v, path); ok {
				seed, err := strconv.ParseUint(s, 0, 64)
				if err != nil {
					p.errf(v, path, "%q: want an unsigned 64-bit integer", s)
				}
				p.lab.Seed, p.lab.SeedSet = seed, true
			}
		case "vars":
			p.readVars(v, path)
		case "hub":
			p.hubNode = v
		case "vms":
			vmsNode = v
		case "phases":
			phasesNode = v
		case "triggers":
			triggersNode = v
		}
	})
	if !ok {
		return
	}
	p.setVars(vmsNode)
	if p.lab.Name == "" {
		p.errf(n, "name", "missing: a lab needs a name (it names the run directory)")
	}
	if vmsNode == nil {
		p.errf(n, "vms", "missing: a lab needs at least one VM")
		return
	}
	p.readVMs(vmsNode)
	p.readHub()
	p.checkRunNames()
	if phasesNode != nil {
		p.readPhases(phasesNode)
	}
	if triggersNode != nil {
		p.readTriggers(triggersNode)
	}
	if p.failed() {
		return
	}
	waits := len(p.lab.Phases)
	for _, vm := range p.lab.VMs {
		waits += len(vm.Expect)
	}
	if waits == 0 {
		p.errf(n, "", "nothing to wait for: give a VM expect: markers, or phases:")
	}
}

func (p *parser) readVars(n *yaml.Node, path string) {
	if n.Kind == yaml.MappingNode && len(n.Content)/2 > maxVars {
		p.errf(n, path, "%d variables: at most %d", len(n.Content)/2, maxVars)
		return
	}
	p.errs.Entries(n, path, "a mapping of NAME: value", func(k, v *yaml.Node, kpath string) {
		switch {
		case !varName.MatchString(k.Value):
			p.errf(k, kpath, "want a name of letters, digits and '_'")
		case filled(k.Value):
			p.errf(k, kpath, "${%s} is filled in by the run; pick another name", k.Value)
		default:
			if s, ok := p.str(v, kpath); ok {
				p.vars[k.Value] = s
			}
		}
	})
}

// setVars sets the --var values. A --var may add a variable that vars:
// does not define, for a ${NAME} of the file's (README: "${NAME} from vars:
// and --var"), but a name that vars: does not define and no ${...} uses
// is a typo: it would change nothing, and the run would go on without it.
func (p *parser) setVars(vmsNode *yaml.Node) {
	used := usedVars(vmsNode)
	var known []string
	for k := range p.vars {
		if !filled(k) {
			known = append(known, k)
		}
	}
	for _, k := range used {
		if _, ok := p.vars[k]; !ok && !filled(k) {
			known = append(known, k)
		}
	}
	slices.Sort(known)
	for _, k := range slices.Sorted(maps.Keys(p.opts.Vars)) {
		_, defined := p.vars[k]
		switch {
		case !varName.MatchString(k) || filled(k):
			p.errf(nil, "", "--var %s: not a variable a lab file can set", k)
			continue
		case !defined && !slices.Contains(used, k):
			hint := ""
			if near, ok := suggest.Nearest(k, known); ok {
				hint = fmt.Sprintf(", did you mean %s?", near)
			}
			list := "none"
			if len(known) > 0 {
				list = strings.Join(known, ", ")
			}
			p.errf(nil, "", "--var %s: the lab file has no ${%s} (in vars:, qemu: or args:)%s (its variables: %s)", k, k, hint, list)
			continue
		}
		p.vars[k] = p.opts.Vars[k]
	}
}

// usedVars returns, sorted, the names of the ${...} in the VMs' qemu: and
// args:, where the file's variables are filled in.
func usedVars(vmsNode *yaml.Node) []string {
	seen := map[string]bool{}
	var used []string
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n == nil {
			return
		}
		for s := n.Value; n.Kind == yaml.ScalarNode; {
			i := strings.Index(s, "${")
			if i < 0 {
				break
			}
			j := strings.IndexByte(s[i:], '}')
			if j < 0 {
				break
			}
			if name := s[i+2 : i+j]; !seen[name] {
				seen[name] = true
				used = append(used, name)
			}
			s = s[i+j+1:]
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	if vmsNode != nil && vmsNode.Kind == yaml.SequenceNode {
		for _, vm := range vmsNode.Content {
			if vm.Kind != yaml.MappingNode {
				continue
			}
			for i := 0; i+1 < len(vm.Content); i += 2 {
				if k := vm.Content[i].Value; k == "qemu" || k == "args" {
					walk(vm.Content[i+1])
				}
			}
		}
	}
	slices.Sort(used)
	return used
}

// fill replaces ${NAME} with the file's variables, in at most limit bytes;
// run-time variables stay for the run to fill in.
func (p *parser) fill(s string, limit int) (string, error) {
	return p.fillLab(s, limit, p.dir, nil)
}

// fillLab is fill with ${LAB} as lab (the lab's directory, its commas
// doubled in an option string), also in a variable's value; it sets
// *usedLab when ${LAB} was filled in. A variable's value may hold ${LAB}
// and the run's variables, not another of the file's.
func (p *parser) fillLab(s string, limit int, lab string, usedLab *bool) (string, error) {
	var inner error
	out, err := expandVars(s, limit, func(name string) (string, bool) {
		v := p.varValue(name, lab)
		if v.err != nil {
			inner = v.err
			return "", false
		}
		if v.usedLab && usedLab != nil {
			*usedLab = true
		}
		return v.s, v.ok
	})
	if inner != nil {
		return "", inner
	}
	if uv, ok := err.(*unknownVarError); ok {
		known := slices.Collect(maps.Keys(p.vars))
		known = append(known, filledVars...)
		uv.near, _ = suggest.Nearest(uv.name, known)
	}
	return out, err
}

type varKey struct{ name, lab string }

// varValue is a variable's value as fillLab fills it in.
type varValue struct {
	s       string
	ok      bool // a variable of that name exists
	usedLab bool
	err     error
}

// varValue is the value of variable name with ${LAB} as lab, in it too,
// and the run's variables left for it; made once for each name and lab,
// as a variable may be used many times.
func (p *parser) varValue(name, lab string) varValue {
	switch {
	case name == "LAB":
		return varValue{s: lab, ok: true, usedLab: true}
	case runVar(name):
		return varValue{s: "${" + name + "}", ok: true}
	}
	k := varKey{name, lab}
	if v, ok := p.varValues[k]; ok {
		return v
	}
	s, ok := p.vars[name]
	v := varValue{s: s, ok: ok}
	if ok && strings.Contains(s, "${") {
		var err error
		v.s, err = expandVars(s, maxArg, func(in string) (string, bool) {
			switch {
			case in == "LAB":
				v.usedLab = true
				return lab, true
			case runVar(in):
				return "${" + in + "}", true
			}
			return "", false
		})
		if uv := (*unknownVarError)(nil); errors.As(err, &uv) {
			err = fmt.Errorf("${%s} is %q: a variable's value may hold ${LAB} and the run's variables, not ${%s}", name, s, uv.name)
		}
		v.err = err
	}
	if p.varValues == nil {
		p.varValues = map[varKey]varValue{}
	}
	p.varValues[k] = v
	return v
}

// unknownVarError is expandVars' error for a ${NAME} lookup does not know;
// near is the nearest name, if one is near.
type unknownVarError struct{ name, near string }

func (e *unknownVarError) Error() string {
	msg := fmt.Sprintf("${%s}: no such variable (vars: and --var define them; l2hub fills in %s)", e.name, strings.Join(filledVars, ", "))
	if e.near != "" {
		msg += fmt.Sprintf("; did you mean ${%s}?", e.near)
	}
	return msg
}

var (
	// errExpandLimit is expandVars' error when the result would pass its limit.
	errExpandLimit = errors.New("too long once ${...} are filled in")
	// errArgsTotal is argBudget's error when a VM's arguments together pass
	// maxVMArgBytes.
	errArgsTotal = fmt.Errorf("with this one the VM's arguments come to more than %d bytes once ${...} are filled in: at most that many (1 MiB) in all", maxVMArgBytes)
)

// expandVars replaces each ${NAME} in s by lookup(NAME). A variable may be
// used many times, so it stops with errExpandLimit as soon as the result
// would pass limit bytes, before building it.
func expandVars(s string, limit int, lookup func(string) (string, bool)) (string, error) {
	var b strings.Builder
	write := func(part string) error {
		if len(part) > limit-b.Len() {
			return errExpandLimit
		}
		b.WriteString(part)
		return nil
	}
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			if err := write(s); err != nil {
				return "", err
			}
			return b.String(), nil
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			return "", fmt.Errorf("%q: ${ without a closing }", s)
		}
		name := s[i+2 : i+j]
		v, ok := lookup(name)
		if !ok {
			return "", &unknownVarError{name: name}
		}
		if err := write(s[:i]); err != nil {
			return "", err
		}
		if err := write(v); err != nil {
			return "", err
		}
		s = s[i+j+1:]
	}
}

// argBudget bounds a VM's arguments as their ${...} are filled in: each
// to maxArg bytes, all of them to maxVMArgBytes.
type argBudget struct{ used int }

// fill fills arg in with fill and counts it; the error says which bound
// it passed.
func (b *argBudget) fill(arg string, fill func(s string, limit int) (string, error)) (string, error) {
	limit := min(maxArg, maxVMArgBytes-b.used)
	s, err := fill(arg, limit)
	switch {
	case errors.Is(err, errExpandLimit) && limit < maxArg:
		return "", errArgsTotal
	case errors.Is(err, errExpandLimit):
		return "", fmt.Errorf("more than %d bytes once ${...} are filled in: at most %d", maxArg, maxArg)
	case err != nil:
		return "", err
	}
	b.used += len(s)
	return s, nil
}

func (p *parser) readVMs(n *yaml.Node) {
	p.seen = map[string]*yaml.Node{}
	codes := map[string]string{} // a VM's name as a failure code: its first VM's name
	macs := map[string]string{}
	disks := map[string]string{}
	p.list(n, "vms", maxVMs, func(i int, item *yaml.Node, path string) {
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
				vm.Disks = p.readDisks(v, kpath, disks)
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

func (p *parser) readDisks(n *yaml.Node, path string, files map[string]string) []Disk {
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
				switch {
				case !labName.MatchString(s):
					p.errf(v, kpath, "%q: want a plain file name (it is made in the run directory: ${RUN}/%s)", s, s)
				case files[s] != "":
					p.errf(v, kpath, "%q is already a disk of VM %s", s, files[s])
				}
				files[s] = ipath
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

// placeholderDir stands for the run directory in the VM ports' addresses
// until a run binds them.
const placeholderDir = "/l2hub-lab-run"

// hubKeys are the keys of a lab's hub section: those of serve's config
// (serve.Config's yaml fields, as serve reads them) but capture, which a
// lab records itself.
var hubKeys = func() []string {
	var keys []string
	for f := range reflect.TypeFor[serve.Config]().Fields() {
		key, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if key == "" {
			key = strings.ToLower(f.Name)
		}
		if f.IsExported() && key != "-" && key != "capture" {
			keys = append(keys, key)
		}
	}
	return keys
}()

// readHub reads the hub section, as serve reads a config, with a port for
// each VM that names none. Its problems are reported with the others,
// every field under hub.: the keys first (unknown, given twice, capture),
// then what serve finds in the rest (every shape and type; the first
// value it refuses), and the policy file that cannot be read.
func (p *parser) readHub() {
	// The hub's own port names, read from the tree: a VM's port: must be
	// one of them, and a VM without port: must not take one's name.
	var hubPorts []string
	if p.hubNode != nil && p.hubNode.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(p.hubNode.Content); i += 2 {
			k, v := p.hubNode.Content[i], p.hubNode.Content[i+1]
			switch k.Value {
			case "capture":
				p.errf(k, "hub.capture", "a lab records its own capture (capture.pcapng in the run directory); leave this out")
			case "ports":
				if v.Kind != yaml.SequenceNode {
					continue
				}
				for j, pn := range v.Content {
					name := lookupKey(pn, "name")
					if name == nil {
						continue
					}
					hubPorts = append(hubPorts, name.Value)
					for vi, vm := range p.lab.VMs {
						if vm.Own && vm.Name == name.Value {
							p.errf(name, fmt.Sprintf("hub.ports[%d].name", j), "%q is also VM %s's name: give vms[%d] port: %s to attach it here, or rename one", name.Value, vm.Name, vi, vm.Name)
						}
					}
				}
			}
		}
	}
	taken := map[string]string{}
	for i, vm := range p.lab.VMs {
		n := p.portNodes[i]
		switch {
		case vm.Own:
		case !slices.Contains(hubPorts, vm.Port):
			p.errf(n, fmt.Sprintf("vms[%d].port", i), "%q: no such port in hub.ports (%s)", vm.Port, orNone(hubPorts))
		case taken[vm.Port] != "":
			p.errf(n, fmt.Sprintf("vms[%d].port", i), "%q is already VM %s's port", vm.Port, taken[vm.Port])
		}
		taken[vm.Port] = vm.Name
	}
	// The VMs' own ports, but those whose problems are reported already
	// (a bad name, a hub port's, another VM's): serve would find them
	// again.
	var extra []transport.Spec
	for _, vm := range p.lab.VMs {
		spec := transport.Spec{Name: vm.Name, Transport: transport.Unix, Address: placeholderDir + "/" + vm.Name + ".sock"}
		if vm.Own && !slices.Contains(hubPorts, vm.Name) && !slices.ContainsFunc(extra, func(s transport.Spec) bool { return s.Name == vm.Name }) && spec.Validate() == nil {
			extra = append(extra, spec)
		}
	}
	if len(extra) == 0 && len(hubPorts) == 0 && p.failed() {
		// The VMs' problems are reported: serve must not add "no ports".
		extra = append(extra, transport.Spec{Name: "vm", Transport: transport.Unix, Address: placeholderDir + "/vm.sock"})
	}
	node := p.hubKeys()
	p.checkPolicyFile(node)
	cfg, err := serve.ParseConfigNode(p.name, node, extra)
	if err != nil {
		p.addHubErr(err)
		return
	}
	// Paths are relative to the lab file, wherever the runner is started:
	// QEMU runs in the file's directory, and dials the same socket paths
	// the hub binds (a relative one would be the runner's cwd for one and
	// the file's for the other).
	abs := func(f *string) {
		if *f != "" && !filepath.IsAbs(*f) {
			*f = filepath.Join(p.dir, *f)
		}
	}
	abs(&cfg.Policy)
	abs(&cfg.ControlTokenFile)
	abs(&cfg.MetricsTokenFile)
	for i := range cfg.Ports {
		switch spec := &cfg.Ports[i]; spec.Transport {
		case transport.Unix, transport.UnixDial:
			abs(&spec.Address)
		case transport.Unixgram:
			abs(&spec.Address)
			abs(&spec.Peer)
		}
	}
	if cfg.Control != "" && cfg.Control != "off" {
		if network, addr := control.ParseAddr(cfg.Control); network == "unix" && !filepath.IsAbs(addr) {
			cfg.Control = strings.TrimSuffix(cfg.Control, addr) + filepath.Join(p.dir, addr)
		}
	}
	for i, vm := range p.lab.VMs {
		for _, spec := range cfg.Ports {
			if spec.Name == vm.Port && len(spec.QEMUArgs("n0")) == 0 {
				p.errf(p.portNodes[i], fmt.Sprintf("vms[%d].port", i), "%q is a %s port: it has no QEMU netdev to fill ${NETDEV} with", vm.Port, spec.Transport)
			}
		}
	}
	p.lab.Hub, p.hubRead = cfg, true
}

// hubKeys checks the keys of the hub section (capture's is checked
// already) and returns the section for serve to read: its known keys,
// each once.
func (p *parser) hubKeys() *yaml.Node {
	n := p.hubNode
	if n == nil || n.Kind != yaml.MappingNode {
		return n // serve says what is wrong with it: that is hub's problem
	}
	keyOf := map[*yaml.Node]*yaml.Node{}
	rest := *n
	rest.Content = nil
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; k.Value != "capture" {
			keyOf[n.Content[i+1]] = k
			rest.Content = append(rest.Content, k, n.Content[i+1])
		}
	}
	known := rest
	known.Content = nil
	p.errs.Fields(&rest, "hub", hubKeys, func(_ string, v *yaml.Node, _ string) {
		known.Content = append(known.Content, keyOf[v], v)
	})
	return &known
}

// checkPolicyFile reports the hub's policy file if it cannot be read: at
// its line in the lab file, not when the run starts.
func (p *parser) checkPolicyFile(hub *yaml.Node) {
	if hub == nil {
		return
	}
	v := lookupKey(hub, "policy")
	if v == nil || v.Kind != yaml.ScalarNode || v.Value == "" {
		return
	}
	path := v.Value
	if !filepath.IsAbs(path) {
		path = filepath.Join(p.dir, path)
	}
	f, err := os.Open(path)
	if err != nil {
		p.errf(v, "hub.policy", "%v%s", err, relativeHint(v.Value))
		return
	}
	f.Close()
}

// addHubErr records serve's errors for the hub section, their fields
// under hub.
func (p *parser) addHubErr(err error) {
	var list yamlfile.List
	var one *yamlfile.Error
	under := func(e *yamlfile.Error) *yamlfile.Error {
		e.Path = strings.TrimSuffix(yamlfile.JoinPath("hub", e.Path), ".")
		return e
	}
	switch {
	case errors.As(err, &list):
		for _, e := range list {
			p.errs.Add(under(e))
		}
	case errors.As(err, &one):
		p.errs.Add(under(one))
	default:
		p.errs.Add(&yamlfile.Error{File: p.name, Path: "hub", Msg: strings.TrimPrefix(err.Error(), p.name+": ")})
	}
}

func orNone(names []string) string {
	if len(names) == 0 {
		return "it has none"
	}
	return strings.Join(names, ", ")
}

// lookupKey returns the value of key in a mapping node, or nil.
func lookupKey(n *yaml.Node, key string) *yaml.Node {
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

var phaseName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]{0,31}$`)

func (p *parser) vmIndex(name string) int {
	return slices.IndexFunc(p.lab.VMs, func(vm VM) bool { return vm.Name == name })
}

func (p *parser) vmNames() string {
	names := make([]string, len(p.lab.VMs))
	for i, vm := range p.lab.VMs {
		names[i] = vm.Name
	}
	return strings.Join(names, ", ")
}

// perVM reads a mapping of VM name to one pattern or a list of them.
func (p *parser) perVM(n *yaml.Node, path string) [][]Pattern {
	out := make([][]Pattern, len(p.lab.VMs))
	p.errs.Entries(n, path, "a mapping of VM name to markers", func(k, v *yaml.Node, kpath string) {
		if vi := p.vmIndex(k.Value); vi >= 0 {
			out[vi] = p.patterns(v, kpath)
		} else {
			p.errf(k, kpath, "no VM named %q (VMs: %s)", k.Value, p.vmNames())
		}
	})
	return out
}

// reservedPhases are the phase names (as codes) the runner's own failure
// codes use: a phase of that name would make the same codes.
var reservedPhases = map[string]string{
	"RUN":  "RUN_TIMEOUT, RUN_<VM>_ENDED: a lab without phases",
	"END":  "END_TIMEOUT, END_<VM>_ENDED: a marker still owed after the last phase",
	"SOAK": "SOAK_TIMEOUT, SOAK_<VM>_ENDED: --soak",
}

func (p *parser) readPhases(n *yaml.Node) {
	names := map[string]bool{}
	codes := map[string]string{} // a phase's name as a failure code: its first phase's name
	p.list(n, "phases", maxPhases, func(_ int, item *yaml.Node, path string) {
		ph := Phase{Within: p.lab.Timeout}
		var nameNode, markersNode, budgetNode *yaml.Node
		markersBad := false
		p.errs.Fields(item, path, []string{"name", "markers", "within", "budget", "evidence"}, func(key string, v *yaml.Node, kpath string) {
			switch key {
			case "name":
				nameNode = v
				if s, ok := p.str(v, kpath); ok {
					if !phaseName.MatchString(s) {
						p.errf(v, kpath, "%q: want a name of letters, digits, '-' and '_' (it makes failure codes: %s_TIMEOUT)", s, Code(s))
					} else if why, ok := reservedPhases[Code(s)]; ok {
						p.errf(v, kpath, "%q: the runner's own codes use it (%s): name the phase otherwise", s, why)
					} else if names[strings.ToLower(s)] {
						p.errf(v, kpath, "%q: there is already a phase of that name", s)
					} else if other, ok := codes[Code(s)]; ok {
						p.errf(v, kpath, "%q makes the same failure codes as phase %s (%s_TIMEOUT): name one otherwise", s, other, Code(s))
					}
					names[strings.ToLower(s)] = true
					if _, ok := codes[Code(s)]; !ok {
						codes[Code(s)] = s
					}
					ph.Name = s
				}
			case "markers":
				markersNode = v
				before := len(p.errs.List)
				ph.Markers = p.perVM(v, kpath)
				markersBad = len(p.errs.List) > before
			case "within":
				if d, ok := p.duration(v, kpath, false); ok {
					ph.Within = d
				}
			case "budget":
				budgetNode = v
				ph.Budget, _ = p.duration(v, kpath, false)
			case "evidence":
				ph.Evidence = p.perVM(v, kpath)
			}
		})
		if item.Kind != yaml.MappingNode {
			return
		}
		if nameNode == nil {
			p.errf(item, path+".name", "missing: every phase needs a name")
		}
		if markersNode == nil || !markersBad && !slices.ContainsFunc(ph.Markers, func(m []Pattern) bool { return len(m) > 0 }) {
			p.errf(item, path+".markers", "missing: a phase waits for at least one marker")
		}
		if ph.Budget > ph.Within {
			p.errf(budgetNode, path+".budget", "%s is above within (%s): the phase would time out before it could overrun", ph.Budget, ph.Within)
		}
		p.lab.Phases = append(p.lab.Phases, ph)
	})
}

func (p *parser) readTriggers(n *yaml.Node) {
	ports := p.lab.Hub.PortNames()
	if len(ports) == 0 { // the hub section failed: its errors are reported
		for _, vm := range p.lab.VMs {
			ports = append(ports, vm.Port)
		}
	}
	if len(n.Content) > 0 && p.lab.Hub.Control == "off" {
		p.errf(n, "triggers", "the hub's control API is off (hub.control), and triggers act through it")
	}
	names := map[string]bool{}
	type heal struct {
		node *yaml.Node
		path string
		text string
		ti   int // its index in p.lab.Triggers
	}
	var heals []heal
	var partitions, others []string // triggers' names, those that make a partition (even one refused) and not
	type named struct {
		node *yaml.Node // its name:, or the trigger, named by default
		path string
	}
	var partitionNodes []named // per entry of partitions
	for i := range min(len(n.Content), maxTriggers) {
		names[fmt.Sprintf("trigger-%d", i+1)] = true
	}
	p.list(n, "triggers", maxTriggers, func(i int, item *yaml.Node, path string) {
		tr := Trigger{OnVM: -1, Name: fmt.Sprintf("trigger-%d", i+1)}
		var onNode, atNode, doNode, forNode, nameNode *yaml.Node
		var doText string
		p.errs.Fields(item, path, []string{"name", "on", "at", "do", "for"}, func(key string, v *yaml.Node, kpath string) {
			switch key {
			case "name":
				nameNode = v
				if s, ok := p.str(v, kpath); ok {
					if !validPolicyName(s) {
						p.errf(v, kpath, "%q: want 1-64 letters, digits, '-', '_', '.' or ':' (it names the partition in the policy and the capture)", s)
					} else if names[s] && s != tr.Name {
						p.errf(v, kpath, "%q: another trigger has that name", s)
					}
					names[s] = true
					tr.Name = s
				}
			case "on":
				onNode = v
				s, ok := p.str(v, kpath)
				if !ok {
					return
				}
				vm, marker, found := strings.Cut(s, ": ")
				if !found || p.vmIndex(vm) < 0 {
					p.errf(v, kpath, "%q: want \"VM: marker\", with a VM of the lab (%s)", s, p.vmNames())
					return
				}
				tr.OnVM = p.vmIndex(vm)
				if pt, err := ParsePattern(marker); err != nil {
					p.errf(v, kpath, "%v", err)
				} else {
					tr.On = pt
				}
			case "at":
				atNode = v
				if d, ok := p.duration(v, kpath, true); ok {
					tr.At = d
				}
			case "do":
				doNode = v
				doText, _ = p.str(v, kpath)
			case "for":
				forNode = v
				tr.For, _ = p.duration(v, kpath, false)
			}
		})
		if item.Kind != yaml.MappingNode {
			return
		}
		switch {
		case onNode != nil && atNode != nil:
			p.errf(atNode, path+".at", "give on: or at:, not both")
		case onNode == nil && atNode == nil:
			p.errf(item, path, "missing on: (\"VM: marker\") or at: (a time since the run's start)")
		case atNode != nil && tr.At >= p.lab.Timeout:
			p.errf(atNode, path+".at", "%s is not before the run's timeout (%s)", tr.At, p.lab.Timeout)
		}
		if doNode == nil {
			p.errf(item, path+".do", "missing: what should the trigger do (partition a|b, link b down, heal NAME)?")
			return
		}
		if f := strings.Fields(doText); len(f) > 0 && f[0] == "partition" {
			partitions = append(partitions, tr.Name)
			if nameNode != nil {
				partitionNodes = append(partitionNodes, named{nameNode, path + ".name"})
			} else {
				partitionNodes = append(partitionNodes, named{item, path})
			}
		} else {
			others = append(others, tr.Name)
		}
		act, err := parseAction(doText, ports, p.lab.VMs)
		if err != nil {
			p.errf(doNode, path+".do", "%q: %v", doText, err)
			return
		}
		tr.Do = act
		if act.Kind == ActHeal {
			heals = append(heals, heal{doNode, path + ".do", doText, len(p.lab.Triggers)})
		}
		if forNode != nil && act.Kind == ActHeal {
			p.errf(forNode, path+".for", "a heal cannot be undone; for: applies to partition and link")
		}
		tr.Text = triggerText(p.lab.VMs, tr)
		p.lab.Triggers = append(p.lab.Triggers, tr)
	})
	if len(heals) == 0 && len(partitions) == 0 {
		return
	}
	policy, known := p.policyPartitions()
	// A partition trigger's partition is named after it, in the policy
	// the hub holds: the hub refuses a name the policy has (with other
	// groups), and a heal of that name could not tell the two apart.
	for i, name := range partitions {
		if !slices.Contains(policy, name) {
			continue
		}
		pn := partitionNodes[i]
		what := fmt.Sprintf("%q", name)
		if pn.node.Kind == yaml.MappingNode {
			what = fmt.Sprintf("its default name %q", name)
		}
		p.errf(pn.node, pn.path, "%s: trigger %s makes partition %s, and the hub's policy %s has a partition of that name: name the trigger otherwise (its partition is named after it)",
			what, name, name, p.lab.Hub.Policy)
	}
	if len(heals) == 0 {
		return
	}
	// A heal names a partition: a partition trigger's, or the policy's
	// (checked now, not when it fires minutes into the run).
	partitions = append(partitions, policy...)
	for _, h := range heals {
		// A heal that comes due before its partition is made does
		// nothing (see judge.fireTrigger). An at: heal whose partition
		// comes later, or may, is refused when that would leave the
		// partition to the run's end, or warned of when it would cut it
		// short.
		tr := p.lab.Triggers[h.ti]
		pt := slices.IndexFunc(p.lab.Triggers, func(o Trigger) bool { return o.Do.Kind == ActPartition && o.Name == tr.Do.Target })
		if tr.OnVM >= 0 || pt < 0 {
			continue
		}
		switch part := p.lab.Triggers[pt]; {
		case part.OnVM < 0 && part.At >= tr.At:
			advice := fmt.Sprintf("heal it after %s, or give %s a for: instead", part.At, part.Name)
			if part.For > 0 {
				advice = fmt.Sprintf("remove this heal: %s's for: (%s) bounds it", part.Name, part.For)
			}
			p.errf(h.node, h.path, "%q at %s: partition %s is made at %s, not before it, and the heal would find nothing to heal: %s",
				h.text, tr.At, part.Name, part.At, advice)
		case part.OnVM < 0:
		case part.For == 0:
			p.errf(h.node, h.path, "%q at %s: partition %s is made on a marker (on %s: %q), which may come after %s, and the heal would then find nothing to heal and leave %s to the run's end: give %s a for: instead of this heal, to keep it that long whatever the guests' speed",
				h.text, tr.At, part.Name, p.lab.VMs[part.OnVM].Name, part.On.String(), tr.At, part.Name, part.Name)
		default:
			p.lab.Warnings = append(p.lab.Warnings, fmt.Sprintf("%s:%d:%d: %s: %q at %s, and partition %s is made on a marker: the heal cuts it short if the marker comes before %s, and is dropped if it comes after (its for: %s governs then); to keep %s for %s whatever the guests' speed, remove this heal",
				p.name, h.node.Line, h.node.Column, h.path, h.text, tr.At, part.Name, tr.At, part.For, part.Name, part.For))
		}
	}
	for _, h := range heals {
		name := strings.Fields(h.text)[1]
		if slices.Contains(partitions, name) || !known {
			continue
		}
		msg := fmt.Sprintf("no partition named %q", name)
		if slices.Contains(others, name) {
			msg = fmt.Sprintf("trigger %q makes no partition, and heal ends a partition", name)
		}
		if len(partitions) == 0 {
			msg += " (the lab has none: no partition trigger, none in the policy)"
		} else {
			msg += fmt.Sprintf(" (partitions: %s)", strings.Join(partitions, ", "))
		}
		if near, ok := suggest.Nearest(name, partitions); ok {
			msg += fmt.Sprintf("; did you mean heal %s?", near)
		}
		p.errf(h.node, h.path, "%q: %s", h.text, msg)
	}
}

// policyPartitions are the names of the partitions in the hub's policy
// file; ok is false when they are unknown: the policy could not be read,
// the hub section has a key serve does not know (a mistyped policy:?), or
// serve could not read a section with a policy: (their errors are
// reported).
func (p *parser) policyPartitions() (names []string, ok bool) {
	if n := p.hubNode; n != nil && n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			if k != "capture" && !slices.Contains(hubKeys, k) || k == "policy" && !p.hubRead {
				return nil, false
			}
		}
	}
	if !p.hubRead || p.lab.Hub.Policy == "" {
		return nil, true
	}
	spec, err := filter.LoadSpec(p.lab.Hub.Policy, p.lab.Hub.PortNames())
	if err != nil {
		return nil, false
	}
	for _, ps := range spec.Partitions {
		names = append(names, ps.Name)
	}
	return names, true
}

func triggerText(vms []VM, tr Trigger) string {
	var b strings.Builder
	if tr.OnVM >= 0 {
		fmt.Fprintf(&b, "on %s: %q: ", vms[tr.OnVM].Name, tr.On.String())
	} else {
		fmt.Fprintf(&b, "at %s: ", tr.At)
	}
	b.WriteString(tr.Do.String())
	if tr.For > 0 {
		fmt.Fprintf(&b, " for %s", tr.For)
	}
	return b.String()
}

// policyName is the policy's rule for partition names (filter).
var policyName = regexp.MustCompile(`^[A-Za-z0-9_.:][A-Za-z0-9_.:-]{0,63}$`)

func validPolicyName(s string) bool { return policyName.MatchString(s) && !strings.Contains(s, "->") }

// parseAction reads a trigger's do: "partition a|b", "partition a,c|b",
// "heal NAME", "link PORT up|down". ports are the hub's; a VM's name
// stands for its port.
func parseAction(s string, ports []string, vms []VM) (Action, error) {
	f := strings.Fields(s)
	if len(f) == 0 {
		return Action{}, errors.New("empty")
	}
	resolve := func(name string) (string, error) {
		if slices.Contains(ports, name) {
			return name, nil
		}
		for _, vm := range vms {
			if vm.Name == name {
				return vm.Port, nil
			}
		}
		return "", fmt.Errorf("no port or VM %q (ports: %s)", name, strings.Join(ports, ", "))
	}
	switch f[0] {
	case "partition":
		if len(f) != 2 {
			return Action{}, errors.New("want partition GROUP|GROUP, such as partition a|b or partition a,c|b")
		}
		var a Action
		a.Kind = ActPartition
		seen := map[string]bool{}
		for g := range strings.SplitSeq(f[1], "|") {
			var group []string
			for name := range strings.SplitSeq(g, ",") {
				port, err := resolve(name)
				if err != nil {
					return Action{}, err
				}
				if seen[port] {
					return Action{}, fmt.Errorf("port %q is in two groups", port)
				}
				seen[port] = true
				group = append(group, port)
			}
			a.Groups = append(a.Groups, group)
		}
		if len(a.Groups) < 2 {
			return Action{}, errors.New("one group separates nothing: want two or more, such as a|b")
		}
		return a, nil
	case "heal":
		if len(f) != 2 || !validPolicyName(f[1]) {
			return Action{}, errors.New("want heal NAME, the name of a partition (a trigger's name, or the policy's)")
		}
		return Action{Kind: ActHeal, Target: f[1]}, nil
	case "link":
		if len(f) != 3 || (f[2] != "up" && f[2] != "down") {
			return Action{}, errors.New("want link PORT up or link PORT down")
		}
		port, err := resolve(f[1])
		if err != nil {
			return Action{}, err
		}
		return Action{Kind: ActLink, Target: port, Up: f[2] == "up"}, nil
	}
	return Action{}, fmt.Errorf("unknown action %q: want partition, heal or link", f[0])
}

// Code turns a phase or VM name into a failure code's part: "session"
// gives SESSION, "node-a" gives NODE_A.
func Code(name string) string { return shell.Ident(name) }

// PhaseIndex returns the index of the phase named name (case-insensitive),
// or -1.
func (l *Lab) PhaseIndex(name string) int {
	return slices.IndexFunc(l.Phases, func(p Phase) bool { return strings.EqualFold(p.Name, name) })
}
