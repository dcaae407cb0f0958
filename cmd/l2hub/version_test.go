package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"l2hub/internal/buildinfo"
	"l2hub/wireshark"
)

// The binary says which revision it was built from: the checkout's HEAD.
func TestVersionNamesTheRevision(t *testing.T) {
	bin := l2hubBinary(t)
	out, err := exec.Command(bin, "version", "--json").Output()
	if err != nil {
		t.Fatal(err)
	}
	var got buildinfo.Info
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("version --json: %v\n%s", err, out)
	}
	if got.Version != Version || got.GoVersion == "" {
		t.Errorf("version --json = %+v", got)
	}
	head, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil || got.Revision == "unknown" {
		t.Skipf("no VCS revision to compare (git: %v; the toolchain stamped %q): run in a git checkout", err, got.Revision)
	}
	if want := strings.TrimSpace(string(head)); got.Revision != want {
		t.Errorf("revision %s, want HEAD %s", got.Revision, want)
	}
	short, err := exec.Command(bin, "--version").Output()
	if err != nil {
		t.Fatal(err)
	}
	if want := "l2hub " + Version + " (" + got.Revision[:12]; !strings.HasPrefix(string(short), want) {
		t.Errorf("--version printed %q, want it to start %q", short, want)
	}
}

func TestVersionText(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"version"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"l2hub " + Version + "\n", "revision: ", "go: go"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("version printed %q, want %q in it", out.String(), want)
		}
	}
}

func TestUnknownFlagSuggestsTheNearest(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"serve", "--captur", "x"}, "unknown flag: --captur (did you mean --capture?)"},
		{[]string{"serve", "--polcy", "p.yaml"}, "(did you mean --policy?)"},
		{[]string{"serve", "--ready"}, "(did you mean --ready-file?)"},
		{[]string{"ctl", "ports", "--contrl", "x"}, "(did you mean --control?)"},
		{[]string{"check", "--chek", "nexus-v1", "x.pcapng"}, "(did you mean --check?)"}, // an alias the normalize function accepts
		{[]string{"serve", "--zzzzzzzz"}, "unknown flag: --zzzzzzzz (l2hub serve --help lists the flags)"},
		{[]string{"ctl", "rule", "add", "x", "--zzzzzzzz"}, "(l2hub ctl rule add --help lists the flags)"},
		{[]string{"--zzzzzzzz"}, "(l2hub --help lists the flags)"},
		{[]string{"--loss", "5%"}, "unknown flag: --loss (it is l2hub serve's: l2hub serve --loss ...)"},
		{[]string{"--captur", "x"}, "unknown flag: --captur (did you mean l2hub serve --capture?)"},
		{[]string{"--verison"}, "(did you mean --version?)"}, // the root's own flags first
	} {
		err := run(context.Background(), tc.args, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.args, err, tc.want)
		}
	}
}

func TestWiresharkPluginCommand(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"wireshark-plugin"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), wireshark.Plugin) {
		t.Errorf("wireshark-plugin printed %d bytes, not the plugin", out.Len())
	}
	// --dir says where to install: it implies --install, rather than
	// print the plugin and ignore the folder.
	for _, args := range [][]string{{"--install", "--dir"}, {"--dir"}} {
		dir := filepath.Join(t.TempDir(), "plugins")
		out.Reset()
		if err := run(context.Background(), append(append([]string{"wireshark-plugin"}, args...), dir), &out, io.Discard); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(dir, "nexus.lua"))
		if err != nil || !bytes.Equal(got, wireshark.Plugin) || !strings.Contains(out.String(), "installed "+filepath.Join(dir, "nexus.lua")) {
			t.Errorf("wireshark-plugin %v DIR: %v, %.80q", args, err, out.String())
		}
	}
}
