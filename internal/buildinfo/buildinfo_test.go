package buildinfo

import (
	"runtime"
	"strings"
	"testing"
)

func TestRead(t *testing.T) {
	i := Read()
	if i.Version != Version || i.GoVersion != runtime.Version() || i.Revision == "" {
		t.Errorf("Read() = %+v", i)
	}
}

func TestShort(t *testing.T) {
	for _, tc := range []struct {
		in   Info
		want string
	}{
		{Info{Version: "0.1.0", Revision: "3e07583c1a2b4d5e6f708192a3b4c5d6e7f80912"}, "0.1.0 (3e07583c1a2b)"},
		{Info{Version: "0.1.0", Revision: "3e07583c1a2b4d5e", Modified: true}, "0.1.0 (3e07583c1a2b, modified)"},
		{Info{Version: "0.1.0", Revision: "unknown"}, "0.1.0 (unknown)"},
	} {
		if got := tc.in.Short(); got != tc.want {
			t.Errorf("%+v.Short() = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestWriteText(t *testing.T) {
	var b strings.Builder
	i := Info{Version: "0.1.0", Revision: "3e07583c1a2b", Modified: true, Time: "2026-12-06T10:00:00Z", GoVersion: "go1.26"}
	if err := i.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	want := "l2hub 0.1.0\nrevision: 3e07583c1a2b (modified)\ncommitted: 2026-12-06T10:00:00Z\ngo: go1.26\n"
	if b.String() != want {
		t.Errorf("WriteText:\n%s\nwant\n%s", b.String(), want)
	}
	b.Reset()
	i.Modified, i.Time = false, ""
	i.WriteText(&b)
	if want := "l2hub 0.1.0\nrevision: 3e07583c1a2b\ngo: go1.26\n"; b.String() != want {
		t.Errorf("WriteText without time or changes:\n%s\nwant\n%s", b.String(), want)
	}
	b.Reset()
	i.Revision = "unknown"
	i.WriteText(&b)
	if !strings.Contains(b.String(), "revision: unknown (built without VCS stamping") {
		t.Errorf("WriteText without a revision:\n%s\nwant it to say why", b.String())
	}
}
