package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"l2hub/control"
	"l2hub/internal/nobody"
)

// hangGuard bounds a wait for something that must happen, so that a bug
// fails with a message rather than at go test's timeout; it decides no
// pass.
const hangGuard = 2 * time.Minute

// squatter is another user's process holding a socket path.
type squatter struct {
	proc  *os.Process
	lines chan string
}

// squat runs nobody's squatter on path: it binds the path (making its
// directory) and answers every request 200, as the hub would.
func squat(t *testing.T, path string) *squatter {
	t.Helper()
	cmd := nobody.Command(t, "squat", path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	s := &squatter{proc: cmd.Process, lines: make(chan string, 100)}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			s.lines <- sc.Text()
		}
		close(s.lines)
	}()
	select {
	case l := <-s.lines:
		if l != "ready" {
			t.Fatalf("squatter: %s", l)
		}
	case <-time.After(hangGuard):
		t.Fatal("the squatter did not start")
	}
	return s
}

// received kills the squatter and returns the requests it got.
func (s *squatter) received() []string {
	s.proc.Kill()
	var got []string
	for l := range s.lines {
		got = append(got, l)
	}
	return got
}

// TestSquattedDefaultSocket is issue 15's first attack end to end: with
// no $XDG_RUNTIME_DIR, an unprivileged user binds the path of root's
// default control socket first. serve must refuse to start (not run
// without control), and `ctl set-policy` must refuse to send the policy
// rather than print "policy replaced".
func TestSquattedDefaultSocket(t *testing.T) {
	tmp, err := os.MkdirTemp("", "l2hub-tmp-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(tmp) })
	if err := os.Chmod(tmp, 0o1777); err != nil { // like /tmp
		t.Fatal(err)
	}
	t.Setenv("TMPDIR", tmp)
	t.Setenv("XDG_RUNTIME_DIR", "")
	s := squat(t, control.DefaultAddr())

	err = run(context.Background(), []string{"serve", "--port", "a=tcp:127.0.0.1:0"}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "belongs to another user") {
		t.Errorf("serve with a squatted default socket: got %v, want a refusal to start", err)
	}
	pol := filepath.Join(t.TempDir(), "p.yaml")
	if err := os.WriteFile(pol, []byte("seed: 1\nrules: []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	err = run(context.Background(), []string{"ctl", "set-policy", pol}, &out, io.Discard)
	if err == nil || strings.Contains(out.String(), "replaced") {
		t.Errorf("ctl set-policy to a squatted socket: got %q, %v; want an error and no claim", out.String(), err)
	}
	if got := s.received(); len(got) > 0 {
		t.Errorf("the squatter received %v", got)
	}
}

// TestTCPControlToken: a TCP control address needs a token, which comes
// from the environment or a private file as well as the command line.
func TestTCPControlToken(t *testing.T) {
	t.Setenv(control.TokenEnv, "")
	err := run(context.Background(), []string{"serve", "--port", "a=tcp:127.0.0.1:0", "--control", "tcp:127.0.0.1:0"}, io.Discard, io.Discard)
	if !errors.Is(err, control.ErrNeedToken) {
		t.Fatalf("serve with a TCP control address and no token: got %v, want ErrNeedToken", err)
	}
	dir := t.TempDir()
	loose := filepath.Join(dir, "loose")
	if err := os.WriteFile(loose, []byte("tok-1-of-enough-length\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Readable by others whatever the umask; under 077 the hub would
	// take the file and serve until the test's timeout.
	if err := os.Chmod(loose, 0o644); err != nil {
		t.Fatal(err)
	}
	err = run(context.Background(), []string{"serve", "--port", "a=tcp:127.0.0.1:0", "--control", "tcp:127.0.0.1:0", "--control-token-file", loose}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "other users can read it") {
		t.Fatalf("serve with a token file others can read: got %v, want a refusal", err)
	}
	tight := filepath.Join(dir, "tight")
	if err := os.WriteFile(tight, []byte("tok-1-of-enough-length\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	t.Setenv(control.TokenEnv, "tok-1-of-enough-length")
	s := startServe(t, "serve", "--port", "a=tcp:127.0.0.1:0", "--control", "tcp:127.0.0.1:0")
	m := regexp.MustCompile(`control API on (tcp:\S+);`).FindStringSubmatch(s.stdout.String())
	if m == nil {
		t.Fatalf("no TCP control address in the banner:\n%s", s.stdout.String())
	}
	addr := m[1]
	for _, tc := range []struct {
		name string
		env  string
		args []string
		ok   bool
	}{
		{"from-the-environment", "tok-1-of-enough-length", nil, true},
		{"from-a-file", "", []string{"--control-token-file", tight}, true},
		{"on-the-command-line", "", []string{"--control-token", "tok-1-of-enough-length"}, true},
		{"none", "", nil, false},
		{"wrong", "tok-2", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(control.TokenEnv, tc.env)
			args := append([]string{"ctl", "--control", addr}, tc.args...)
			err := run(context.Background(), append(args, "link", "a", "down"), io.Discard, io.Discard)
			if (err == nil) != tc.ok || err != nil && !strings.Contains(err.Error(), "bearer token") {
				t.Errorf("ctl link a down: got %v, want ok=%v (or a token error)", err, tc.ok)
			}
			if err != nil && !strings.Contains(err.Error(), "--control-token-file FILE or $"+control.TokenEnv) {
				t.Errorf("ctl link a down: got %v, want it to say how to give the token", err)
			}
		})
	}
}

// TestServeRefusesShortTokens: serve refuses a token shorter than
// control.MinTokenLen where one is required (a TCP control address, a
// metrics address other than loopback), naming the token, where it came
// from and how to make one; elsewhere (the control socket, loopback
// metrics) a short one, say one the shell exports for ctl, is taken.
func TestServeRefusesShortTokens(t *testing.T) {
	t.Setenv(control.TokenEnv, "")
	t.Setenv(control.MetricsTokenEnv, "")
	dir := t.TempDir()
	write := func(name, text string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	shortFile := write("short.token", "tok-file-1\n")
	conf := write("hub.yaml", "control: tcp:127.0.0.1:0\ncontrol_token: tok-in-yaml\nports:\n  - {name: a, transport: tcp, address: 127.0.0.1:0}\n")
	metricsConf := write("metrics.yaml", "control: off\nmetrics: tcp:0.0.0.0:0\nmetrics_token_file: short.token\nports:\n  - {name: a, transport: tcp, address: 127.0.0.1:0}\n")
	port := []string{"--port", "a=tcp:127.0.0.1:0"}
	for _, tc := range []struct {
		name, env, value string
		args             []string
		what, from       string
	}{
		{"control-env", control.TokenEnv, "tok-1", append(port, "--control", "tcp:127.0.0.1:0"), "control token", "$" + control.TokenEnv},
		{"control-flag", "", "", append(port, "--control", "tcp:127.0.0.1:0", "--control-token", "tok-flag"), "control token", "--control-token"},
		{"control-file", "", "", append(port, "--control", "tcp:127.0.0.1:0", "--control-token-file", shortFile), "control token", "--control-token-file " + shortFile},
		{"control-config", "", "", []string{"--config", conf}, "control token", conf + ":2:16: control_token"},
		{"metrics-env", control.MetricsTokenEnv, "short-metrics", append(port, "--control", "off", "--metrics", "tcp:0.0.0.0:0"), "metrics token", "$" + control.MetricsTokenEnv},
		{"metrics-file", "", "", append(port, "--control", "off", "--metrics", "tcp:0.0.0.0:0", "--metrics-token-file", shortFile), "metrics token", "--metrics-token-file " + shortFile},
		{"metrics-config", "", "", []string{"--config", metricsConf}, "metrics token", metricsConf + ":3:21: metrics_token_file " + shortFile},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.env != "" {
				t.Setenv(tc.env, tc.value)
			}
			err := run(context.Background(), append([]string{"serve"}, tc.args...), io.Discard, io.Discard)
			if !errors.Is(err, control.ErrShortToken) || !strings.Contains(err.Error(), tc.what+" from "+tc.from+":") || !strings.Contains(err.Error(), "/dev/urandom") {
				t.Errorf("got %v, want the %s from %s refused as too short, saying how to make one", err, tc.what, tc.from)
			}
		})
	}
	for _, tc := range []struct {
		name, env string
		args      []string
	}{
		{"control-socket", control.TokenEnv, append(port, "--control", filepath.Join(dir, "c.sock"))},
		{"metrics-loopback", control.MetricsTokenEnv, append(port, "--control", "off", "--metrics", "tcp:127.0.0.1:0")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(tc.env, "tok-1")
			startServe(t, append([]string{"serve"}, tc.args...)...).stop()
		})
	}
}
