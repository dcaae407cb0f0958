package serve

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"l2hub/internal/ready"
)

// TestFlagsRun: serve's flags parsed and run: a bad flag is refused before
// anything binds; a good run serves until its context ends, then writes its
// summary (--summary) and returns nil.
func TestFlagsRun(t *testing.T) {
	run := func(ctx context.Context, args ...string) (string, error) {
		var f Flags
		fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
		f.Register(fs)
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		var out, errs bytes.Buffer
		err := f.Run(ctx, &out, &errs, "v-test")
		return out.String() + errs.String(), err
	}
	if _, err := run(context.Background(), "--log-level", "loud"); err == nil || !strings.Contains(err.Error(), `--log-level "loud"`) {
		t.Errorf("got Run(--log-level loud) = %v, want an error naming the flag", err)
	}
	dir := t.TempDir()
	readyFile := filepath.Join(dir, "ready.json")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type result struct {
		said string
		err  error
	}
	done := make(chan result, 1)
	waitCtx, stopWait := context.WithCancel(ctx) // a run that fails ends the wait
	go func() {
		defer stopWait()
		said, err := run(ctx, "-p", "a=unix:"+filepath.Join(dir, "a.sock"), "-p", "b=unix:"+filepath.Join(dir, "b.sock"),
			"--control", "off", "--ready-file", readyFile)
		done <- result{said, err}
	}()
	if _, err := ready.WaitFor(waitCtx, readyFile, 0, time.Millisecond); err != nil {
		r := <-done
		t.Fatalf("no ready file: %v; Run() = %v, output %q", err, r.err, r.said)
	}
	cancel()
	if r := <-done; r.err != nil || !strings.Contains(r.said, "a.sock") {
		t.Errorf("got Run() = %v, output %q, want nil and the ports said", r.err, r.said)
	}
}
