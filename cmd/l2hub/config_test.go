package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// TestConfigNamesAMissingPolicy: a policy file a config names but that
// cannot be read is reported at the config's line and column.
func TestConfigNamesAMissingPolicy(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "os2vm.yaml")
	if err := os.WriteFile(cfg, []byte("mode: switch\npolicy: faults.yaml\nports:\n  - {name: a, transport: tcp, address: \"127.0.0.1:0\"}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := run(context.Background(), []string{"serve", "--config", cfg, "--control", "off"}, io.Discard, io.Discard)
	want := cfg + ":2:9: policy: open " + filepath.Join(dir, "faults.yaml") + ": no such file or directory"
	if err == nil || err.Error() != want {
		t.Errorf("serve with a config naming a missing policy: got %v, want %s", err, want)
	}
	// --policy replaces the config's, which then need not exist.
	pol := filepath.Join(dir, "other.yaml")
	if err := os.WriteFile(pol, []byte("rules: []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := startServe(t, "serve", "--config", cfg, "--control", "off", "--policy", pol)
	if err := s.stop(); err != nil {
		t.Errorf("serve with --policy over the config's: %v", err)
	}
}
