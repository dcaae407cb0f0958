package serve_test

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"l2hub/serve"
	"l2hub/transport"
)

// TestUnwritableOutputsRefuseTheStart: a ready file or a summary that
// cannot be written is found when serve starts, before anything is bound,
// not after the run (the summary) or once bound (the ready file). The
// port's address is held by another socket: a check that came after the
// binding would report that instead.
func TestUnwritableOutputsRefuseTheStart(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for _, tt := range []struct {
		name, want string
		set        func(o *serve.Options, path string)
	}{
		{"summary", "summary: write ", func(o *serve.Options, p string) { o.SummaryFile = p }},
		{"ready-file", "ready file: write ", func(o *serve.Options, p string) { o.ReadyFile = p }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := serve.DefaultConfig()
			cfg.Ports = []transport.Spec{{Name: "a", Transport: transport.TCP, Address: busy.Addr().String()}}
			cfg.Control = filepath.Join(dir, "ctl.sock")
			cfg.Capture.File = filepath.Join(dir, "run.pcapng")
			if err := cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, "no-such-dir", "out.json")
			var opts serve.Options
			tt.set(&opts, path)
			err := serve.Run(context.Background(), cfg, opts)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want+path) || !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("got %v, want %q... wrapping ErrNotExist", err, tt.want+path)
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 0 {
				t.Errorf("a refused start left %d entries in %s (%s...)", len(ents), dir, ents[0].Name())
			}
		})
	}
}
