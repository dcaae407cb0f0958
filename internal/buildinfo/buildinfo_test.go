package buildinfo

import (
	"runtime"
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
