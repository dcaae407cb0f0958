package serve

import (
	"bytes"
	"encoding"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"l2hub/hub"
	"l2hub/internal/yamlfile"
	"l2hub/transport"
)

// Reading a config from YAML. LoadConfig reads a file, bounded at
// maxConfigBytes, and takes its relative file names relative to it;
// ParseConfig and ParseConfigNode decode it. Before the decoder runs,
// configWalker checks the tree against Config's yaml fields by reflection,
// so that every unknown key and wrong type is named with its line, column
// and field path (the decoder would name a line and a Go type); record
// then keeps the tree, for the line and column of what Validate finds
// wrong in the result (config_validate.go) and of a port that cannot bind.

// maxConfigBytes bounds a config file; a real one is a few hundred bytes.
const maxConfigBytes = 1 << 20

// LoadConfig reads and validates a config file. Every error names the file,
// the line and column, and the field: "lab.yaml:7:14: ports[1].address: ...".
// Relative policy and token file names are taken relative to the file.
func LoadConfig(path string) (Config, error) {
	cfg, err := loadConfig(path)
	if err != nil {
		return Config{}, err
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// loadConfig is LoadConfig without Validate, for a config that flags
// complete (BaseConfig): the checks across fields (no ports, a capture
// option without a file) hold for the merged config, not the file alone.
func loadConfig(path string) (Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return Config{}, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxConfigBytes+1))
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	if len(data) > maxConfigBytes {
		return Config{}, fmt.Errorf("%s: larger than %d bytes; is this a config file?", path, maxConfigBytes)
	}
	cfg, err := parseConfig(path, data)
	if err != nil {
		return Config{}, err
	}
	if cfg.Policy != "" && !filepath.IsAbs(cfg.Policy) {
		cfg.Policy = filepath.Join(filepath.Dir(path), cfg.Policy)
	}
	if cfg.ControlTokenFile != "" && !filepath.IsAbs(cfg.ControlTokenFile) {
		cfg.ControlTokenFile = filepath.Join(filepath.Dir(path), cfg.ControlTokenFile)
	}
	if cfg.MetricsTokenFile != "" && !filepath.IsAbs(cfg.MetricsTokenFile) {
		cfg.MetricsTokenFile = filepath.Join(filepath.Dir(path), cfg.MetricsTokenFile)
	}
	return cfg, nil
}

// ParseConfig decodes data strictly (unknown keys and wrong types are
// errors) and validates it. name is used in messages. The YAML tree is
// checked against Config first (checkConfig), so that a bad key or value is
// reported at its line and column with its field path; the decoder's own
// messages (a line, a Go type name) are only a fallback.
func ParseConfig(name string, data []byte) (Config, error) {
	cfg, err := parseConfig(name, data)
	if err != nil {
		return cfg, err
	}
	return cfg, cfg.Validate()
}

// parseConfig is ParseConfig without Validate.
func parseConfig(name string, data []byte) (Config, error) {
	cfg := Config{Mode: hub.ModeSwitch, source: name}
	root, derr := yamlfile.Decode(name, data, "config")
	switch {
	case derr != nil:
		return cfg, derr
	case root == nil:
		return cfg, fmt.Errorf("%s: empty config", name)
	}
	if err := checkConfig(name, root); err != nil {
		return cfg, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		return cfg, yamlfile.List(yamlfile.Syntax(name, err))
	}
	cfg.record(name, root, len(cfg.Ports))
	return cfg, nil
}

// ParseConfigNode is ParseConfig for a config that is one mapping inside a
// larger YAML file, such as the hub section of an `l2hub lab` file: errors
// name the file's own lines and columns. extra ports are appended to the
// node's (a lab's VM ports) and validated with them. Relative file names
// (policy, control_token_file, metrics_token_file) are left as written: the caller knows what
// they are relative to. The caller has decoded the file (yamlfile.Decode)
// and refused its aliases (yamlfile.CheckTree).
func ParseConfigNode(name string, n *yaml.Node, extra []transport.Spec) (Config, error) {
	cfg := Config{Mode: hub.ModeSwitch, source: name}
	if n == nil || n.Kind == 0 || (n.Kind == yaml.ScalarNode && n.Tag == "!!null") {
		cfg.Ports = append(cfg.Ports, extra...)
		cfg.record(name, &yaml.Node{Kind: yaml.MappingNode}, 0)
		return cfg, cfg.Validate()
	}
	if err := checkConfig(name, n); err != nil {
		return cfg, err
	}
	// checkConfig has refused every unknown key and wrong type, which
	// KnownFields would have; Node.Decode has no such option.
	if err := n.Decode(&cfg); err != nil {
		return cfg, yamlfile.List(yamlfile.Syntax(name, err))
	}
	own := len(cfg.Ports)
	cfg.Ports = append(cfg.Ports, extra...)
	cfg.record(name, n, own)
	return cfg, cfg.Validate()
}

// record keeps root, the config's mapping, and notes where the policy and
// the config's own ports (the first own of cfg.Ports) are in it, for
// errors found later: by Validate, at bind time.
func (cfg *Config) record(name string, root *yaml.Node, own int) {
	cfg.node = root
	pos := func(path ...string) string {
		n := yamlfile.Lookup(root, path...)
		if n.Line == 0 {
			return name
		}
		return fmt.Sprintf("%s:%d:%d", name, n.Line, n.Column)
	}
	if cfg.Policy != "" {
		cfg.policyAt = pos("policy")
	}
	cfg.where = make(map[string]string)
	cfg.portAt = make([]string, own)
	for i, p := range cfg.Ports[:own] {
		cfg.where[p.Name] = fmt.Sprintf("%s: ports[%d].address", pos("ports", strconv.Itoa(i), "address"), i)
		cfg.portAt[i] = pos("ports", strconv.Itoa(i), "name")
	}
}

// maxConfigErrors bounds how many problems one config reports.
const maxConfigErrors = 20

// configWalker checks a YAML tree against a Go type's yaml fields, in file
// order, collecting every problem with its line, column and field path.
type configWalker struct {
	errs yamlfile.Errors
}

// checkConfig checks the tree under root against Config: every key is a
// field, given once; every value has the field's shape and type. It
// returns every problem found, or nil.
func checkConfig(name string, root *yaml.Node) error {
	w := &configWalker{errs: yamlfile.Errors{File: name, Max: maxConfigErrors}}
	w.walk(root, reflect.TypeFor[Config](), "", 0)
	return w.errs.Err()
}

func (w *configWalker) errf(n *yaml.Node, path, format string, args ...any) {
	w.errs.At(n, path, format, args...)
}

var (
	durationType        = reflect.TypeFor[time.Duration]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// walk checks n against type t at path (ports[1].address).
func (w *configWalker) walk(n *yaml.Node, t reflect.Type, path string, depth int) {
	switch {
	case len(w.errs.List) > maxConfigErrors:
		return
	case n.Kind == yaml.AliasNode:
		w.errf(n, path, "YAML aliases are not supported in a config")
		return
	case depth > 8:
		w.errf(n, path, "nested deeper than a config can be")
		return
	case n.Kind == yaml.ScalarNode && n.Tag == "!!null":
		return // an empty value leaves the field at its default
	}
	if reflect.PointerTo(t).Implements(textUnmarshalerType) {
		if n.Kind != yaml.ScalarNode {
			w.errf(n, path, "want a value, got %s", yamlfile.Got(n))
			return
		}
		if err := reflect.New(t).Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(n.Value)); err != nil {
			w.errf(n, path, "%v", err)
		}
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		w.fields(n, t, path, depth)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			w.errf(n, path, "want a list, got %s", yamlfile.Got(n))
			return
		}
		for i, item := range n.Content {
			w.walk(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i), depth+1)
		}
	case reflect.Map:
		w.errs.Entries(n, path, "a mapping", func(k, v *yaml.Node, kp string) {
			// A map whose type says a key takes several values (a vxlan
			// port's remote) may list them.
			if mv, ok := reflect.Zero(t).Interface().(interface{ MultiValued(string) bool }); ok &&
				v.Kind == yaml.SequenceNode && mv.MultiValued(k.Value) {
				for i, item := range v.Content {
					w.walk(item, t.Elem(), fmt.Sprintf("%s[%d]", kp, i), depth+1)
				}
				return
			}
			w.walk(v, t.Elem(), kp, depth+1)
		})
	default:
		w.scalar(n, t, path)
	}
}

// fields checks a mapping against a struct's yaml fields.
func (w *configWalker) fields(n *yaml.Node, t reflect.Type, path string, depth int) {
	var known []string
	types := map[string]reflect.Type{}
	for f := range t.Fields() {
		key, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if !f.IsExported() || key == "-" {
			continue
		}
		if key == "" {
			key = strings.ToLower(f.Name)
		}
		known = append(known, key)
		types[key] = f.Type
	}
	w.errs.Fields(n, path, known, func(key string, v *yaml.Node, kp string) {
		w.walk(v, types[key], kp, depth+1)
	})
}

// scalar checks that n decodes as a value of type t.
func (w *configWalker) scalar(n *yaml.Node, t reflect.Type, path string) {
	var want string
	whole := false
	switch {
	case t == durationType:
		want = "a duration such as 300s or 1m30s"
	case t.Kind() == reflect.Bool:
		want = "true or false"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		want, whole = "a whole number", true
	case t.Kind() == reflect.String:
		want = "a string"
	default:
		want = "a " + t.Kind().String()
	}
	if n.Kind != yaml.ScalarNode {
		w.errf(n, path, "want %s, got %s", want, yamlfile.Got(n))
		return
	}
	// The decoder truncates a float into an integer (queue: 2.5 would be
	// 2), so an integer field takes only what YAML reads as an integer.
	if err := n.Decode(reflect.New(t).Interface()); err != nil || whole && n.ShortTag() != "!!int" {
		w.errf(n, path, "want %s, got %q", want, n.Value)
	}
}
