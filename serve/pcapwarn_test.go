package serve_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"l2hub/internal/syncbuf"
	"l2hub/serve"
	"l2hub/transport"
)

// TestClassicPcapWithAPolicyWarns: classic pcap has no place for the
// verdicts, the seed, the policy, the start time, the edits or the
// direction a replay needs, so serve warns when a policy's decisions would
// go unrecorded in one, saying what is lost and to use pcapng; with
// pcapng, or no policy, it does not.
func TestClassicPcapWithAPolicyWarns(t *testing.T) {
	for _, tc := range []struct {
		name, file, format string
		policy, warn       bool
	}{
		{"pcap-with-policy", "run.pcap", "", true, true},
		{"format-pcap-with-policy", "run.cap", "pcap", true, true},
		{"pcapng-with-policy", "run.pcapng", "", true, false},
		{"pcap-without-policy", "run.pcap", "", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := serve.Config{
				Control: "off",
				Capture: serve.CaptureConfig{File: filepath.Join(dir, tc.file), Format: tc.format},
				Ports:   []transport.Spec{{Name: "a", Transport: transport.TCP, Address: "127.0.0.1:0"}},
			}
			if tc.policy {
				cfg.Policy = filepath.Join(dir, "p.yaml")
				if err := os.WriteFile(cfg.Policy, []byte("seed: 1\nrules:\n  - {name: lossy, loss: 5%}\n"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if err := cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			sess, err := serve.New(cfg, serve.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			if err != nil {
				t.Fatal(err)
			}
			if err := sess.Stop(); err != nil {
				t.Fatal(err)
			}
			got := strings.Contains(logs.String(), "level=WARN") && strings.Contains(logs.String(), "classic pcap")
			if got != tc.warn {
				t.Fatalf("got logs %q, want a warning on classic pcap: %v", logs.String(), tc.warn)
			}
			for _, want := range []string{"verdicts", "seed", "direction", "pcapng"} {
				if tc.warn && !strings.Contains(logs.String(), want) {
					t.Errorf("got warning %q, want it to say %q", logs.String(), want)
				}
			}
		})
	}
}

// TestClassicPcapWarnsWhenAPolicyComesLater: a hub that started without a
// policy warns of its classic pcap once a policy comes into force through
// the control API (set-policy, or a link change that makes the empty
// one), and once only, however many follow.
func TestClassicPcapWarnsWhenAPolicyComesLater(t *testing.T) {
	for _, first := range []string{"set-policy", "link"} {
		t.Run(first, func(t *testing.T) {
			dir := t.TempDir()
			cfg := serve.Config{
				Control: "off",
				Capture: serve.CaptureConfig{File: filepath.Join(dir, "run.pcap")},
				Ports:   []transport.Spec{{Name: "a", Transport: transport.TCP, Address: "127.0.0.1:0"}},
			}
			if err := cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			var logs syncbuf.Buffer
			sess, err := serve.New(cfg, serve.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { sess.Stop() })
			if err := sess.Start(context.Background(), nil); err != nil {
				t.Fatal(err)
			}
			warnings := func() int { return strings.Count(logs.String(), "classic pcap") }
			if n := warnings(); n != 0 {
				t.Fatalf("without a policy: got %d warnings, want none", n)
			}
			ctx := context.Background()
			replace := func() {
				t.Helper()
				if err := sess.ReplacePolicy(ctx, "p.yaml", []byte("seed: 1\nrules:\n  - {name: lossy, loss: 5%}\n")); err != nil {
					t.Fatal(err)
				}
			}
			if first == "link" {
				if err := sess.SetLink(ctx, "a", false); err != nil {
					t.Fatal(err)
				}
			} else {
				replace()
			}
			if n := warnings(); n != 1 {
				t.Fatalf("after the first %s: got %d warnings, want 1:\n%s", first, n, logs.String())
			}
			replace()
			if err := sess.SetLink(ctx, "a", true); err != nil {
				t.Fatal(err)
			}
			if n := warnings(); n != 1 {
				t.Errorf("after more changes: got %d warnings, want still 1:\n%s", n, logs.String())
			}
		})
	}
}
