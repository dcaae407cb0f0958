package main

import (
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"l2hub/control"
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

// TestStartErrorsNameTheFlagOrLine: an error found once the config is
// validated (a control or metrics address that cannot be served, a token
// or policy file that cannot be read, a port in use) starts with the flag
// that gave the value or the config file's line and column, as a bad
// value's does; a TCP control address in a config is told the config's
// own token key too.
func TestStartErrorsNameTheFlagOrLine(t *testing.T) {
	t.Setenv(control.TokenEnv, "")
	t.Setenv(control.MetricsTokenEnv, "")
	dir := t.TempDir()
	write := func(name, text string) string {
		t.Helper()
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	taken := busy.Addr().String()
	const port = "ports: [{name: a, transport: tcp, address: '127.0.0.1:0'}]\n"
	tok := write("c.token", "tok-0123456789abcdef\n")
	missing := filepath.Join(dir, "missing")
	noToken := write("notoken.yaml", "control: tcp:127.0.0.1:0\n"+port)
	inUse := write("inuse.yaml", "control: tcp:"+taken+"\ncontrol_token_file: c.token\n"+port)
	noTokenFile := write("notokenfile.yaml", "control: tcp:127.0.0.1:0\ncontrol_token_file: missing\n"+port)
	metrics := write("metrics.yaml", "control: off\nmetrics: tcp:0.0.0.0:0\n"+port)
	flagPort := []string{"--port", "a=tcp:127.0.0.1:0"}
	for _, tt := range []struct {
		name string
		args []string
		want string // how the error starts
		also string // what it says further on ("" for nothing more)
	}{
		{"config-control-without-token", []string{"--config", noToken}, noToken + `:1:10: control: control address "tcp:127.0.0.1:0": a TCP control address needs a token`,
			"the config's control_token_file:"},
		{"flag-control-without-token", append([]string{"--control", "tcp:127.0.0.1:0"}, flagPort...), `--control: control address "tcp:127.0.0.1:0": a TCP control address needs a token`, ""},
		{"config-control-in-use", []string{"--config", inUse}, inUse + ":1:10: control: listen tcp", "address already in use"},
		{"flag-control-in-use", append([]string{"--control", "tcp:" + taken, "--control-token-file", tok}, flagPort...), "--control: listen tcp", "address already in use"},
		{"config-token-file", []string{"--config", noTokenFile}, noTokenFile + ":2:21: control_token_file: control token file: open " + missing, ""},
		{"config-metrics", []string{"--config", metrics}, metrics + `:2:10: metrics: metrics address "tcp:0.0.0.0:0" is not a loopback address`, ""},
		{"flag-metrics", append([]string{"--control", "off", "--metrics", "tcp:0.0.0.0:0"}, flagPort...), `--metrics: metrics address "tcp:0.0.0.0:0" is not a loopback address`, ""},
		{"flag-policy", append([]string{"--control", "off", "--policy", missing}, flagPort...), "--policy: open " + missing, ""},
		{"flag-metrics-token-file", append([]string{"--control", "off", "--metrics-token-file", missing}, flagPort...), "--metrics-token-file: metrics token file: open " + missing, ""},
		{"flag-control-token-file", append([]string{"--control", "off", "--control-token-file", missing}, flagPort...), "--control-token-file: control token file: open " + missing, ""},
		{"flag-config", []string{"--config", missing}, "--config: open " + missing, ""},
		{"flag-port-in-use", []string{"--control", "off", "--port", "a=tcp:" + taken}, "--port a=tcp:" + taken + `: port "a": listen tcp`, "address already in use"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := run(context.Background(), append([]string{"serve"}, tt.args...), io.Discard, io.Discard)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) || !strings.Contains(err.Error(), tt.also) {
				t.Errorf("serve %s: got error\n%v\nwant one starting\n%s\nand saying %q", strings.Join(tt.args, " "), err, tt.want, tt.also)
			}
			if tt.also == "" && strings.Contains(err.Error(), "the config's control_token_file") {
				t.Errorf("serve %s: got error\n%v\nwhich offers a config's key without a config", strings.Join(tt.args, " "), err)
			}
		})
	}
}
