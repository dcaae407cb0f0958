package yamlfile

import (
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestCheckTreeDepthBound: a tree exactly maxDepth deep is taken, one level
// deeper is refused (the mapping is depth 0; "a: [[]]" reaches 2).
func TestCheckTreeDepthBound(t *testing.T) {
	nested := func(n int) *yaml.Node {
		root, err := Decode("f.yaml", []byte("a: "+strings.Repeat("[", n)+strings.Repeat("]", n)+"\n"), "thing")
		if err != nil {
			t.Fatal(err)
		}
		return root
	}
	if err := CheckTree("f.yaml", nested(8), "thing", 8); err != nil {
		t.Errorf("got %v for a tree 8 deep with maxDepth 8, want none", err)
	}
	if err := CheckTree("f.yaml", nested(9), "thing", 8); err == nil {
		t.Errorf("got no error for a tree 9 deep with maxDepth 8, want it refused")
	}
}

// TestLookupIndexJustPastTheList: an index equal to the list's length is
// past it: Lookup stops at the list rather than reading beyond it.
func TestLookupIndexJustPastTheList(t *testing.T) {
	root, _ := Decode("f.yaml", []byte("ports: [a]\n"), "thing")
	if n := Lookup(root, "ports", "1"); n.Kind != yaml.SequenceNode {
		t.Errorf("got %v for ports[1] of a one-port list, want the list", KindName(n))
	}
}
