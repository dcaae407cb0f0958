package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestQEMUArgsGiveSocketPathsAsServeDoes: socket paths written relative
// (a unix port's, a unixgram port's and its peer's, given on the command
// line or in a config file elsewhere) are relative to the working
// directory, and qemu-args prints them as serve's banner does, absolute,
// for a QEMU started in another directory; --env too.
func TestQEMUArgsGiveSocketPathsAsServeDoes(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	if err := os.Mkdir("cfg", 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join("cfg", "r.yaml")
	if err := os.WriteFile(cfg, []byte(`
ports:
  - {name: a, transport: unix, address: ./rel.sock}
  - {name: u, transport: unixgram, address: ./u.sock, peer: ./vm.sock}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	ports := []string{"--port", "a=unix:./rel.sock", "--port", "u=unixgram:./u.sock,peer=./vm.sock"}
	qemuArgs := func(args ...string) string {
		t.Helper()
		var out bytes.Buffer
		if err := run(context.Background(), append([]string{"qemu-args"}, args...), &out, io.Discard); err != nil {
			t.Fatalf("qemu-args %s: %v", strings.Join(args, " "), err)
		}
		return out.String()
	}
	flags, file := qemuArgs(ports...), qemuArgs(cfg)
	if flags != file {
		t.Errorf("qemu-args %s printed\n%s\nwant what the same ports given as flags print:\n%s", cfg, file, flags)
	}
	for _, p := range []string{"addr.path=" + filepath.Join(dir, "rel.sock"), "local.path=" + filepath.Join(dir, "vm.sock"), "remote.path=" + filepath.Join(dir, "u.sock")} {
		if !strings.Contains(flags, p) {
			t.Errorf("qemu-args printed\n%s\nwant %s", flags, p)
		}
	}
	env := qemuArgs(append([]string{"--env"}, ports...)...)
	want := "NETDEV_A='-netdev stream,id=n0,server=off,addr.type=unix,addr.path=" + filepath.Join(dir, "rel.sock") + "'\n"
	if !strings.HasPrefix(env, want) {
		t.Errorf("qemu-args --env printed\n%s\nwant it to begin\n%s", env, want)
	}
	// What serve prints for the same config, once it has bound the ports;
	// its banner is whole once it has returned.
	s := startServe(t, "serve", "--config", cfg, "--control", "off")
	if err := s.stop(); err != nil {
		t.Errorf("serve: %v", err)
	}
	if banner := s.stdout.String(); !strings.Contains(banner, flags) {
		t.Errorf("serve's banner\n%s\nlacks what qemu-args printed:\n%s", banner, flags)
	}
}

// TestQEMUArgsPortsCompleteTheFile: --port adds to a config file that
// gives no ports itself (the hub's settings in the file, the ports on the
// command line); the file alone is still refused, at its line.
func TestQEMUArgsPortsCompleteTheFile(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "np.yaml")
	if err := os.WriteFile(cfg, []byte("mode: hub\ncontrol: off\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := run(context.Background(), []string{"qemu-args", cfg, "--port", "a=tcp:127.0.0.1:27013"}, &out, io.Discard); err != nil {
		t.Fatalf("qemu-args %s --port a=...: %v", cfg, err)
	}
	if want := "addr.host=127.0.0.1,addr.port=27013"; !strings.Contains(out.String(), want) {
		t.Errorf("qemu-args %s --port a=... printed\n%s\nwant %s", cfg, out.String(), want)
	}
	err := run(context.Background(), []string{"qemu-args", cfg}, io.Discard, io.Discard)
	if want := cfg + ":1:1: ports: no ports: a hub needs at least one"; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("qemu-args %s: got %v, want an error starting %s", cfg, err, want)
	}
}
