package conformance

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// vectorSet is testdata/nexus-vectors.txt (a copy of the spec's file) with a
// record of which names an assertion consumed, so that TestVectors can
// prove no vector is silently skipped.
type vectorSet struct {
	names []string
	hex   map[string][]byte
	lens  map[string]int
	used  map[string]bool
}

func loadVectors(t testing.TB) *vectorSet {
	t.Helper()
	f, err := os.Open("testdata/nexus-vectors.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	vs := &vectorSet{hex: map[string][]byte{}, lens: map[string]int{}, used: map[string]bool{}}
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		name, value, ok := strings.Cut(text, ": ")
		if !ok {
			t.Fatalf("nexus-vectors.txt:%d: no %q separator", line, ": ")
		}
		if _, dup := vs.hex[name]; dup || vs.lens[name] != 0 {
			t.Fatalf("nexus-vectors.txt:%d: duplicate name %s", line, name)
		}
		if strings.HasSuffix(name, ".len") {
			n, err := strconv.Atoi(value)
			if err != nil {
				t.Fatalf("nexus-vectors.txt:%d: %s: %v", line, name, err)
			}
			vs.lens[name] = n
		} else {
			b, err := hex.DecodeString(value)
			if err != nil {
				t.Fatalf("nexus-vectors.txt:%d: %s: %v", line, name, err)
			}
			vs.hex[name] = b
		}
		vs.names = append(vs.names, name)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return vs
}

// bytes returns a hex vector and marks it used. If name.len exists, it is
// checked against the value's length and marked used too.
func (vs *vectorSet) bytes(t testing.TB, name string) []byte {
	t.Helper()
	b, ok := vs.hex[name]
	if !ok {
		t.Fatalf("vector %s missing", name)
	}
	vs.used[name] = true
	if n, ok := vs.lens[name+".len"]; ok {
		vs.used[name+".len"] = true
		if len(b) != n {
			t.Errorf("len(%s) = %d, want %s = %d", name, len(b), name+".len", n)
		}
	}
	return bytes.Clone(b)
}

func (vs *vectorSet) key(t testing.TB, name string) [32]byte {
	t.Helper()
	b := vs.bytes(t, name)
	if len(b) != 32 {
		t.Fatalf("vector %s is %d bytes, want 32", name, len(b))
	}
	return [32]byte(b)
}

// length returns a .len vector and marks it used.
func (vs *vectorSet) length(t testing.TB, name string) int {
	t.Helper()
	n, ok := vs.lens[name]
	if !ok {
		t.Fatalf("vector %s missing", name)
	}
	vs.used[name] = true
	return n
}

// matching returns the names with the given prefix and suffix, in file order.
func (vs *vectorSet) matching(prefix, suffix string) []string {
	var out []string
	for _, n := range vs.names {
		if strings.HasPrefix(n, prefix) && strings.HasSuffix(n, suffix) {
			out = append(out, n)
		}
	}
	return out
}

func (vs *vectorSet) unused() []string {
	var out []string
	for _, n := range vs.names {
		if !vs.used[n] {
			out = append(out, n)
		}
	}
	return out
}

// expectEqual compares got with a vector, naming it.
func (vs *vectorSet) expectEqual(t testing.TB, what string, got []byte, name string) {
	t.Helper()
	if want := vs.bytes(t, name); !bytes.Equal(got, want) {
		t.Errorf("%s = %x, want %s = %x", what, got, name, want)
	}
}

// TestVectors reproduces every vector of nexus-vectors.txt. Each group is a
// subtest; when all ran, the test fails if any vector was not consumed by
// an assertion.
func TestVectors(t *testing.T) {
	vs := loadVectors(t)
	groups := []struct {
		name string
		fn   func(*testing.T, *vectorSet)
	}{
		{"x25519", testVectorsX25519},
		{"keys", testVectorsKeys},
		{"nxsb", testVectorsNXSB},
		{"nexus-handshake", testVectorsNexusHandshake},
		{"nexus-records", testVectorsNexusRecords},
		{"std-handshake", testVectorsStdHandshake},
		{"std-transport", testVectorsStdTransport},
	}
	ran := 0
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			ran++
			g.fn(t, vs)
		})
	}
	if ran < len(groups) {
		t.Logf("only %d of %d groups ran (-run filter): vector coverage not checked", ran, len(groups))
		return
	}
	if unused := vs.unused(); len(unused) > 0 {
		t.Errorf("%d vectors consumed by no assertion: %s", len(unused), strings.Join(unused, ", "))
	}
}

func TestVectorFileMatchesLoader(t *testing.T) {
	vs := loadVectors(t)
	// A floor, so a loader that silently reads nothing cannot pass.
	if got := len(vs.names); got < 80 {
		t.Fatalf("got %d vectors, want at least 80", got)
	}
	if !slices.Contains(vs.names, "std.t02.b2a.n0.framed") {
		t.Errorf("last vector std.t02.b2a.n0.framed not loaded")
	}
}
