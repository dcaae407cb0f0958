package serve_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"l2hub/control"
	"l2hub/serve"
	"l2hub/transport"
	"l2hub/transport/transporttest"
)

// hangGuard bounds a wait whose end the test needs; reaching it means the
// code under test hangs. It decides no pass: it only stops a stuck run.
const hangGuard = 60 * time.Second

// dialVM and readFrame are transporttest's.
func dialVM(t *testing.T, addr string) *transport.StreamConn { return transporttest.DialVM(t, addr) }

func readFrame(t *testing.T, c *transport.StreamConn) []byte { return transporttest.ReadFrame(t, c) }

// readSummary reads back the JSON summary a run wrote (Options.SummaryFile).
func readSummary(t *testing.T, path string) serve.Summary {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var sum serve.Summary
	if err := json.Unmarshal(raw, &sum); err != nil {
		t.Fatal(err)
	}
	return sum
}

// startSession validates cfg, builds its session and starts it, with
// fatal (nil: the transport's end is not the test's business); the test's
// cleanup stops it, if the test has not (Stop is idempotent).
func startSession(t *testing.T, cfg serve.Config, fatal func(error)) *serve.Session {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	sess, err := serve.New(cfg, serve.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sess.Stop() })
	if err := sess.Start(context.Background(), fatal); err != nil {
		t.Fatal(err)
	}
	return sess
}

// serveControl serves the control API of sess until the test ends, and
// returns its address.
func serveControl(t *testing.T, sess *serve.Session) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addr, done, err := sess.ServeControl(ctx)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		if done != nil {
			<-done
		}
	})
	return addr
}

// waitAttached returns once every port of sess (or each named in only) has
// its VM attached.
func waitAttached(t *testing.T, sess *serve.Session, only ...string) {
	t.Helper()
	deadline := time.Now().Add(hangGuard)
	for {
		ports, err := sess.Ports(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		var waiting []string
		for _, p := range ports {
			if !p.Attached && (len(only) == 0 || slices.Contains(only, p.Name)) {
				waiting = append(waiting, p.Name)
			}
		}
		if len(waiting) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(fmt.Errorf("ports %s: no VM attached after %v", strings.Join(waiting, ", "), hangGuard))
		}
		time.Sleep(time.Millisecond)
	}
}

// pair is serve running with VMs a and b attached over loopback TCP, a
// policy, a capture and a control socket, all in one directory.
type pair struct {
	cfg  serve.Config
	ctl  *control.Client
	a, b *transport.StreamConn
	stop func() // stops serve; the test's cleanup calls it too
}

// runPair starts a pair whose policy file holds policy, and waits until
// both VMs are attached.
func runPair(t *testing.T, policy string, opts serve.Options) pair {
	t.Helper()
	dir := t.TempDir()
	cfg := serve.DefaultConfig()
	cfg.Ports = []transport.Spec{
		{Name: "a", Transport: transport.TCP, Address: "127.0.0.1:0"},
		{Name: "b", Transport: transport.TCP, Address: "127.0.0.1:0"},
	}
	cfg.Control = filepath.Join(dir, "ctl.sock")
	cfg.Policy = filepath.Join(dir, "policy.yaml")
	cfg.Capture.File = filepath.Join(dir, "run.pcapng")
	if err := os.WriteFile(cfg.Policy, []byte(policy), 0o600); err != nil {
		t.Fatal(err)
	}
	s, stop := runServeWith(t, cfg, opts)
	p := pair{cfg: cfg, ctl: control.NewClient(cfg.Control, ""), a: dialVM(t, s.ports["a"]), b: dialVM(t, s.ports["b"]), stop: stop}
	waitFor(t, "both VMs attached", func() bool {
		ports, err := p.ctl.Ports(context.Background())
		return err == nil && len(ports) == 2 && ports[0].Attached && ports[1].Attached
	})
	return p
}
