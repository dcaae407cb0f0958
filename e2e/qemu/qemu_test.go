package qemu

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The test binary doubles as a fake QEMU: with fakeEnv set it plays the
// script in it instead of running tests. Script steps are ";"-separated:
// "sleep:MS", "exit:CODE", "hang" (until killed), or a console line to print
// (with the "\r\n" a serial console sends).
const fakeEnv = "QEMU_FAKE_SCRIPT"

func TestMain(m *testing.M) {
	if script, ok := os.LookupEnv(fakeEnv); ok {
		os.Exit(fakeQEMU(script))
	}
	os.Exit(m.Run())
}

func fakeQEMU(script string) int {
	for step := range strings.SplitSeq(script, ";") {
		switch {
		case strings.HasPrefix(step, "sleep:"):
			ms, _ := strconv.Atoi(strings.TrimPrefix(step, "sleep:"))
			time.Sleep(time.Duration(ms) * time.Millisecond)
		case strings.HasPrefix(step, "exit:"):
			code, _ := strconv.Atoi(strings.TrimPrefix(step, "exit:"))
			return code
		case step == "hang":
			time.Sleep(time.Hour) // until killed; select{} would trip the deadlock detector
		default:
			fmt.Printf("%s\r\n", step)
		}
	}
	return 0
}

func startFake(t *testing.T, script string) *Guest {
	t.Helper()
	g, err := Start(Config{
		Name:   "fake",
		Binary: os.Args[0],
		// A race-built test binary sleeps a second before exit(0) to
		// report races; a fake QEMU has none to report, and the sleep
		// would eat into the waits below.
		Env: []string{fakeEnv + "=" + script, "GORACE=atexit_sleep_ms=0"},
		Log: filepath.Join(t.TempDir(), "fake.log"),
	})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(g.Kill)
	return g
}

func TestWait(t *testing.T) {
	tests := []struct {
		name     string
		script   string
		marker   string
		want     string        // the line Wait returns
		wantErr  error         // nil, ErrFailed, ErrExited or context.DeadlineExceeded
		wantMsg  string        // in the error, when set
		deadline time.Duration // Wait's; 0: a hang guard of minutes
	}{
		{
			name:   "marker-found",
			script: "booting;sleep:50;GUEST: up ip=10.0.0.1/24;GUEST: ping ok 3/3;hang",
			marker: "GUEST: ping ok",
			want:   "GUEST: ping ok 3/3",
		},
		{
			name:   "marker-already-printed",
			script: "GUEST: up ip=10.0.0.1/24;hang",
			marker: "GUEST: up",
			want:   "GUEST: up ip=10.0.0.1/24",
		},
		{
			name:    "check-failed",
			script:  "GUEST: ping FAIL no reply;hang",
			marker:  "GUEST: ping ok",
			want:    "GUEST: ping FAIL no reply",
			wantErr: ErrFailed,
		},
		{
			name:    "done-without-marker",
			script:  "GUEST: ping ok;GUEST: done ok;hang",
			marker:  "GUEST: tcp ok",
			want:    "GUEST: done ok",
			wantErr: ErrFailed,
		},
		{
			name:   "done-marker-itself",
			script: "GUEST: ping ok;GUEST: done ok",
			marker: "GUEST: done ok",
			want:   "GUEST: done ok",
		},
		{
			name:    "done-fail-for-done-ok",
			script:  "GUEST: done FAIL",
			marker:  "GUEST: done ok",
			want:    "GUEST: done FAIL",
			wantErr: ErrFailed,
		},
		{
			name:    "qemu-exited",
			script:  "GUEST: up;exit:1",
			marker:  "GUEST: ping ok",
			wantErr: ErrExited,
		},
		{
			name:    "kernel-panic",
			script:  "[    0.004000] Kernel panic - not syncing: IO-APIC + timer doesn't work!;[    0.004000] Call Trace:;exit:0",
			marker:  "GUEST: up",
			wantErr: ErrExited,
			wantMsg: "after: [    0.004000] Kernel panic - not syncing",
		},
		{
			name:     "timeout",
			script:   "GUEST: up;hang",
			marker:   "GUEST: ping ok",
			wantErr:  context.DeadlineExceeded,
			deadline: time.Second,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := startFake(t, tt.script)
			// Every case but timeout ends by itself: the deadline only
			// guards against a hang, however slow the machine.
			deadline := cmp.Or(tt.deadline, 2*time.Minute)
			ctx, cancel := context.WithTimeout(context.Background(), deadline)
			defer cancel()
			l, err := g.Wait(ctx, tt.marker)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("got Wait(%q) error %v, want %v", tt.marker, err, tt.wantErr)
			}
			if l.Text != tt.want {
				t.Errorf("got Wait(%q) = %q, want %q", tt.marker, l.Text, tt.want)
			}
			if tt.wantMsg != "" && (err == nil || !strings.Contains(err.Error(), tt.wantMsg)) {
				t.Errorf("got Wait(%q) error %v, want it to contain %q", tt.marker, err, tt.wantMsg)
			}
		})
	}
}

func TestWaitAfter(t *testing.T) {
	// Each script is a guest that rebooted in place (or did not): after is
	// the marker Wait finds first, marker the one WaitAfter looks for after
	// it.
	tests := []struct {
		name    string
		script  string
		after   string
		marker  string
		want    string
		wantN   int   // the returned line's index on the console
		wantErr error // nil, ErrFailed or ErrExited
	}{
		{
			name:   "second-boot",
			script: "GUEST: up;GUEST: ping ok first;GUEST: done ok;reboot: Restarting system;GUEST: up;sleep:50;GUEST: ping ok second;hang",
			after:  "GUEST: done ok",
			marker: "GUEST: ping ok",
			want:   "GUEST: ping ok second",
			wantN:  5,
		},
		{
			name:   "first-boot-failure-is-history",
			script: "GUEST: ping FAIL no reply;GUEST: done FAIL;GUEST: up;GUEST: ping ok again;hang",
			after:  "GUEST: done FAIL",
			marker: "GUEST: ping ok",
			want:   "GUEST: ping ok again",
			wantN:  3,
		},
		{
			name:    "second-boot-failed",
			script:  "GUEST: ping ok;GUEST: done ok;GUEST: up;GUEST: ping FAIL no reply;hang",
			after:   "GUEST: done ok",
			marker:  "GUEST: ping ok",
			want:    "GUEST: ping FAIL no reply",
			wantN:   3,
			wantErr: ErrFailed,
		},
		{
			name:    "no-reboot",
			script:  "GUEST: ping ok;GUEST: done ok;exit:0",
			after:   "GUEST: done ok",
			marker:  "GUEST: ping ok",
			wantErr: ErrExited,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := startFake(t, tt.script)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // a hang guard: every script ends
			defer cancel()
			after, err := g.Wait(ctx, tt.after)
			if err != nil {
				t.Fatalf("got Wait(%q) error %v, want none", tt.after, err)
			}
			l, err := g.WaitAfter(ctx, after, tt.marker)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("got WaitAfter(line %d, %q) error %v, want %v", after.N, tt.marker, err, tt.wantErr)
			}
			if l.Text != tt.want || (tt.want != "" && l.N != tt.wantN) {
				t.Errorf("got WaitAfter(line %d, %q) = line %d %q, want line %d %q", after.N, tt.marker, l.N, l.Text, tt.wantN, tt.want)
			}
		})
	}
}

func TestLineIndex(t *testing.T) {
	g := startFake(t, "zero;one;two")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // a hang guard
	defer cancel()
	if err := g.WaitExit(ctx); err != nil {
		t.Fatal(err)
	}
	lines := g.Lines()
	if len(lines) != 3 {
		t.Fatalf("got %d lines, want 3", len(lines))
	}
	for i, l := range lines {
		if l.N != i {
			t.Errorf("got line %q N = %d, want %d", l.Text, l.N, i)
		}
	}
}

func TestLogAndExit(t *testing.T) {
	g := startFake(t, "first;GUEST: done ok;exit:3")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // a hang guard
	defer cancel()
	err := g.WaitExit(ctx)
	if err == nil || !strings.Contains(err.Error(), "exit status 3") {
		t.Fatalf("got WaitExit() = %v, want exit status 3", err)
	}
	var got []string
	for _, l := range g.Lines() {
		got = append(got, l.Text)
	}
	if want := []string{"first", "GUEST: done ok"}; !slices.Equal(got, want) {
		t.Errorf("got Lines() = %q, want %q (CR stripped)", got, want)
	}
	log, err := os.ReadFile(g.Config().Log)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"-nodefaults", " first\n", " GUEST: done ok\n", "# exit: exit status 3"} {
		if !strings.Contains(string(log), want) {
			t.Errorf("got log %q, want it to contain %q", log, want)
		}
	}
	// The second line dates the stamps' zero: the launch, on the wall clock.
	lines := strings.Split(string(log), "\n")
	t0, ok := strings.CutPrefix(lines[min(1, len(lines)-1)], "# t0=")
	if !ok {
		t.Fatalf("got second log line %q, want \"# t0=<RFC 3339 time>\"", lines[min(1, len(lines)-1)])
	}
	if at, err := time.Parse(time.RFC3339Nano, t0); err != nil || at.Sub(g.start) != 0 {
		t.Errorf("got t0 %q (%v), want the launch time %s", t0, err, g.start.UTC().Format(time.RFC3339Nano))
	}
}

func TestKill(t *testing.T) {
	g := startFake(t, "GUEST: up;hang")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // a hang guard
	defer cancel()
	if _, err := g.Wait(ctx, "GUEST: up"); err != nil {
		t.Fatal(err)
	}
	g.Kill()
	select {
	case <-g.Done():
	default:
		t.Fatal("got Done() open after Kill, want closed")
	}
	if _, err := g.Wait(ctx, "GUEST: ping ok"); !errors.Is(err, ErrExited) {
		t.Errorf("got Wait after Kill error %v, want ErrExited", err)
	}
	g.Kill() // a second Kill is a no-op
}

func TestArgs(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{
			name: "defaults",
			cfg: Config{Kernel: "vmlinuz", Initrd: "initrd", Cmdline: []string{"l2.ip=10.0.0.1/24"},
				Netdev: "socket,connect=127.0.0.1:7001", MAC: "52:54:00:00:00:01"},
			want: "-machine q35 -accel tcg -m 128M -smp 1 -nodefaults -display none -serial stdio " +
				"-kernel vmlinuz -initrd initrd -append console=ttyS0 panic=-1 quiet cryptomgr.notests no_timer_check l2.ip=10.0.0.1/24 " +
				"-no-reboot -netdev socket,connect=127.0.0.1:7001,id=n0 -device virtio-net-pci,netdev=n0,mac=52:54:00:00:00:01",
		},
		{
			name: "reboot-no-nic-extra",
			cfg:  Config{Kernel: "k", Initrd: "i", Reboot: true, Accel: "kvm", Memory: "256M", Extra: []string{"-cpu", "max"}},
			want: "-machine q35 -accel kvm -m 256M -smp 1 -nodefaults -display none -serial stdio " +
				"-kernel k -initrd i -append console=ttyS0 panic=-1 quiet cryptomgr.notests no_timer_check -cpu max",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := strings.Join(tt.cfg.Args(), " "); got != tt.want {
				t.Errorf("got Args() = %q\nwant %q", got, tt.want)
			}
		})
	}
}
