package serve

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"l2hub/capture"
	"l2hub/filter"
	"l2hub/hub"
	"l2hub/transport"
)

// lockedBuffer is a log's output, read while the session writes it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *lockedBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *lockedBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// TestPolicyLogNamesItsOwnFile: set-policy's "policy replaced" line names
// the capture file its change started, not one another change started
// while it waited for the loop.
func TestPolicyLogNamesItsOwnFile(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{
		Control: "off",
		Capture: CaptureConfig{File: filepath.Join(dir, "run.pcapng")},
		Ports:   []transport.Spec{{Name: "a", Transport: transport.TCP, Address: "127.0.0.1:0"}},
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	var logs lockedBuffer
	s, err := New(cfg, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The line names the file only once the capture has started it: on
	// a loaded machine that may take longer than the hub would wait.
	s.newFileWait = time.Hour
	if err := s.Start(ctx, nil); err != nil {
		t.Fatal(err)
	}
	defer s.Stop()

	// The loop is busy (held) when set-policy "mine" asks for it; while
	// it waits, another change takes the loop first and starts its file.
	holding, release := make(chan struct{}), make(chan struct{})
	held := make(chan error, 1)
	go func() {
		held <- s.hub.Do(ctx, func(*hub.Core) {
			close(holding)
			<-release
			other, err := filter.Parse([]byte("rules: []\n"), "other", cfg.PortNames())
			if err != nil {
				t.Error(err)
				return
			}
			meta := s.captureMeta(other)
			meta.Extra[capture.PolicyNameKey] = "other"
			done, err := s.capture.SetMeta(meta)
			if err != nil {
				t.Error(err)
				return
			}
			<-done
		})
	}()
	<-holding
	replaced := make(chan error, 1)
	go func() { replaced <- s.ReplacePolicy(ctx, "mine", []byte("seed: 7\nrules: []\n")) }()
	waitBlocked(t, "(*Session).ReplacePolicy")
	close(release)
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	if err := <-replaced; err != nil {
		t.Fatal(err)
	}
	files := s.capture.Files()
	var line string
	for l := range strings.Lines(logs.String()) {
		if strings.Contains(l, `msg="policy replaced"`) && strings.Contains(l, "name=mine") {
			line = l
		}
	}
	if want := "capture=" + files[len(files)-1] + "\n"; !strings.HasSuffix(line, want) {
		t.Errorf("the log says %q; want it to name its own file alone (%s), not the other change's", line, want)
	}
}

// waitBlocked returns once a goroutine running fn waits for the hub's
// lock (a mutex, in hub.(*Hub).Do).
func waitBlocked(t *testing.T, fn string) {
	t.Helper()
	buf := make([]byte, 1<<20)
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(time.Millisecond) {
		for g := range strings.SplitSeq(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
			if strings.Contains(g, "[sync.Mutex.Lock") && strings.Contains(g, "l2hub/hub.(*Hub).Do(") && strings.Contains(g, fn) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("never: %s waits for the hub's lock", fn)
		}
	}
}
