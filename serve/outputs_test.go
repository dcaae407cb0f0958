package serve_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"l2hub/internal/atomicfile"
	"l2hub/serve"
	"l2hub/transport"
)

// TestUnwritableOutputsRefuseTheStart: a ready file or a summary that
// cannot be written is found when serve starts, before anything is bound,
// not after the run (the summary) or once bound (the ready file). The
// port's address is held by another socket: a check that came after the
// binding would report that instead.
func TestUnwritableOutputsRefuseTheStart(t *testing.T) {
	busy := busyAddr(t)
	for _, tt := range []struct {
		name, want string
		set        func(o *serve.Options, path string)
	}{
		{"summary", "summary: write ", func(o *serve.Options, p string) { o.SummaryFile = p }},
		{"ready-file", "ready file: write ", func(o *serve.Options, p string) { o.ReadyFile = p }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := outputsConfig(t, busy)
			dir := filepath.Dir(cfg.Capture.File)
			cfg.Control = filepath.Join(dir, "ctl.sock") // a socket that must not be left either
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

// busyAddr is a TCP address another socket holds until the test ends: a
// start that got as far as binding a port on it fails with that instead.
func busyAddr(t *testing.T) string {
	t.Helper()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { busy.Close() })
	return busy.Addr().String()
}

// outputsConfig is a hub of one port on addr, with no control API and a
// capture in a directory of its own.
func outputsConfig(t *testing.T, addr string) serve.Config {
	t.Helper()
	dir := t.TempDir()
	cfg := serve.DefaultConfig()
	cfg.Ports = []transport.Spec{{Name: "a", Transport: transport.TCP, Address: addr}}
	cfg.Control = "off"
	cfg.Capture.File = filepath.Join(dir, "run.pcapng")
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestReadyFileMustBeARegularFile: a ready file that is a FIFO (the start
// would wait for a reader), a device or a link to one (the stop would
// delete it) refuses the start, before anything is bound (the port's
// address is held by another socket), and is left as it was.
func TestReadyFileMustBeARegularFile(t *testing.T) {
	busy := busyAddr(t)
	for _, tt := range []struct {
		name, want string
		make       func(t *testing.T, path string)
	}{
		{"fifo", "is a FIFO", func(t *testing.T, path string) {
			if err := syscall.Mkfifo(path, 0o600); err != nil {
				t.Skipf("mkfifo: %v", err)
			}
		}},
		{"device", "is a device", func(t *testing.T, path string) {
			if err := syscall.Mknod(path, syscall.S_IFCHR|0o666, 1<<8|3); err != nil {
				t.Skipf("mknod a null device (needs root and CAP_MKNOD): %v", err)
			}
		}},
		{"link-to-a-device", "is a symbolic link", func(t *testing.T, path string) {
			if err := os.Symlink(os.DevNull, path); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "hub.ready")
			tt.make(t, path)
			was, err := os.Lstat(path)
			if err != nil {
				t.Fatal(err)
			}
			err = serve.Run(context.Background(), outputsConfig(t, busy), serve.Options{ReadyFile: path})
			if want := "ready file: write " + path + ": " + tt.want + "; a ready file must be a regular file"; err == nil || !strings.HasPrefix(err.Error(), want) {
				t.Errorf("got %v, want %s (...)", err, want)
			}
			if now, err := os.Lstat(path); err != nil || !os.SameFile(now, was) || now.Mode() != was.Mode() {
				t.Errorf("got %s as %v, %v after the refused start, want it as it was (%v)", path, now, err, was.Mode())
			}
		})
	}
}

// TestSummaryToAFIFOWithoutReader: a summary to a FIFO that no process
// reads fails (it says so) rather than hang the hub's exit, and the
// counters are printed all the same.
func TestSummaryToAFIFOWithoutReader(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "summary.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := serve.Run(ctx, outputsConfig(t, "127.0.0.1:0"), serve.Options{SummaryFile: fifo, Out: pw})
		pw.CloseWithError(err)
		done <- err
	}()
	sc := bufio.NewScanner(pr)
	for sc.Scan() && !strings.Contains(sc.Text(), "Ctrl-C stops") {
	}
	cancel() // once it serves: the exit, and its summary, are what is tested
	rest := make(chan string, 1)
	go func() { b, _ := io.ReadAll(pr); rest <- string(b) }()
	var err error
	select {
	case err = <-done:
	case <-time.After(hangGuard):
		// Unblock it, with a reader that goes at once, before failing.
		if r, oerr := os.OpenFile(fifo, os.O_RDONLY, 0); oerr == nil {
			r.Close()
		}
		<-done
		t.Fatalf("serve with --summary FIFO and no reader: still stopping after %v", hangGuard)
	}
	out := <-rest
	if want := "summary: write " + fifo + ": no process is reading the FIFO"; err == nil || err.Error() != want || !errors.Is(err, atomicfile.ErrNoReader) {
		t.Errorf("got %v, want %s", err, want)
	}
	if !strings.Contains(out, "\nPORT") {
		t.Errorf("got output %q after the banner, want the counters printed all the same", out)
	}
}

// TestOutputOverAnInputRefusesTheStart: a run whose capture (its own
// file, a port's file with per_port, or a numbered file a rotation or a
// set-policy would start), summary, ready file or socket is one of the
// files it reads (the config, the policy, a token file), or another of
// its outputs, refuses to start, before anything is bound (the port's
// address is held by another socket), and leaves every file as it was.
func TestOutputOverAnInputRefusesTheStart(t *testing.T) {
	busy := busyAddr(t)
	config := "policy: policy.yaml\nports: [{name: a, transport: tcp, address: \"" + busy + "\"}]\n"
	for _, tt := range []struct {
		name string
		// set names the outputs in dir (cfg was loaded from dir/lab.yaml,
		// its policy dir/policy.yaml); want is the error, with dir as $.
		set  func(t *testing.T, dir string, cfg *serve.Config, o *serve.Options)
		want string
	}{
		{"capture-is-the-policy", func(t *testing.T, dir string, cfg *serve.Config, o *serve.Options) {
			cfg.Capture.File = filepath.Join(dir, "policy.yaml")
		}, "capture.file $/policy.yaml is the policy it reads: writing it would destroy it; write somewhere else"},
		{"capture-is-the-config", func(t *testing.T, dir string, cfg *serve.Config, o *serve.Options) {
			cfg.Capture.File = dir + "/sub/../lab.yaml"
		}, "capture.file $/sub/../lab.yaml is the config it reads ($/lab.yaml): writing it would destroy it"},
		{"capture-is-a-link-to-the-policy", func(t *testing.T, dir string, cfg *serve.Config, o *serve.Options) {
			link(t, filepath.Join(dir, "policy.yaml"), filepath.Join(dir, "run.pcapng"))
			cfg.Capture.File = filepath.Join(dir, "run.pcapng")
		}, "capture.file $/run.pcapng is the policy it reads ($/policy.yaml)"},
		{"per-port-file-is-the-policy", func(t *testing.T, dir string, cfg *serve.Config, o *serve.Options) {
			cfg.SetPolicyFile(filepath.Join(dir, "policy-a.yaml"))
			copyFile(t, filepath.Join(dir, "policy.yaml"), cfg.Policy)
			cfg.Capture.File, cfg.Capture.PerPort = filepath.Join(dir, "policy.yaml"), true
		}, "capture.file $/policy.yaml writes $/policy-a.yaml, which is the policy it reads: writing it would destroy it"},
		{"numbered-file-is-the-policy", func(t *testing.T, dir string, cfg *serve.Config, o *serve.Options) {
			cfg.SetPolicyFile(filepath.Join(dir, "run-0001.pcapng"))
			copyFile(t, filepath.Join(dir, "policy.yaml"), cfg.Policy)
			cfg.Capture.File = filepath.Join(dir, "run.pcapng")
		}, "capture.file $/run.pcapng writes $/run-0001.pcapng, which is the policy it reads"},
		{"numbered-file-there-is-a-link-to-the-policy", func(t *testing.T, dir string, cfg *serve.Config, o *serve.Options) {
			link(t, filepath.Join(dir, "policy.yaml"), filepath.Join(dir, "run-0002.pcapng"))
			cfg.Capture.File = filepath.Join(dir, "run.pcapng")
		}, "capture.file $/run.pcapng writes $/run-0002.pcapng, which is the policy it reads ($/policy.yaml)"},
		{"summary-is-the-config", func(t *testing.T, dir string, cfg *serve.Config, o *serve.Options) {
			o.SummaryFile = filepath.Join(dir, "lab.yaml")
		}, "--summary $/lab.yaml is the config it reads: writing it would destroy it"},
		{"ready-file-is-the-policy", func(t *testing.T, dir string, cfg *serve.Config, o *serve.Options) {
			o.ReadyFile = filepath.Join(dir, "policy.yaml")
		}, "--ready-file $/policy.yaml is the policy it reads"},
		{"summary-is-the-token-file", func(t *testing.T, dir string, cfg *serve.Config, o *serve.Options) {
			cfg.ControlTokenFile = filepath.Join(dir, "ctl.token")
			o.SummaryFile = cfg.ControlTokenFile
		}, "--summary $/ctl.token is the control token file it reads"},
		{"ready-file-is-the-capture", func(t *testing.T, dir string, cfg *serve.Config, o *serve.Options) {
			cfg.Capture.File = filepath.Join(dir, "run.pcapng")
			o.ReadyFile = cfg.Capture.File
		}, "--ready-file $/run.pcapng is also the capture (capture.file $/run.pcapng): one would overwrite the other; give each its own file"},
		{"summary-is-a-numbered-per-port-file", func(t *testing.T, dir string, cfg *serve.Config, o *serve.Options) {
			cfg.Capture.File, cfg.Capture.PerPort = filepath.Join(dir, "run.pcapng"), true
			o.SummaryFile = filepath.Join(dir, "run-a-0003.pcapng")
		}, "--summary $/run-a-0003.pcapng is also the capture (capture.file $/run.pcapng)"},
		{"summary-is-the-ready-file", func(t *testing.T, dir string, cfg *serve.Config, o *serve.Options) {
			o.ReadyFile, o.SummaryFile = filepath.Join(dir, "out.json"), filepath.Join(dir, "out.json")
		}, "--summary $/out.json is also the ready file (--ready-file)"},
		{"summary-is-the-control-socket", func(t *testing.T, dir string, cfg *serve.Config, o *serve.Options) {
			cfg.Control = filepath.Join(dir, "ctl.sock")
			o.SummaryFile = cfg.Control
		}, "--summary $/ctl.sock is also the control socket (control)"},
		{"summary-is-a-port-socket", func(t *testing.T, dir string, cfg *serve.Config, o *serve.Options) {
			cfg.Ports = append(cfg.Ports, transport.Spec{Name: "b", Transport: transport.Unix, Address: filepath.Join(dir, "b.sock")})
			o.SummaryFile = filepath.Join(dir, "b.sock")
		}, "--summary $/b.sock is also port b's socket (ports[1].address)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			copyFile(t, filepath.Join("..", "testdata", "policies", "loss.yaml"), filepath.Join(dir, "policy.yaml"))
			for name, text := range map[string]string{"lab.yaml": config, "ctl.token": "a-token-of-enough-length-0123456789\n"} {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			cfg, err := serve.LoadConfig(filepath.Join(dir, "lab.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			cfg.Control = "off"
			opts := serve.Options{}
			tt.set(t, dir, &cfg, &opts)
			before := dirState(t, dir)
			err = serve.Run(context.Background(), cfg, opts)
			if want := strings.ReplaceAll(tt.want, "$", dir); err == nil || !strings.HasPrefix(err.Error(), want) {
				t.Errorf("got %v, want %s...", err, want)
			}
			if after := dirState(t, dir); after != before {
				t.Errorf("a refused start changed %s:\n%s\nwant it as it was:\n%s", dir, after, before)
			}
		})
	}
}

// link makes name a hard link to old.
func link(t *testing.T, old, name string) {
	t.Helper()
	if err := os.Link(old, name); err != nil {
		t.Skipf("hard link: %v", err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// dirState lists dir's files with their sizes and contents' hashes.
func dirState(t *testing.T, dir string) string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, e := range ents {
		data, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		fmt.Fprintf(&b, "%s %d %x\n", e.Name(), len(data), sha256.Sum256(data))
	}
	return b.String()
}
