package main

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"l2hub/control"
	"l2hub/internal/syncbuf"
)

// stuckWriter is a stderr whose reader has stopped reading (a paused
// pager, a wedged log shipper): every write blocks until release.
type stuckWriter struct {
	gate chan struct{}
	once sync.Once
}

func (w *stuckWriter) Write(p []byte) (int, error) {
	<-w.gate
	return len(p), nil
}

func (w *stuckWriter) release() { w.once.Do(func() { close(w.gate) }) }

// stickyStdout is a stdout read until stick is called, and then no more
// (serve 2>&1 | less, paused once the banner was read).
type stickyStdout struct {
	syncbuf.Buffer
	stuck atomic.Bool
	gate  chan struct{}
}

func (w *stickyStdout) Write(p []byte) (int, error) {
	if w.stuck.Load() {
		<-w.gate
	}
	return w.Buffer.Write(p)
}

// TestStuckStderrHoldsNothing: with a stderr that never takes a byte,
// serve starts, peers attach and detach on one port (more log lines than
// stderr's queue holds), two other ports still forward between their
// clients, and a signal stops it, with its summary written and its ready
// file removed; also when stdout, where the text summary goes, stops
// being read too.
func TestStuckStderrHoldsNothing(t *testing.T) {
	for _, stdoutStuck := range []bool{false, true} {
		t.Run(map[bool]string{false: "stderr", true: "stderr-and-stdout"}[stdoutStuck], func(t *testing.T) {
			testStuckOutput(t, stdoutStuck)
		})
	}
}

func testStuckOutput(t *testing.T, stdoutStuck bool) {
	defer func(n int) { stderrQueue = n }(stderrQueue)
	stderrQueue = 16 << 10 // some hundred records: the churn below fills it
	dir := t.TempDir()
	ctl, summary, readyFile := filepath.Join(dir, "ctl.sock"), filepath.Join(dir, "s.json"), filepath.Join(dir, "ready")
	stderr := &stuckWriter{gate: make(chan struct{})}
	stdout := &stickyStdout{gate: make(chan struct{})}
	p := &inProcess{t: t, stdout: &stdout.Buffer, stderr: &syncbuf.Buffer{}, sigs: make(chan os.Signal, 2), code: make(chan int, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		p.code <- runProcess(ctx, []string{"serve", "--port", "a=tcp:127.0.0.1:0", "--port", "b=tcp:127.0.0.1:0", "--port", "c=tcp:127.0.0.1:0",
			"--control", ctl, "--summary", summary, "--ready-file", readyFile}, stdout, stderr, p.sigs,
			func(sig os.Signal) { t.Errorf("forced exit by %v", sig) })
	}()
	t.Cleanup(func() {
		stderr.release() // whatever failed, let the session's goroutines end
		close(stdout.gate)
		cancel()
		select {
		case <-p.code:
		case <-time.After(hangGuard):
			t.Errorf("l2hub still runs %v after the test", hangGuard)
		}
	})
	for deadline := time.Now().Add(hangGuard); ; time.Sleep(10 * time.Millisecond) {
		if out := p.stdout.String(); strings.Contains(out, "Ctrl-C stops") && strings.HasSuffix(out, "\n\n") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no banner within %v with stderr stuck; stdout:\n%s", hangGuard, p.stdout.String())
		}
	}
	addrs := tcpPorts(t, p.stdout.String())

	const churn = 300 // two records each, about 100 bytes a record
	for range churn {
		c, err := net.Dial("tcp", addrs["c"])
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
	client := control.NewClient(ctl, "")
	for deadline := time.Now().Add(hangGuard); ; time.Sleep(10 * time.Millisecond) {
		ports, err := client.Ports(context.Background())
		if err == nil && ports[2].Name == "c" && ports[2].Stats.Attaches == churn && !ports[2].Attached {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("port c did not see its %d peers come and go within %v (%v, %+v)", churn, hangGuard, err, ports)
		}
	}

	exchange(t, addrs["a"], addrs["b"], ctl)

	stdout.stuck.Store(stdoutStuck)
	p.sigs <- syscall.SIGINT
	if code := p.exit(); code != 0 {
		t.Errorf("got exit status %d, want 0", code)
	}
	b, err := os.ReadFile(summary)
	if err != nil {
		t.Fatalf("no summary with stderr stuck: %v", err)
	}
	var s struct {
		Ports []struct {
			Name  string `json:"name"`
			Stats struct {
				Attaches uint64 `json:"attaches"`
			} `json:"stats"`
		} `json:"ports"`
	}
	if err := json.Unmarshal(b, &s); err != nil || len(s.Ports) != 3 || s.Ports[2].Name != "c" || s.Ports[2].Stats.Attaches != churn {
		t.Errorf("got summary %s (%v), want its three ports, c with %d attaches", b, err, churn)
	}
	if _, err := os.Stat(readyFile); !os.IsNotExist(err) {
		t.Errorf("the ready file is still there after the exit (%v)", err)
	}
}
