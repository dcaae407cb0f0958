package lab

import (
	"cmp"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"l2hub/control"
	"l2hub/internal/shell"
	"l2hub/internal/yamlfile"
	"l2hub/serve"
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

	hubNode *yaml.Node
	hubRead bool // serve read the hub section: lab.Hub holds it
	// vmPaths[i] is where VM i of lab.VMs is in the file (vms[3]: an item
	// that is no VM, such as a scalar, is skipped, so i may be less).
	vmPaths   []string
	portNodes []*yaml.Node // lab.VMs[i]'s port:, for errors found once the hub is read
	seen      map[string]*yaml.Node
	diskNodes []diskNode   // every VM's disks' file:, checked once every VM's name is known
	nameNodes []*yaml.Node // lab.VMs[i]'s name:, checked once the hub is read (checkRunNames)
}

// diskNode is a disk's file: in the lab file.
type diskNode struct {
	node       *yaml.Node
	path, file string
	vm         string // its VM's name, once that VM is read
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

// Code turns a phase or VM name into a failure code's part: "session"
// gives SESSION, "node-a" gives NODE_A.
func Code(name string) string { return shell.Ident(name) }

// PhaseIndex returns the index of the phase named name (case-insensitive),
// or -1.
func (l *Lab) PhaseIndex(name string) int {
	return slices.IndexFunc(l.Phases, func(p Phase) bool { return strings.EqualFold(p.Name, name) })
}
