package samefile

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.pcapng")
	if err := os.WriteFile(in, []byte("capture"), 0o644); err != nil {
		t.Fatal(err)
	}
	hard := filepath.Join(dir, "hard.pcapng")
	if err := os.Link(in, hard); err != nil {
		t.Fatal(err)
	}
	sym := filepath.Join(dir, "sym.pcapng")
	if err := os.Symlink(in, sym); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	for _, out := range []string{in, "in.pcapng", "./sub/../in.pcapng", hard, sym} {
		err := Check("-o", out, Input{Path: "other.pcap"}, Input{Path: in, What: "capture"})
		if err == nil || !strings.Contains(err.Error(), "-o "+out+" is the capture it reads") {
			t.Errorf("-o %s: %v, want a refusal", out, err)
		}
	}
	for _, out := range []string{"", "-", "out.pcapng", filepath.Join(dir, "new.html")} {
		if err := Check("-o", out, Input{Path: in}, Input{Path: "-"}); err != nil {
			t.Errorf("-o %q: %v", out, err)
		}
	}
	// A path not yet made is the same file as itself by name.
	if err := Check("-o", "missing.pcap", Input{Path: filepath.Join(dir, "missing.pcap")}); err == nil {
		t.Error("two names of one missing path: no refusal")
	}
}

// TestCharacterDeviceIsShared: /dev/null is one file under any name, but
// writing it destroys nothing, so it is never an input written over.
func TestCharacterDeviceIsShared(t *testing.T) {
	fi, err := os.Stat(os.DevNull)
	if err != nil || fi.Mode()&fs.ModeCharDevice == 0 {
		t.Skipf("%s is not a character device here (%v)", os.DevNull, err)
	}
	if !Same(os.DevNull, os.DevNull) {
		t.Errorf("got Same(%s, %[1]s) = false, want true", os.DevNull)
	}
	if Overwrites(os.DevNull, os.DevNull) {
		t.Errorf("got Overwrites(%s, %[1]s) = true, want false", os.DevNull)
	}
	if err := Check("-o", os.DevNull, Input{Path: os.DevNull, What: "policy"}); err != nil {
		t.Errorf("-o %s with the policy %[1]s: %v, want no refusal", os.DevNull, err)
	}
	file := filepath.Join(t.TempDir(), "f")
	if !Overwrites(file, file) {
		t.Errorf("got Overwrites(%s, %[1]s) = false, want true", file)
	}
}
