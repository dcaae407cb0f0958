package lab

// This file reads the lab file's hub: section: serve's config keys (but
// capture, which the run records itself), a unix stream port added for
// each VM that names none, paths made relative to the lab file, the
// policy file checked at its line, and serve's errors reported under hub.

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"l2hub/control"
	"l2hub/internal/yamlfile"
	"l2hub/serve"
	"l2hub/transport"
)

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
							p.errf(name, fmt.Sprintf("hub.ports[%d].name", j), "%q is also VM %s's name: give %s port: %s to attach it here, or rename one", name.Value, vm.Name, p.vmPaths[vi], vm.Name)
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
			p.errf(n, p.vmPaths[i]+".port", "%q: no such port in hub.ports (%s)", vm.Port, orNone(hubPorts))
		case taken[vm.Port] != "":
			p.errf(n, p.vmPaths[i]+".port", "%q is already VM %s's port", vm.Port, taken[vm.Port])
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
				p.errf(p.portNodes[i], p.vmPaths[i]+".port", "%q is a %s port: it has no QEMU netdev to fill ${NETDEV} with", vm.Port, spec.Transport)
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
