//go:build unix

package replay

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"l2hub/capture"
	"l2hub/hub/hubtest"
)

// hangGuard bounds a wait that, without the fix a test checks, would
// never end: it is no time assertion.
const hangGuard = 30 * time.Second

// pipeOf returns a path that names the read end of a pipe (/dev/fd/N, as
// a shell's <(…) does) that data is written into, then closed.
func pipeOf(t *testing.T, data []byte) string {
	t.Helper()
	if _, err := os.Stat("/dev/fd/0"); err != nil {
		t.Skipf("no /dev/fd here: %v", err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.Write(data)
		w.Close()
	}()
	t.Cleanup(func() { r.Close(); <-done })
	return "/dev/fd/" + strconv.Itoa(int(r.Fd()))
}

// readOnceKinds are the inputs that can be read only once: a pipe and a
// named pipe.
var readOnceKinds = []struct {
	name string
	path func(t *testing.T, data []byte) string
}{{"pipe", pipeOf}, {"fifo", fifoOf}}

// guarded is a context that ends after hangGuard, or with the test.
func guarded(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	t.Cleanup(cancel)
	return ctx
}

// fifoOf returns a named pipe in a temporary directory that data is
// written into (once a reader opens it), then closed.
func fifoOf(t *testing.T, data []byte) string {
	t.Helper()
	fifo := filepath.Join(t.TempDir(), "in.pcapng")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if w, err := os.OpenFile(fifo, os.O_WRONLY, 0); err == nil {
			w.Write(data)
			w.Close()
		}
	}()
	t.Cleanup(func() {
		// A reader that never came: be one, so that the writer returns.
		if r, err := os.OpenFile(fifo, os.O_RDONLY|syscall.O_NONBLOCK, 0); err == nil {
			<-done
			r.Close()
		}
		<-done
	})
	return fifo
}

// twoPortCapture is an l2hub capture of 3 frames from a and 2 from b.
func twoPortCapture(t *testing.T) []byte {
	return describedCapture(t, capture.Meta{}, func(sim *hubtest.Sim, _ *capture.Sink) {
		for i := range 5 {
			port, src, dst := "a", macA, macB
			if i%2 == 1 {
				port, src, dst = "b", macB, macA
			}
			sim.Send(port, hubtest.Frame(dst, src, "frame "+strconv.Itoa(i)))
		}
	})
}

// TestJobReplaysInputsReadOnce: a replay reads its inputs twice (to look
// at them, then to replay them); a pipe (/dev/stdin, <(…)) or a named
// pipe can be read once, and is read into a temporary file first.
func TestJobReplaysInputsReadOnce(t *testing.T) {
	data := twoPortCapture(t)
	for _, tc := range readOnceKinds {
		t.Run(tc.name, func(t *testing.T) {
			ctx := guarded(t)
			res, err := (&Job{Files: []string{tc.path(t, data)}}).Run(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if res.Replayed != 5 {
				t.Errorf("replayed %d frames, want 5", res.Replayed)
			}
		})
	}
}

// TestReadOnceInputsStop: waiting for a named pipe's writer, or for a
// pipe's data, ends when the context does (the first Ctrl-C), in replay
// and inject alike.
func TestReadOnceInputsStop(t *testing.T) {
	for _, tc := range []struct {
		name string
		run  func(ctx context.Context, path string) error
	}{
		{"replay", func(ctx context.Context, path string) error {
			_, err := (&Job{Files: []string{path}}).Run(ctx)
			return err
		}},
		{"inject", func(ctx context.Context, path string) error {
			_, err := Inject(ctx, InjectConfig{Input: Input{Path: path}}, func([]byte) error { return nil })
			return err
		}},
	} {
		t.Run(tc.name+"/fifo-without-writer", func(t *testing.T) {
			fifo := filepath.Join(t.TempDir(), "in.pcapng")
			if err := syscall.Mkfifo(fifo, 0o600); err != nil {
				t.Skipf("mkfifo: %v", err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			if err := stopsIn(t, func() error { return tc.run(ctx, fifo) }); !errors.Is(err, context.Canceled) {
				t.Errorf("got %v, want %v", err, context.Canceled)
			}
		})
		t.Run(tc.name+"/pipe-without-data", func(t *testing.T) {
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			defer w.Close() // a writer that never writes
			ctx, cancel := context.WithCancel(context.Background())
			go func() {
				w.Write([]byte{0x0a}) // the first byte of a pcapng's first block
				cancel()
			}()
			path := "/dev/fd/" + strconv.Itoa(int(r.Fd()))
			if err := stopsIn(t, func() error { return tc.run(ctx, path) }); !errors.Is(err, context.Canceled) {
				t.Errorf("got %v, want %v", err, context.Canceled)
			}
		})
	}
}

// stopsIn runs f and returns its error, failing the test if it does not
// return within hangGuard.
func stopsIn(t *testing.T, f func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-time.After(hangGuard):
		t.Fatalf("still waiting after %s", hangGuard)
		return nil
	}
}

// TestInjectReadOnceInputs: inject reads a pipe or a named pipe once: a
// --from is not checked by reading it first (what that took would be
// missing from the injection), but at the end, when it kept nothing; and
// --loop more than once is refused before anything is read.
func TestInjectReadOnceInputs(t *testing.T) {
	data := twoPortCapture(t)
	for _, tc := range readOnceKinds {
		t.Run(tc.name, func(t *testing.T) {
			ctx := guarded(t)
			sent := 0
			send := func([]byte) error { sent++; return nil }
			rep, err := Inject(ctx, InjectConfig{Input: Input{Path: tc.path(t, data)}, From: "a"}, send)
			if err != nil || rep.Frames != 3 || sent != 3 {
				t.Errorf("--from a: got %v, %d frames sent, want the 3 a sent", err, sent)
			}
			sent = 0
			_, err = Inject(ctx, InjectConfig{Input: Input{Path: tc.path(t, data)}, From: "c"}, send)
			if !errors.Is(err, ErrNoMatch) || !strings.Contains(err.Error(), "ports a, b") || sent != 0 {
				t.Errorf("--from c: got %v, %d frames sent, want %v naming ports a and b", err, sent, ErrNoMatch)
			}
			path := tc.path(t, data)
			_, err = Inject(ctx, InjectConfig{Input: Input{Path: path}, Loop: 2}, send)
			if err == nil || !strings.Contains(err.Error(), "not sent 2 times (--loop)") || sent != 0 {
				t.Errorf("--loop 2: got %v, %d frames sent, want it refused before any", err, sent)
			}
		})
	}
}

// TestSpoolChecksItsInput: an input read once is kept in a temporary
// file in $TMPDIR only if it starts as a capture does (zeros, /dev/zero,
// are refused before anything is written), up to a bound (past it, an
// error naming the bound, and nothing kept), and the file is unlinked
// as soon as it is made, so that nothing is left of it however the
// process ends; what was kept reads back whole.
func TestSpoolChecksItsInput(t *testing.T) {
	data := twoPortCapture(t)
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	left := func(t *testing.T) {
		t.Helper()
		if ents, _ := os.ReadDir(tmp); len(ents) > 0 {
			t.Errorf("$TMPDIR holds %s, want nothing", ents[0].Name())
		}
	}
	ctx := guarded(t)
	t.Run("zeros", func(t *testing.T) {
		_, remove, err := Spool(ctx, Input{Path: pipeOf(t, make([]byte, 64<<10))}, 0)
		if remove != nil {
			remove()
		}
		if !errors.Is(err, capture.ErrUnknownFormat) {
			t.Errorf("got %v, want %v", err, capture.ErrUnknownFormat)
		}
	})
	t.Run("dev-zero", func(t *testing.T) {
		if _, err := os.Stat("/dev/zero"); err != nil {
			t.Skip("no /dev/zero here")
		}
		err := stopsIn(t, func() error {
			_, err := (&Job{Files: []string{"/dev/zero"}}).Run(ctx)
			return err
		})
		if !errors.Is(err, capture.ErrUnknownFormat) {
			t.Errorf("got %v, want %v", err, capture.ErrUnknownFormat)
		}
		left(t)
	})
	t.Run("past-the-bound", func(t *testing.T) {
		_, remove, err := Spool(ctx, Input{Path: pipeOf(t, data)}, int64(len(data)-1))
		if remove != nil {
			remove()
		}
		if want := strconv.Itoa(len(data)-1) + " bytes, the bound"; err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("got %v, want an error naming the bound (%s)", err, want)
		}
		left(t)
	})
	t.Run("at-the-bound", func(t *testing.T) {
		in, remove, err := Spool(ctx, Input{Path: pipeOf(t, data)}, int64(len(data)))
		if err != nil || remove == nil {
			t.Fatalf("got %v, want the input kept", err)
		}
		defer remove()
		left(t) // unlinked, and still read
		for range 2 {
			rc, size, err := in.open(ctx)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(rc)
			rc.Close()
			if err != nil || !bytes.Equal(got, data) || size != int64(len(data)) {
				t.Errorf("read back %d bytes (size %d), %v; want the %d spooled", len(got), size, err, len(data))
			}
		}
	})
}

// TestCheckCaptureRefusesABlockDevice: a disk is no capture; main read it
// as one, and a copy of it into $TMPDIR would be as large as it.
func TestCheckCaptureRefusesABlockDevice(t *testing.T) {
	ents, _ := os.ReadDir("/dev")
	for _, e := range ents {
		if e.Type()&os.ModeDevice != 0 && e.Type()&os.ModeCharDevice == 0 {
			path := filepath.Join("/dev", e.Name())
			if err := CheckCapture(path); err == nil || !strings.Contains(err.Error(), "block device") {
				t.Errorf("CheckCapture(%s) = %v, want it refused as a block device", path, err)
			}
			return
		}
	}
	t.Skip("no block device in /dev")
}

// TestInjectFromAPipeOfSeveralLinks: from a pipe, which inject cannot scan
// first, --from names a foreign file's ports as from a file wherever it
// can: the file's name never keeps the frames of two links (once a
// second interface is described, its frames go by the interface's name),
// the one interface's if_name is the file's port too, unless an l2hub
// section met before has a port of that name, and a choice that keeps
// nothing lists the names that would have kept something.
func TestInjectFromAPipeOfSeveralLinks(t *testing.T) {
	at := time.Unix(1700000000, 0)
	f := hubtest.Frame(hubtest.Broadcast, macA, "x")
	two := new(ngBlocks).section().iface("eth0").iface("eth1").epb(1, at, f).epb(0, at, f).
		section().iface("eth0").epb(0, at, f).epb(0, at, f)
	one := new(ngBlocks).section().iface("eth0").epb(0, at, f).epb(0, at, f)
	l2hubThenOne := new(ngBlocks).sectionWith("l2hub capture\nversion=test").iface("eth0").epb(0, at, f).
		section().iface("eth0").epb(0, at, f).epb(0, at, f)
	for _, tc := range []struct {
		name, from string
		g          *ngBlocks
		sent       int
		err        string
	}{
		{"several-file", "vm-a", two, 0, "its frames come from ports eth1, eth0;"},
		{"several-eth0", "eth0", two, 3, ""},
		{"several-eth1", "eth1", two, 1, ""},
		{"one-link-file", "vm-a", one, 2, ""},
		{"one-link-ifname", "eth0", one, 2, ""},
		{"one-link-other", "zz", one, 0, "its frames come from ports vm-a;"},
		{"l2hub-eth0-then-one-link-eth0", "eth0", l2hubThenOne, 1, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := guarded(t)
			sent := 0
			in := Input{Path: pipeOf(t, tc.g.b), Port: "vm-a"}
			_, err := Inject(ctx, InjectConfig{Input: in, From: tc.from}, func([]byte) error { sent++; return nil })
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("got Inject error %v, want %q", err, tc.err)
			}
			if sent != tc.sent {
				t.Errorf("got %d frames sent, want %d", sent, tc.sent)
			}
		})
	}
}
