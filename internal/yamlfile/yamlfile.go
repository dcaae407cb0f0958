package yamlfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"l2hub/internal/suggest"
)

// Error is one problem in a file: where it is and what is wrong. Line and
// Column are 1-based; 0 means unknown (a flag, or the whole file).
type Error struct {
	File   string // file name, or whatever else the value came from ("--loss")
	Line   int
	Column int
	Path   string // rules[2].loss.probability
	Msg    string
	// Kind is the sentinel errors.Is matches the error with (a package's
	// ErrInvalid); nil matches nothing.
	Kind error
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteString(":")
	}
	switch {
	case e.Line > 0 && e.Column > 0:
		fmt.Fprintf(&b, "%d:%d:", e.Line, e.Column)
	case e.Line > 0:
		fmt.Fprintf(&b, "%d:", e.Line)
	}
	if b.Len() > 0 {
		b.WriteString(" ")
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Is matches the error's Kind.
func (e *Error) Is(target error) bool { return e.Kind != nil && target == e.Kind }

// List is every problem found in one file, in file order.
type List []*Error

func (l List) Error() string {
	var b strings.Builder
	for i, e := range l {
		if i > 0 {
			b.WriteString("\n")
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// Is matches the Kind of the list's problems.
func (l List) Is(target error) bool { return len(l) > 0 && l[0].Is(target) }

// Unwrap exposes the individual problems to errors.As.
func (l List) Unwrap() []error {
	errs := make([]error, len(l))
	for i, e := range l {
		errs[i] = e
	}
	return errs
}

// Errors collects a file's problems, at most Max (then a last one saying
// it stopped), so a garbage file cannot produce a garbage-sized error.
type Errors struct {
	File string
	Max  int
	Kind error
	List List
}

// At records a problem at node n (nil: no position) and path.
func (e *Errors) At(n *yaml.Node, path, format string, args ...any) {
	err := &Error{File: e.File, Path: path, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		err.Line, err.Column = n.Line, n.Column
	}
	e.Add(err)
}

// Add records a problem; past Max it records that it stopped, once.
func (e *Errors) Add(err *Error) {
	switch {
	case len(e.List) == e.Max:
		e.List = append(e.List, &Error{File: e.File, Msg: "too many errors; stopping", Kind: e.Kind})
		return
	case len(e.List) > e.Max:
		return
	}
	if err.Kind == nil {
		err.Kind = e.Kind
	}
	e.List = append(e.List, err)
}

// Full reports whether Max problems were recorded: walking on is wasted.
func (e *Errors) Full() bool { return len(e.List) >= e.Max }

// Err returns the list, or nil when there is no problem.
func (e *Errors) Err() error {
	if len(e.List) == 0 {
		return nil
	}
	return e.List
}

// Decode parses data as exactly one YAML document, into a node tree whose
// root is the document's content (nil for an empty file, or one that holds
// only null). what names the
// kind of file in messages ("policy", "config"). The YAML library is not
// ours: a panic in it on hostile input becomes an error.
func Decode(file string, data []byte, what string) (root *yaml.Node, err *Error) {
	defer func() {
		if r := recover(); r != nil {
			root, err = nil, &Error{File: file, Msg: fmt.Sprintf("%v", r)}
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, syntaxAt(file, data, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, syntaxAt(file, data, err)
		}
		return nil, &Error{File: file, Line: extra.Line, Msg: fmt.Sprintf("a %s is one YAML document; found a second", what)}
	}
	root = &doc
	if doc.Kind == yaml.DocumentNode {
		if len(doc.Content) == 0 {
			return nil, nil
		}
		root = doc.Content[0]
	}
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return nil, nil
	}
	return root, nil
}

// CheckTree refuses aliases (a file of ours has no use for them, and they
// make a small file expand) and nesting deeper than maxDepth, at the node
// where it finds one.
func CheckTree(file string, root *yaml.Node, what string, maxDepth int) *Error {
	if bad, at := checkTree(root, 0, what, maxDepth); bad != "" {
		return &Error{File: file, Line: at.Line, Column: at.Column, Msg: bad}
	}
	return nil
}

func checkTree(n *yaml.Node, depth int, what string, maxDepth int) (string, *yaml.Node) {
	switch {
	case n.Kind == yaml.AliasNode:
		return "YAML aliases are not supported in a " + what, n
	case depth > maxDepth:
		return "nested deeper than a " + what + " can be", n
	}
	for _, c := range n.Content {
		if bad, at := checkTree(c, depth+1, what, maxDepth); bad != "" {
			return bad, at
		}
	}
	return "", nil
}

// syntaxAt is Syntax for an error decoding data, with the line the YAML
// library leaves out. It writes "line N:" only when its 0-based line is
// not 0, so a syntax error on the first line comes without one; but so
// does an error it gives no position at all (invalid UTF-8, an unknown
// anchor), wherever it is. The first line decoded alone tells the two
// apart: when it fails the same way, the problem is there. The library
// gives no column.
func syntaxAt(file string, data []byte, err error) *Error {
	e := Syntax(file, err)[0]
	if e.Line == 0 && firstLineFails(data, err.Error()) {
		e.Line = 1
	}
	return e
}

// firstLineFails reports whether decoding the first line of data fails
// with the error msg. A second document cannot start on the first line,
// so the first document is enough.
func firstLineFails(data []byte, msg string) bool {
	line, _, _ := bytes.Cut(data, []byte("\n"))
	var n yaml.Node
	err := yaml.NewDecoder(bytes.NewReader(line)).Decode(&n)
	return err != nil && err.Error() == msg
}

var lineRE = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// Syntax turns the YAML library's errors ("yaml: line 2: did not find
// expected node content", and a decoder's list of type errors) into
// Errors at their line.
func Syntax(file string, err error) []*Error {
	var te *yaml.TypeError
	msgs := []string{err.Error()}
	if errors.As(err, &te) {
		msgs = te.Errors
	}
	out := make([]*Error, 0, len(msgs))
	for _, msg := range msgs {
		e := &Error{File: file, Msg: strings.TrimPrefix(msg, "yaml: ")}
		if m := lineRE.FindStringSubmatch(msg); m != nil {
			e.Line, _ = strconv.Atoi(m[1])
			e.Msg = m[2]
		}
		out = append(out, e)
	}
	return out
}

// KindName says what a node is, for "want a list, got a mapping".
func KindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "nothing"
		}
		return "a scalar"
	}
	return "a document"
}

// Got says what a node holds, for "want a duration, got ...": a scalar's
// value, quoted ("\"soon\"", shortened as Quote does), else KindName ("a
// list", "nothing").
func Got(n *yaml.Node) string {
	if n.Kind == yaml.ScalarNode && n.Tag != "!!null" {
		return Quote(n.Value)
	}
	return KindName(n)
}

// QuoteMax is how many bytes of a value Quote shows.
const QuoteMax = 64

// Quote quotes a value a user wrote, for a message: whole, as %q does,
// when it is at most QuoteMax bytes; else its first QuoteMax bytes (cut
// at a character's start) and its length, "\"aaaa\"… (100000 bytes)", so
// that a hostile value cannot make a message of its own size.
func Quote(s string) string {
	if len(s) <= QuoteMax {
		return strconv.Quote(s)
	}
	return strconv.Quote(prefix(s, QuoteMax)) + "… (" + strconv.Itoa(len(s)) + " bytes)"
}

// Shown is a value a user wrote as a message shows it unquoted ("150% is
// more than 100%", "rule x is empty"): as it is, or as Quote writes it
// when it is longer than QuoteMax.
func Shown(s string) string {
	if len(s) > QuoteMax {
		return Quote(s)
	}
	return s
}

// prefix is s's first n bytes at most, cut at a character's start.
func prefix(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// JoinPath appends key to a field path: "" and "rules" give "rules",
// "capture" and "file" give "capture.file".
func JoinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// Lookup finds the node at a field path such as ports, 1, address; where
// the path goes further than the tree, the deepest node it reached.
func Lookup(n *yaml.Node, path ...string) *yaml.Node {
	for _, p := range path {
		switch n.Kind {
		case yaml.MappingNode:
			var next *yaml.Node
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == p {
					next = n.Content[i+1]
					break
				}
			}
			if next == nil {
				return n
			}
			n = next
		case yaml.SequenceNode:
			i, err := strconv.Atoi(p)
			if err != nil || i < 0 || i >= len(n.Content) {
				return n
			}
			n = n.Content[i]
		default:
			return n
		}
	}
	return n
}

// Fields walks the mapping n, whose keys must be among known, each given
// once: fn runs for every such key in file order, with its value and its
// path. A key that is not a plain name, an unknown key (with the known one
// nearest it) and a key given twice are recorded as problems and skipped.
// Fields reports false, and records the problem, when n is not a mapping.
func (e *Errors) Fields(n *yaml.Node, path string, known []string, fn func(key string, v *yaml.Node, path string)) bool {
	return e.mapping(n, path, "a mapping", func(k *yaml.Node, kp string) bool {
		if slices.Contains(known, k.Value) {
			return true
		}
		hint := ""
		if near, ok := suggest.Nearest(k.Value, known); ok {
			hint = fmt.Sprintf(", did you mean %q?", near)
		}
		e.At(k, kp, "unknown field %s%s (known: %s)", Quote(k.Value), hint, strings.Join(known, ", "))
		return false
	}, func(k, v *yaml.Node, kp string) { fn(k.Value, v, kp) })
}

// Entries walks the mapping n of names the file chooses (variables, groups,
// options): fn runs for every key in file order, with the key's node, its
// value and its path. A key that is not a plain name and a key given twice
// are recorded as problems and skipped. what says what the mapping holds,
// for the problem recorded when n is not a mapping ("a mapping of group
// name to ports"); Entries then reports false.
func (e *Errors) Entries(n *yaml.Node, path, what string, fn func(k, v *yaml.Node, path string)) bool {
	return e.mapping(n, path, what, func(*yaml.Node, string) bool { return true }, fn)
}

// mapping walks n's entries: a key that is not a plain name, that known
// refuses (having recorded why) or that an earlier key of the same name
// was given is skipped, and fn runs for the others.
func (e *Errors) mapping(n *yaml.Node, path, what string, known func(k *yaml.Node, path string) bool, fn func(k, v *yaml.Node, path string)) bool {
	if n.Kind != yaml.MappingNode {
		e.At(n, path, "want %s, got %s", what, Got(n))
		return false
	}
	first := make(map[string]*yaml.Node, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			e.At(k, path, "keys must be plain names, got %s", KindName(k))
			continue
		}
		key := k.Value
		if len(key) > QuoteMax {
			key = prefix(key, QuoteMax) + "…" // a path is for people: a hostile key is not repeated whole
		}
		kp := JoinPath(path, key)
		if !known(k, kp) {
			continue
		}
		if at, twice := first[k.Value]; twice {
			e.At(k, kp, "given twice (first at line %d, column %d)", at.Line, at.Column)
			continue
		}
		first[k.Value] = k
		fn(k, v, kp)
	}
	return true
}
