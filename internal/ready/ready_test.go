package ready

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"l2hub/internal/umask"
)

func TestWriteAndRead(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "hub.ready")
	want := Info{PID: os.Getpid(), Control: "unix:/run/l2hub.sock", Ports: []Port{
		{Name: "a", Transport: "tcp", Addr: "127.0.0.1:7001", Spec: "a=tcp:127.0.0.1:7001"},
		{Name: "b", Transport: "unix", Addr: "/tmp/b.sock"},
	}}
	want.Start = startTime(want.PID) // what WriteFile records for its own process
	want.Schema = Schema
	for range 2 { // rewriting replaces the file
		if err := WriteFile(path, want); err != nil {
			t.Fatal(err)
		}
	}
	got, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("read %+v, want %+v", got, want)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if want, err := umask.Apply(0o644); err != nil {
		t.Fatal(err)
	} else if fi.Mode().Perm() != want {
		t.Errorf("mode %v, want %v (0644 less the umask)", fi.Mode().Perm(), want)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("%d files in the directory, want only the ready file", len(entries))
	}
	f, err := Write(path, want)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("got %v after Remove, want the ready file gone", err)
	}
	if err := f.Remove(); err != nil {
		t.Errorf("removing a missing file: %v", err)
	}
	if err := WriteFile(filepath.Join(dir, "missing", "x"), want); err == nil {
		t.Error("wrote into a missing directory")
	}
}

func TestReadRejects(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"not JSON":     "ready\n",
		"not object":   `[{"pid": 1}]`,
		"no pid":       `{"ports": []}`,
		"pid 0":        `{"pid": 0}`,
		"pid negative": `{"pid": -4}`,
		"pid string":   `{"pid": "1234"}`,
		"pid fraction": `{"pid": 12.5}`,
		"too large":    `{"pid": 1, "ports": [` + strings.Repeat(`{"name":"a"},`, 1<<17) + `{"name":"a"}]}`,
	} {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "-"))
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if info, err := Read(path); err == nil {
			t.Errorf("%s: read %+v", name, info)
		}
	}
}

// A ready file a newer hub wrote reads: fields Read does not know, or
// of another type than it knows, are ignored, so an older l2hub wait
// does not spin until its timeout on a hub that is ready.
func TestReadTakesANewerHubsFile(t *testing.T) {
	dir := t.TempDir()
	for name, tc := range map[string]struct {
		content string
		want    Info
	}{
		"unknown fields": {`{"schema": 1, "pid": 42, "extra": 1, "ports": [{"name": "a", "transport": "tcp", "queue": {"len": 3}}]}`,
			Info{Schema: 1, PID: 42, Ports: []Port{{Name: "a", Transport: "tcp"}}}},
		"newer schema": {`{"schema": 2, "pid": 42, "ports": []}`, Info{Schema: 2, PID: 42, Ports: []Port{}}},
		"other type":   {`{"pid": 42, "control": {"unix": "/run/l2hub.sock"}, "ports": []}`, Info{PID: 42, Ports: []Port{}}},
		"pid alone":    {`{"pid": 42}`, Info{PID: 42}},
	} {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "-"))
		if err := os.WriteFile(path, []byte(tc.content), 0o644); err != nil {
			t.Fatal(err)
		}
		if got, err := Read(path); err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: got Read = %+v, %v; want %+v, nil", name, got, err, tc.want)
		}
	}
}

func TestNotify(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	if sent, err := Notify("READY=1"); sent || err != nil {
		t.Errorf("without NOTIFY_SOCKET: sent %v, %v", sent, err)
	}
	for _, name := range []string{filepath.Join(t.TempDir(), "notify"), "@l2hub-ready-test-" + t.Name()} {
		addr := name
		if strings.HasPrefix(addr, "@") {
			addr = "\x00" + addr[1:]
		}
		l, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: addr, Net: "unixgram"})
		if err != nil {
			t.Fatal(err)
		}
		t.Setenv("NOTIFY_SOCKET", name)
		sent, err := Notify("READY=1\nSTATUS=4 ports")
		if !sent || err != nil {
			t.Fatalf("%s: sent %v, %v", name, sent, err)
		}
		buf := make([]byte, 256)
		n, err := l.Read(buf)
		l.Close()
		if err != nil {
			t.Fatal(err)
		}
		if got := string(buf[:n]); got != "READY=1\nSTATUS=4 ports" {
			t.Errorf("%s: received %q", name, got)
		}
	}
	t.Setenv("NOTIFY_SOCKET", "relative/path")
	if _, err := Notify("READY=1"); err == nil {
		t.Error("a relative NOTIFY_SOCKET was accepted")
	}
}

func TestWait(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hub.ready")
	info := Info{PID: os.Getpid(), Ports: []Port{{Name: "a", Transport: "tcp", Addr: "127.0.0.1:1"}}}
	written := make(chan error, 1)
	go func() {
		time.Sleep(20 * time.Millisecond)
		written <- WriteFile(path, info)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	got, err := Wait(ctx, path, 5*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-written; err != nil {
		t.Fatal(err)
	}
	want := info
	want.Start = startTime(info.PID) // WriteFile stamps its own process's
	want.Schema = Schema
	if !reflect.DeepEqual(got, want) {
		t.Errorf("waited for %+v, want %+v", got, want)
	}
}

// A ready file left by a hub that has exited is not a ready hub.
func TestWaitIgnoresStaleFile(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "hub.ready")
	if err := WriteFile(path, Info{PID: cmd.Process.Pid}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := Wait(ctx, path, 5*time.Millisecond)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "not running") {
		t.Errorf("waiting on a stale file: %v", err)
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel2()
	if _, err := Wait(ctx2, path+".missing", 5*time.Millisecond); err == nil || !strings.Contains(err.Error(), "no ready file") {
		t.Errorf("waiting on a missing file: %v", err)
	}
}

func TestInfoString(t *testing.T) {
	i := Info{PID: 42, Ports: []Port{{Name: "a", Transport: "tcp", Addr: "127.0.0.1:7001"}, {Name: "b", Transport: "unix", Addr: "/tmp/b.sock"}}}
	if got, want := i.String(), "pid 42, ports a (tcp 127.0.0.1:7001), b (unix /tmp/b.sock)"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

// TestInfoStringSaysAPortIsDown: a port an --optional hub could not open
// is not shown as a working one: l2hub wait says it is down and why.
func TestInfoStringSaysAPortIsDown(t *testing.T) {
	i := Info{PID: 42, Ports: []Port{
		{Name: "a", Transport: "tcp", Addr: "127.0.0.1:7001", Down: `port "a": listen tcp 127.0.0.1:7001: bind: address already in use`},
		{Name: "b", Transport: "unix", Addr: "/tmp/b.sock"},
		{Name: "c", Transport: "tap", Addr: "l2h0", Down: "operation not permitted"},
	}}
	want := "pid 42, ports a (tcp 127.0.0.1:7001, DOWN: listen tcp 127.0.0.1:7001: bind: address already in use), " +
		"b (unix /tmp/b.sock), c (tap l2h0, DOWN: operation not permitted)"
	if got := i.String(); got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

// TestWriteFileStampsItsOwnStart: a ready file written for this process
// records its start time, and Wait accepts it.
func TestWriteFileStampsItsOwnStart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hub.ready")
	if err := WriteFile(path, Info{PID: os.Getpid()}); err != nil {
		t.Fatal(err)
	}
	info, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat("/proc/self/stat"); err == nil && info.Start == 0 {
		t.Error("no start time recorded for this process")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := Wait(ctx, path, time.Millisecond); err != nil {
		t.Errorf("Wait on this process's file: %v", err)
	}
}
