package yamlfile

import (
	"errors"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

var errKind = errors.New("invalid thing")

func TestErrorFormat(t *testing.T) {
	for _, tc := range []struct {
		err  Error
		want string
	}{
		{Error{File: "p.yaml", Line: 3, Column: 7, Path: "rules[0].loss", Msg: "150% is more than 100%"}, "p.yaml:3:7: rules[0].loss: 150% is more than 100%"},
		{Error{File: "p.yaml", Line: 2, Msg: "syntax: bad"}, "p.yaml:2: syntax: bad"},
		{Error{File: "--loss", Path: `"a->b=150%"`, Msg: "150% is more than 100%"}, `--loss: "a->b=150%": 150% is more than 100%`},
		{Error{Msg: "alone"}, "alone"},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
}

// TestErrorsAreBoundedAndKinded: a collector keeps Max problems and one
// saying it stopped, every one matching its Kind; a list is what
// errors.As and errors.Is see through.
func TestErrorsAreBoundedAndKinded(t *testing.T) {
	e := &Errors{File: "f.yaml", Max: 3, Kind: errKind}
	if e.Err() != nil {
		t.Fatal("got an error from an empty collector")
	}
	for i := range 10 {
		e.At(&yaml.Node{Line: i + 1, Column: 2}, "x", "problem %d", i)
	}
	if len(e.List) != 4 || e.List[3].Error() != "f.yaml: too many errors; stopping" || !e.Full() {
		t.Fatalf("got %d problems, last %q; want 3 and the stop", len(e.List), e.List[len(e.List)-1])
	}
	err := e.Err()
	if !errors.Is(err, errKind) {
		t.Error("the list does not match its kind")
	}
	var one *Error
	if !errors.As(err, &one) || one.Line != 1 || !errors.Is(one, errKind) {
		t.Errorf("errors.As gave %v, want the first problem, of the kind", one)
	}
	if want := "f.yaml:1:2: x: problem 0\nf.yaml:2:2: x: problem 1\n"; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("got %q, want it to start with %q", err.Error(), want)
	}
}

func TestDecode(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		nilRoot   bool
		want      string // the error, "" for none
	}{
		{"mapping", "a: 1\n", false, ""},
		{"empty", "", true, ""},
		{"comment-only", "# nothing\n", true, ""},
		{"document-marker", "---\n", true, ""},
		{"null", "~\n", true, ""},
		{"two-documents", "a: 1\n---\nb: 2\n", true, "f.yaml:2: a thing is one YAML document; found a second"},
		{"syntax", "a: [\n", true, "f.yaml:1: did not find expected node content"},
		// The library leaves the line out for an error on the first line,
		// and for one it has no position for, wherever it is.
		{"syntax-line-1", "`x: 1\n", true, "f.yaml:1: found character that cannot start any token"},
		{"syntax-line-2", "a: 1\n`x: 1\n", true, "f.yaml:2: found character that cannot start any token"},
		{"utf8-line-3", "a: 1\nb: 2\nc: \xff\n", true, "f.yaml: invalid leading UTF-8 octet"},
		{"utf8-line-1", "c: \xff\n", true, "f.yaml:1: invalid leading UTF-8 octet"},
		{"unknown-anchor-line-2", "a: 1\nb: *x\n", true, "f.yaml: unknown anchor 'x' referenced"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root, err := Decode("f.yaml", []byte(tc.src), "thing")
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("got %v, want no error", err)
			case tc.want != "" && (err == nil || err.Error() != tc.want):
				t.Fatalf("got error %v, want %q", err, tc.want)
			case (root == nil) != tc.nilRoot:
				t.Errorf("got root %v, want nil %v", root, tc.nilRoot)
			}
		})
	}
}

func TestCheckTree(t *testing.T) {
	root, _ := Decode("f.yaml", []byte("a: &x [1]\nb: *x\n"), "thing")
	if err := CheckTree("f.yaml", root, "thing", 8); err == nil || err.Error() != "f.yaml:2:4: YAML aliases are not supported in a thing" {
		t.Errorf("got %v, want the alias refused where it is", err)
	}
	root, _ = Decode("f.yaml", []byte("a: "+strings.Repeat("[", 10)+strings.Repeat("]", 10)+"\n"), "thing")
	if err := CheckTree("f.yaml", root, "thing", 8); err == nil || !strings.Contains(err.Error(), "nested deeper than a thing can be") {
		t.Errorf("got %v, want the nesting refused", err)
	}
	root, _ = Decode("f.yaml", []byte("a: [[1]]\n"), "thing")
	if err := CheckTree("f.yaml", root, "thing", 8); err != nil {
		t.Errorf("got %v for a shallow tree, want none", err)
	}
}

// TestSyntaxReadsTheLibrarysErrors: a decoder's type errors become one
// error each, at their line.
func TestSyntaxReadsTheLibrarysErrors(t *testing.T) {
	var v struct{ A, B int }
	err := yaml.Unmarshal([]byte("a: x\nb: y\n"), &v)
	got := Syntax("f.yaml", err)
	if len(got) != 2 || got[0].Line != 1 || got[1].Line != 2 || !strings.HasPrefix(got[1].Error(), "f.yaml:2: cannot unmarshal") {
		t.Errorf("got %q, want two errors at lines 1 and 2", List(got).Error())
	}
}

func TestLookupAndKinds(t *testing.T) {
	root, _ := Decode("f.yaml", []byte("ports:\n  - {name: a, address: x}\n"), "thing")
	if n := Lookup(root, "ports", "0", "address"); n.Value != "x" || n.Line != 2 {
		t.Errorf("got %+v, want the address node", n)
	}
	if n := Lookup(root, "ports", "5", "address"); n.Kind != yaml.SequenceNode {
		t.Errorf("got %v for a path past the tree, want the deepest node reached (the list)", KindName(n))
	}
	if got := KindName(Lookup(root, "ports")); got != "a list" {
		t.Errorf("got %q, want a list", got)
	}
	if got := JoinPath("", "a") + " " + JoinPath("a", "b"); got != "a a.b" {
		t.Errorf("got %q", got)
	}
}

func TestGot(t *testing.T) {
	for src, want := range map[string]string{
		`x: soon`:   `"soon"`,
		`x: "a\"b"`: `"a\"b"`,
		`x: ~`:      "nothing",
		`x: [1]`:    "a list",
		`x: {a: 1}`: "a mapping",
	} {
		root, err := Decode("t.yaml", []byte(src), "test")
		if err != nil {
			t.Fatal(err)
		}
		if got := Got(Lookup(root, "x")); got != want {
			t.Errorf("Got(%s) = %s, want %s", src, got, want)
		}
	}
}

// TestFields: the one walk of a mapping of known fields that the policy,
// the serve config and the lab file share: every key it accepts reaches
// the caller once, in file order, with its path; every other key is one
// problem at that key, naming the nearest known field.
func TestFields(t *testing.T) {
	const src = "loss: 1\nlos: 2\nrate: 3\nloss: 4\n[a]: 5\nzzz: 6\nzzz: 7\n"
	root, derr := Decode("p.yaml", []byte(src), "policy")
	if derr != nil {
		t.Fatal(derr)
	}
	e := &Errors{File: "p.yaml", Max: 20}
	var got []string
	ok := e.Fields(root, "rules[0]", []string{"loss", "rate"}, func(key string, v *yaml.Node, path string) {
		got = append(got, path+"="+v.Value)
	})
	if !ok || strings.Join(got, " ") != "rules[0].loss=1 rules[0].rate=3" {
		t.Errorf("Fields passed %q (ok %v), want rules[0].loss=1 rules[0].rate=3", got, ok)
	}
	want := []string{
		`p.yaml:2:1: rules[0].los: unknown field "los", did you mean "loss"? (known: loss, rate)`,
		`p.yaml:4:1: rules[0].loss: given twice (first at line 1, column 1)`,
		`p.yaml:5:1: rules[0]: keys must be plain names, got a list`,
		`p.yaml:6:1: rules[0].zzz: unknown field "zzz" (known: loss, rate)`,
		`p.yaml:7:1: rules[0].zzz: unknown field "zzz" (known: loss, rate)`,
	}
	if e.List.Error() != strings.Join(want, "\n") {
		t.Errorf("problems:\n%v\nwant:\n%s", e.List, strings.Join(want, "\n"))
	}

	e = &Errors{File: "p.yaml", Max: 20}
	if e.Fields(&yaml.Node{Kind: yaml.ScalarNode, Value: "yes", Line: 3, Column: 9}, "capture", nil, nil) {
		t.Error("Fields of a scalar reported a mapping")
	}
	if got := e.List.Error(); got != `p.yaml:3:9: capture: want a mapping, got "yes"` {
		t.Errorf("Fields of a scalar: %q", got)
	}
}

// TestEntries: a mapping of names the file chooses passes every name once
// and refuses a repeat, naming where the first one was.
func TestEntries(t *testing.T) {
	root, derr := Decode("lab.yaml", []byte("A: 1\nB: 2\nA: 3\n"), "lab file")
	if derr != nil {
		t.Fatal(derr)
	}
	e := &Errors{File: "lab.yaml", Max: 20}
	var got []string
	e.Entries(root, "vars", "a mapping of NAME: value", func(k, v *yaml.Node, path string) {
		got = append(got, path+"="+v.Value)
	})
	if strings.Join(got, " ") != "vars.A=1 vars.B=2" {
		t.Errorf("Entries passed %q, want vars.A=1 vars.B=2", got)
	}
	if got := e.List.Error(); got != "lab.yaml:3:1: vars.A: given twice (first at line 1, column 1)" {
		t.Errorf("problems: %q", got)
	}
	e = &Errors{File: "lab.yaml", Max: 20}
	if e.Entries(&yaml.Node{Kind: yaml.SequenceNode, Line: 1, Column: 7}, "vars", "a mapping of NAME: value", nil) {
		t.Error("Entries of a list reported a mapping")
	}
	if got := e.List.Error(); got != "lab.yaml:1:7: vars: want a mapping of NAME: value, got a list" {
		t.Errorf("Entries of a list: %q", got)
	}
}

// TestQuote: a value up to QuoteMax bytes is quoted whole; a longer one is
// cut at a character's start and says how long it was, and Got and an
// unknown field's problem (path and message) show it so.
func TestQuote(t *testing.T) {
	long := strings.Repeat("a", 100000)
	for _, tc := range []struct{ in, want string }{
		{"soon", `"soon"`},
		{strings.Repeat("b", QuoteMax), `"` + strings.Repeat("b", QuoteMax) + `"`},
		{long, `"` + strings.Repeat("a", QuoteMax) + `"… (100000 bytes)`},
		{strings.Repeat("a", QuoteMax-1) + "é" + long, `"` + strings.Repeat("a", QuoteMax-1) + `"… (100065 bytes)`},
	} {
		if got := Quote(tc.in); got != tc.want {
			t.Errorf("Quote(%d bytes) = %.100s, want %.100s", len(tc.in), got, tc.want)
		}
	}
	if got := Shown("150%"); got != "150%" {
		t.Errorf("Shown(150%%) = %s, want it as it is", got)
	}
	if got, want := Shown(long), Quote(long); got != want {
		t.Errorf("Shown(100000 bytes) = %.100s, want %s", got, want)
	}
	root, derr := Decode("p.yaml", []byte("x: "+long+"\n? "+long+"\n: 1\n"), "policy") // an explicit key: a plain one is at most 1024 characters
	if derr != nil {
		t.Fatal(derr)
	}
	if got, want := Got(Lookup(root, "x")), Quote(long); got != want {
		t.Errorf("Got(100000 bytes) = %.100s, want %s", got, want)
	}
	e := &Errors{File: "p.yaml", Max: 20}
	e.Fields(root, "", []string{"x"}, func(string, *yaml.Node, string) {})
	if got := e.List.Error(); len(got) > 300 || !strings.Contains(got, "(100000 bytes)") {
		t.Errorf("an unknown field of 100000 bytes: %d-byte problem %.300q, want it short, saying how long the key was", len(got), got)
	}
}
