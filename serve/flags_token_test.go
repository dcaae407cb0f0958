package serve

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"l2hub/control"
)

// parseFlags parses serve's args into Flags whose log writes to a buffer,
// and returns its Config, what it logged and its error.
func parseFlags(t *testing.T, args ...string) (Config, string, error) {
	t.Helper()
	var f Flags
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	f.Register(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	if _, err := f.Logger(&log); err != nil {
		t.Fatal(err)
	}
	cfg, err := f.Config()
	return cfg, log.String(), err
}

// TestTokenSourcesAreSaid: where the token comes from is said when it may
// surprise: $L2HUB_CONTROL_TOKEN (or $L2HUB_METRICS_TOKEN) overriding the
// config file's token, and --control-token, which shows in ps. The
// config's token alone, and a token file, say nothing.
func TestTokenSourcesAreSaid(t *testing.T) {
	const port = "ports: [{name: a, transport: tcp, address: '127.0.0.1:0'}]\n"
	dir := t.TempDir()
	write := func(name, text string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	tokFile := write("c.token", "file-token-0123456789abcdef\n")
	literal := write("literal.yaml", "control: tcp:127.0.0.1:0\ncontrol_token: yaml-token-0123456789abcdef\n"+port)
	fromFile := write("file.yaml", "control: tcp:127.0.0.1:0\ncontrol_token_file: c.token\nmetrics: tcp:127.0.0.1:0\nmetrics_token_file: c.token\n"+port)
	for _, tc := range []struct {
		name    string
		env     map[string]string
		args    []string
		from    string // cfg.TokenFrom()
		warning string // "" for none
	}{
		{"config-literal", nil, []string{"--config", literal}, literal + ":2:16: control_token", ""},
		{"config-file", nil, []string{"--config", fromFile}, fromFile + ":2:21: control_token_file " + tokFile, ""},
		{"env-over-literal", map[string]string{control.TokenEnv: "env-token-0123456789abcdef"}, []string{"--config", literal},
			"$" + control.TokenEnv, "$" + control.TokenEnv + " overrides the config's control token"},
		{"env-over-file", map[string]string{control.TokenEnv: "env-token-0123456789abcdef"}, []string{"--config", fromFile},
			"$" + control.TokenEnv, "control_token_file " + tokFile},
		{"metrics-env-over-file", map[string]string{control.MetricsTokenEnv: "env-metrics-0123456789abcdef"}, []string{"--config", fromFile},
			fromFile + ":2:21: control_token_file " + tokFile, "$" + control.MetricsTokenEnv + " overrides the config's metrics token"},
		{"env-alone", map[string]string{control.TokenEnv: "env-token-0123456789abcdef"}, []string{"--control", "tcp:127.0.0.1:0"},
			"$" + control.TokenEnv, ""},
		{"flag-file-over-config", nil, []string{"--config", literal, "--control-token-file", tokFile}, "--control-token-file " + tokFile, ""},
		{"flag-value", nil, []string{"--control", "tcp:127.0.0.1:0", "--control-token", "flag-token-0123456789abcdef"},
			"--control-token", "--control-token shows the token to every user"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(control.TokenEnv, "")
			t.Setenv(control.MetricsTokenEnv, "")
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			cfg, log, err := parseFlags(t, tc.args...)
			if err != nil {
				t.Fatal(err)
			}
			if got := cfg.TokenFrom(); got != tc.from {
				t.Errorf("TokenFrom() = %q, want %q", got, tc.from)
			}
			switch {
			case tc.warning == "" && log != "":
				t.Errorf("logged %q, want nothing", log)
			case tc.warning != "" && (!strings.Contains(log, "level=WARN") || !strings.Contains(log, tc.warning)):
				t.Errorf("logged %q, want a warning saying %q", log, tc.warning)
			}
		})
	}
}

// TestConfigWithTokenMustBePrivate: a config file that gives the control
// token itself (control_token:) is refused, as a token file is, when
// others may read it; one without a token, or whose token a flag or the
// environment replaces, is not.
func TestConfigWithTokenMustBePrivate(t *testing.T) {
	const port = "ports: [{name: a, transport: tcp, address: '127.0.0.1:0'}]\n"
	t.Setenv(control.TokenEnv, "")
	dir := t.TempDir()
	write := func(name, text string, mode os.FileMode) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		return path
	}
	readable := write("readable.yaml", "control: tcp:127.0.0.1:0\ncontrol_token: yaml-token-0123456789abcdef\n"+port, 0o644)
	_, _, err := parseFlags(t, "--config", readable)
	if err == nil || !strings.Contains(err.Error(), "has mode 0644: other users can read it") || !strings.Contains(err.Error(), "control_token") {
		t.Errorf("a 0644 config with control_token: %v, want it refused, saying why", err)
	}
	t.Setenv(control.TokenEnv, "env-token-0123456789abcdef")
	if _, _, err := parseFlags(t, "--config", readable); err != nil {
		t.Errorf("a 0644 config whose token the environment replaces: %v", err)
	}
	t.Setenv(control.TokenEnv, "")
	plain := write("plain.yaml", "control: off\n"+port, 0o644)
	if _, _, err := parseFlags(t, "--config", plain); err != nil {
		t.Errorf("a 0644 config without a token: %v", err)
	}
	private := write("private.yaml", "control: tcp:127.0.0.1:0\ncontrol_token: yaml-token-0123456789abcdef\n"+port, 0o600)
	if _, _, err := parseFlags(t, "--config", private); err != nil {
		t.Errorf("a 0600 config with control_token: %v", err)
	}
	if os.Getuid() != 0 {
		t.Log("not root: a config of another user's is not tried")
		return
	}
	if err := os.Chown(private, 65534, 65534); err != nil { // nobody's
		t.Fatal(err)
	}
	if _, _, err := parseFlags(t, "--config", private); !errors.Is(err, control.ErrNotYours) {
		t.Errorf("nobody's config with control_token: %v, want ErrNotYours", err)
	}
}
