package report

import (
	"testing"
)

func TestFlagsOptions(t *testing.T) {
	for _, tt := range []struct {
		name string
		f    Flags
		want string // the error; "" for none
	}{
		{"defaults", Flags{HexBytes: DefaultHexBytes, MaxFrames: DefaultMaxFrames}, ""},
		{"zeros", Flags{}, ""},
		{"negative-hex-bytes", Flags{HexBytes: -1}, "--hex-bytes -1: must not be negative (0 means the default 256)"},
		{"negative-max-frames", Flags{MaxFrames: -2}, "--max-frames -2: must not be negative (0 means the default 500000)"},
		{"negative-before-console", Flags{MaxFrames: -2, Consoles: []string{"nolog"}}, "--max-frames -2: must not be negative (0 means the default 500000)"},
		{"bad-console", Flags{Consoles: []string{"a=a.log", "nolog"}}, `--console "nolog": want NAME=LOG (a '=' in NAME doubled: k==v=a.log)`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.f.Options("run.pcapng")
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("got Options error %q, want %q", got, tt.want)
			}
		})
	}
	f := Flags{Consoles: []string{"a=a.log", "k==v=b.log,offset=1s"}, Check: "nexus-v1", Title: "t", Group: -1, HexBytes: 64, MaxFrames: 10}
	o, err := f.Options("run.pcapng")
	if err != nil {
		t.Fatal(err)
	}
	if o.Capture != "run.pcapng" || o.Check != "nexus-v1" || o.Title != "t" || o.MinGroup != -1 || o.Limits.HexBytes != 64 || o.Limits.MaxFrames != 10 ||
		len(o.Consoles) != 2 || o.Consoles[0].Port != "a" || o.Consoles[1].Port != "k=v" || o.Consoles[1].Path != "b.log" || o.Consoles[1].Offset == nil {
		t.Errorf("got Options = %+v, want every flag in its field", o)
	}
}
