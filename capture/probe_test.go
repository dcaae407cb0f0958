package capture

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// TestPerPortDirTriedAtOpen: a per-port capture whose directory takes no
// file (read-only) or no header (a full disk) fails Open, as a segment
// capture's file does, with an error that names the capture and the
// directory, rather than start and lose every port's file later; the
// try leaves nothing behind.
func TestPerPortDirTriedAtOpen(t *testing.T) {
	readOnly := func(string) (io.WriteCloser, error) { return nil, syscall.EROFS }
	for _, tc := range []struct {
		name string
		fs   func(*Config, *disk)
		want error
	}{
		{"read-only", func(c *Config, _ *disk) { c.Create = readOnly }, syscall.EROFS},
		{"full", func(c *Config, d *disk) { d.full.Store(true) }, syscall.ENOSPC},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			d := newDisk()
			cfg := Config{Path: filepath.Join(dir, "run.pcapng"), PerPort: true, Meta: testMeta, Create: d.Create, Remove: d.Remove}
			tc.fs(&cfg, d)
			s, err := Open(cfg)
			if err == nil {
				s.Close()
				t.Fatalf("Open(per port) in a directory that takes no file = nil error, want %v", tc.want)
			}
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), cfg.Path) || !strings.Contains(err.Error(), "in "+dir+":") {
				t.Errorf("Open(per port) = %v, want %v naming %s and its directory", err, tc.want, cfg.Path)
			}
			if strings.Contains(err.Error(), "probe") {
				t.Errorf("Open(per port) = %v, want no word of the probe's name", err)
			}
			if len(d.files) != 0 {
				t.Errorf("files left after the failed Open: %v", slices.Collect(maps.Keys(d.files)))
			}
		})
	}
}

// TestPerPortDirReadOnly: the same on a real read-only directory (not as
// root, whom the mode does not stop); and a directory that takes files
// is left as it was.
func TestPerPortDirReadOnly(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{Path: filepath.Join(dir, "run.pcapng"), PerPort: true, Meta: testMeta}
	s := mustOpen(t, cfg)
	mustClose(t, s)
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("a per-port capture with no port left %v in its directory, want nothing", left)
	}
	if os.Getuid() == 0 {
		t.Skip("skipping the read-only directory: root writes in it anyway")
	}
	if err := os.Chmod(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(dir, 0o755) })
	if s, err := Open(cfg); err == nil {
		s.Close()
		t.Errorf("Open(per port) in a read-only directory = nil error, want EACCES")
	} else if !errors.Is(err, os.ErrPermission) || !strings.Contains(err.Error(), dir) {
		t.Errorf("Open(per port) in a read-only directory = %v, want EACCES naming %s", err, dir)
	}
}

// TestPerPortProbeTouchesNoOnesFile: the probe takes a name no file has:
// with a symlink at its first name it takes another, leaving the link and
// its target as they were; with every name it tries taken it probes
// nothing, rather than truncate and remove one of them.
func TestPerPortProbeTouchesNoOnesFile(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{Path: filepath.Join(dir, "run.pcapng"), PerPort: true, Meta: testMeta}
	name := func(i int) string {
		return filepath.Join(dir, fmt.Sprintf(".run.pcapng.l2hub-probe-%d-%d", os.Getpid(), i))
	}
	target := filepath.Join(t.TempDir(), "someones")
	if err := os.WriteFile(target, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, name(0)); err != nil {
		t.Fatal(err)
	}
	mustClose(t, mustOpen(t, cfg))
	if b, err := os.ReadFile(name(0)); err != nil || string(b) != "keep" {
		t.Errorf("the symlink at the probe's first name reads %q, %v; want it and its target as they were", b, err)
	}
	for i := 1; i < 100; i++ {
		if err := os.WriteFile(name(i), []byte("keep"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	mustClose(t, mustOpen(t, cfg))
	for i := range 100 {
		if b, err := os.ReadFile(name(i)); err != nil || string(b) != "keep" {
			t.Errorf("%s reads %q, %v after Open; want it as it was", name(i), b, err)
		}
	}
}
