package lab

// This file holds the lab file's variables: vars: and --var (readVars,
// setVars), and how ${NAME} is filled in as the file is read (fill,
// fillLab, expandVars), within each argument's and each VM's bounds
// (argBudget). The run fills in its own variables (${RUN}, ${NETDEV}, ...)
// with the same expandVars (runner.args, runqemu.go).

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"l2hub/internal/suggest"
)

// filledVars are the variables a lab file may use but not define: ${LAB}
// (the file's directory) is filled in as the file is read, the others by
// the run (VM.Args).
var filledVars = []string{"LAB", "NETDEV", "MAC", "RUN", "SEED", "VM"}

// filled reports whether name is one of filledVars.
func filled(name string) bool { return slices.Contains(filledVars, name) }

// runVar reports whether the run, not the reading of the file, fills name in.
func runVar(name string) bool { return name != "LAB" && filled(name) }

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
