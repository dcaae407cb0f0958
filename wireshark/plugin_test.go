package wireshark_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"l2hub/internal/umask"
	"l2hub/wireshark"
)

// Install with no folder installs into the personal one: with no tshark
// to ask, ~/.local/lib/wireshark/plugins.
func TestInstallDefaultsToPersonalDir(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the personal folder is under %APPDATA% on Windows")
	}
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("PATH", "") // no tshark
	path, err := wireshark.Install("")
	if want := filepath.Join(home, ".local", "lib", "wireshark", "plugins", "nexus.lua"); err != nil || path != want {
		t.Fatalf("got Install(\"\") = %q, %v, want %q", path, err, want)
	}
	if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, wireshark.Plugin) {
		t.Errorf("installed %d bytes (%v), want the plugin", len(got), err)
	}
}

func TestInstall(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "plugins")
	for range 2 { // a second install replaces the first
		path, err := wireshark.Install(dir)
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(path)
		must(t, err)
		if !bytes.Equal(got, wireshark.Plugin) || filepath.Base(path) != "nexus.lua" {
			t.Errorf("installed %s (%d bytes), want nexus.lua with the plugin", path, len(got))
		}
		fi, err := os.Stat(path)
		must(t, err)
		if want, err := umask.Apply(0o644); err != nil {
			t.Fatal(err)
		} else if fi.Mode().Perm() != want {
			t.Errorf("mode %v, want %v (0644 less the umask)", fi.Mode().Perm(), want)
		}
	}
	entries, err := os.ReadDir(dir)
	must(t, err)
	if len(entries) != 1 {
		t.Errorf("plugin folder holds %d files, want 1 (no temporary left)", len(entries))
	}
	blocked := filepath.Join(t.TempDir(), "file")
	must(t, os.WriteFile(blocked, nil, 0o644))
	if _, err := wireshark.Install(filepath.Join(blocked, "plugins")); err == nil {
		t.Error("install under a regular file succeeded")
	}
}

// With tshark on the PATH, the personal folder is the one `tshark -G
// folders` names, as a clean path: no tab or newline from its output.
func TestPersonalDirFromTshark(t *testing.T) {
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("tshark is not installed")
	}
	home := t.TempDir()
	t.Setenv("HOME", home)
	dir, err := wireshark.PersonalDir()
	if want := filepath.Join(home, ".local", "lib", "wireshark", "plugins"); err != nil || dir != want {
		t.Fatalf("PersonalDir() = %q, %v, want %q (tshark -G folders)", dir, err, want)
	}
}
