package serve_test

import (
	"bufio"
	"context"
	"errors"
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
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for _, tt := range []struct {
		name, want string
		set        func(o *serve.Options, path string)
	}{
		{"summary", "summary: write ", func(o *serve.Options, p string) { o.SummaryFile = p }},
		{"ready-file", "ready file: write ", func(o *serve.Options, p string) { o.ReadyFile = p }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := serve.DefaultConfig()
			cfg.Ports = []transport.Spec{{Name: "a", Transport: transport.TCP, Address: busy.Addr().String()}}
			cfg.Control = filepath.Join(dir, "ctl.sock")
			cfg.Capture.File = filepath.Join(dir, "run.pcapng")
			if err := cfg.Validate(); err != nil {
				t.Fatal(err)
			}
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

// outputsConfig is a hub of one port on addr, with no control API.
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
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
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
			err = serve.Run(context.Background(), outputsConfig(t, busy.Addr().String()), serve.Options{ReadyFile: path})
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
