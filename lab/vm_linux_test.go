package lab

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"l2hub/hub"
)

// A QEMU started through a wrapper script that does not exec it is a
// grandchild of the runner: killing the runner with SIGKILL must still end
// it (the runner's parent-death signal reaches only the wrapper).
func TestRunnerKilledLeavesNoGrandchild(t *testing.T) {
	dir := t.TempDir()
	wrapper := "#!/bin/sh\n" +
		"# a QEMU wrapper that does not exec: its QEMU (here a sleep) is the runner's grandchild\n" +
		"sleep 3600 &\n" +
		"echo $! > \"$1.tmp\" && mv \"$1.tmp\" \"$1\"\n" +
		"echo up\n" +
		"wait\n"
	if err := os.WriteFile(filepath.Join(dir, "qemu-wrap.sh"), []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	lab := `
name: killed
vms:
  - {name: a, mac: "52:54:00:00:00:0a", qemu: ./qemu-wrap.sh, args: ["${RUN}/sleep.pid"], expect: [{marker: never}]}
`
	file := filepath.Join(dir, "lab.yaml")
	if err := os.WriteFile(file, []byte(lab), 0o644); err != nil {
		t.Fatal(err)
	}
	run := filepath.Join(dir, "run")
	var out bytes.Buffer
	runner := exec.Command(os.Args[0], "-test.run=^$")
	runner.Env = append(os.Environ(), runnerEnv+"="+file, runnerDirEnv+"="+run)
	runner.Stdout, runner.Stderr = &out, &out
	if err := runner.Start(); err != nil {
		t.Fatal(err)
	}
	ended := make(chan struct{})
	go func() { runner.Wait(); close(ended) }()
	defer func() {
		runner.Process.Kill()
		<-ended
		if t.Failed() {
			t.Logf("the runner printed:\n%s", out.String())
		}
	}()

	pidFile := filepath.Join(run, "sleep.pid")
	var pid int
	for deadline := time.Now().Add(hangGuard); pid == 0; time.Sleep(20 * time.Millisecond) {
		select {
		case <-ended:
			t.Fatalf("the runner ended before the wrapper started its QEMU")
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s after %v", pidFile, hangGuard)
		}
		if b, err := os.ReadFile(pidFile); err == nil {
			pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		}
	}
	// The shell writes the pid of its background child at once, maybe
	// before the child has exec'd sleep: until then, /proc shows the shell.
	for deadline := time.Now().Add(hangGuard); !sleeping(pid); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("pid %d from %s is no sleep %v later", pid, pidFile, hangGuard)
		}
	}
	defer func() {
		if sleeping(pid) {
			syscall.Kill(pid, syscall.SIGKILL) // a failed test leaves nothing either
		}
	}()

	runner.Process.Signal(syscall.SIGKILL)
	<-ended
	for deadline := time.Now().Add(hangGuard); sleeping(pid); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the wrapper's QEMU (pid %d) still runs %v after the runner was killed", pid, hangGuard)
		}
	}
}

// sleeping reports whether pid is a live (not zombie) "sleep 3600".
func sleeping(pid int) bool {
	cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil || string(cmdline) != "sleep\x003600\x00" {
		return false
	}
	return running(pid)
}

// The watchdog's hidden mode run by hand, not by a runner, kills nothing:
// not when the runner it is told of is not its parent, nor when it does not
// lead a process group of its own (its caller's group would be killed).
func TestWatchdogRunByHandKillsNothing(t *testing.T) {
	for _, tc := range []struct{ name, runner string }{
		{"not the parent", "1"},
		{"not a group leader", "$$"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			script := watchdogEnv + "=" + tc.runner + ` "$0" ` + watchdogArg + `; echo "survived $?"`
			sh := exec.Command("/bin/sh", "-c", script, os.Args[0])
			sh.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // what it might kill is this group
			var out bytes.Buffer
			sh.Stdout, sh.Stderr = &out, &out
			if err := sh.Start(); err != nil {
				t.Fatal(err)
			}
			ended := make(chan error, 1)
			go func() { ended <- sh.Wait() }()
			var err error
			select {
			case err = <-ended:
			case <-time.After(hangGuard):
				syscall.Kill(-sh.Process.Pid, syscall.SIGKILL)
				<-ended
				t.Fatalf("the watchdog still waits %v later; printed %q", hangGuard, out.String())
			}
			if err != nil || !strings.HasPrefix(out.String(), "survived ") {
				t.Errorf("got %v, printed %q, want the shell to survive the watchdog", err, out.String())
			}
		})
	}
}

// A wrapper that starts its QEMU in the background and exits leaves it in
// the VM's process group: once the wrapper has ended, what is left of the
// group is killed, not left running after the lab.
func TestRunKillsWhatAnEndedQEMULeft(t *testing.T) {
	t.Run("watchdog", testRunKillsWhatAnEndedQEMULeft)
	t.Run("none", func(t *testing.T) {
		defer func(exe string) { watchdogExe = exe }(watchdogExe)
		watchdogExe = filepath.Join(t.TempDir(), "no-such-l2hub")
		testRunKillsWhatAnEndedQEMULeft(t)
	})
}

func testRunKillsWhatAnEndedQEMULeft(t *testing.T) {
	dir := t.TempDir()
	wrapper := "#!/bin/sh\n" +
		"# a QEMU wrapper that starts its QEMU (here a sleep) in the background and exits\n" +
		"sleep 3600 >/dev/null 2>&1 </dev/null &\n" +
		"echo $! > \"$1.tmp\" && mv \"$1.tmp\" \"$1\"\n" +
		"echo up\n"
	qemu := filepath.Join(dir, "qemu-bg.sh")
	if err := os.WriteFile(qemu, []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	text := `
name: background
vms:
  - {name: a, mac: "52:54:00:00:00:0a", qemu: "` + qemu + `", args: ["${RUN}/sleep.pid", "${Q}"], expect: [{marker: never}]}
`
	// (runLab's ${Q}, the fake QEMU, is an argument the wrapper ignores.)
	sum, _ := runLab(t, text, Options{})
	b, err := os.ReadFile(filepath.Join(sum.Dir, "sleep.pid"))
	if err != nil {
		t.Fatalf("the wrapper wrote no pid: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		t.Fatalf("got pid %q from the wrapper", b)
	}
	defer func() {
		if sleeping(pid) {
			syscall.Kill(pid, syscall.SIGKILL) // a failed test leaves nothing either
		}
	}()
	for deadline := time.Now().Add(hangGuard); sleeping(pid); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the QEMU the wrapper left (pid %d) still runs %v after the lab ended", pid, hangGuard)
		}
	}
}

// Without a watchdog (here: its executable cannot be started, as without
// /proc), each VM starts as before the watchdog existed, and the run says
// once what that costs.
func TestRunWithoutWatchdog(t *testing.T) {
	defer func(exe string) { watchdogExe = exe }(watchdogExe)
	watchdogExe = filepath.Join(t.TempDir(), "no-such-l2hub")
	const text = `
name: no-watchdog
vms:
  - {name: a, mac: "52:54:00:00:00:0a", qemu: "${Q}", args: [-say, up, -hang], expect: [{marker: up}]}
  - {name: b, mac: "52:54:00:00:00:0b", qemu: "${Q}", args: [-say, up, -hang], expect: [{marker: up}]}
`
	sum, out := runLab(t, text, Options{})
	if sum.Result != ResultPass {
		t.Errorf("got %s, want pass", sum.Result)
	}
	const want = "may outlive a runner killed with SIGKILL"
	if n := strings.Count(out, want); n != 1 || strings.Count(out, "warning:") != 1 {
		t.Errorf("got %d warnings saying %q, want one", n, want)
	}
	checkNothingLeft(t, sum)
}

// running reports whether pid is a live (not zombie) process.
func running(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// pid (comm) STATE ...: the state is after the last ')'.
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] != 'Z' && s[i+2] != 'X'
}

// readPid reads a pid file a fake QEMU wrote, 0 if there is none yet.
func readPid(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}

// killPid kills the process whose pid is in path, if any: what a test
// started that the lab does not stop (or, in a failing test, did not).
func killPid(path string) {
	if pid := readPid(path); pid > 0 {
		syscall.Kill(pid, syscall.SIGKILL)
	}
}

// runLabGuarded runs the lab as runLab does in the run directory run, and
// kills the process whose pid is in pidFile (one the lab leaves running)
// at the end of the test, or hangGuard in if the run has not returned by
// then: a run that returned only then fails the test, with what naming
// that process.
func runLabGuarded(t *testing.T, text, run, pidFile, what string) *Summary {
	t.Helper()
	t.Cleanup(func() { killPid(pidFile) })
	var hung atomic.Bool
	guard := time.AfterFunc(hangGuard, func() { hung.Store(true); killPid(pidFile) })
	sum, _ := runLab(t, text, Options{Dir: run})
	guard.Stop()
	if hung.Load() {
		t.Fatalf("the run returned only once the test killed %s, %v in", what, hangGuard)
	}
	return sum
}

// A QEMU command that moves itself to a process group of its own, as
// coreutils timeout does (setpgid(0, 0)), is stopped all the same: the run
// signals QEMU and its own group, not only the group it started it in. The
// run returns once its marker is in, and the fake QEMU under timeout is
// gone afterwards.
func TestRunStopsAQEMUInAGroupOfItsOwn(t *testing.T) {
	timeout, err := exec.LookPath("timeout")
	if err != nil {
		t.Skip("no coreutils timeout in $PATH: it is the wrapper this test stops")
	}
	text := `
name: own-group
vms:
  - {name: a, mac: "52:54:00:00:00:0a", qemu: "` + timeout + `", args: ["3600", "${Q}", -pidfile, "${RUN}/fake.pid", -say, "GUEST: ok", -hang], expect: [{marker: "GUEST: ok"}]}
`
	run := filepath.Join(t.TempDir(), "run")
	pidFile := filepath.Join(run, "fake.pid")
	sum := runLabGuarded(t, text, run, pidFile, "the fake QEMU under timeout")
	if sum.Result != ResultPass {
		t.Errorf("got %s, want pass", sum.Result)
	}
	pid := readPid(pidFile)
	if pid <= 0 {
		t.Fatalf("the fake QEMU wrote no pid to %s", pidFile)
	}
	for deadline := time.Now().Add(hangGuard); running(pid); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the fake QEMU under timeout (pid %d) still runs %v after the run", pid, hangGuard)
		}
	}
	checkNothingLeft(t, sum)
}

// A QEMU command that ends while a helper it started in a session of its
// own (setsid) keeps the console's pipe open: the run sees the exit all the
// same, classifies it at once as <PHASE>_<VM>_ENDED, stamped when QEMU
// ended (not when the pipe closed, nor as the run's timeout), and returns
// while the helper still runs.
func TestRunSeesAnExitWhileAHelperHoldsTheConsole(t *testing.T) {
	const text = `
name: helper
vms:
  - {name: a, mac: "52:54:00:00:00:0a", qemu: "${Q}", args: [-detach, "${RUN}/helper.pid", -say, "qemu: could not load kernel", -exit, "1"], expect: [{marker: "GUEST: ok"}]}
`
	run := filepath.Join(t.TempDir(), "run")
	pidFile := filepath.Join(run, "helper.pid")
	sum := runLabGuarded(t, text, run, pidFile, "the helper that held the console")
	if pid := readPid(pidFile); !running(pid) {
		t.Errorf("the helper (pid %d) is gone: the test proves nothing", pid)
	}
	c := sum.Classification
	if c == nil || c.Code != "RUN_A_ENDED" || c.Line != "qemu: could not load kernel" {
		t.Fatalf("got classification %+v, want RUN_A_ENDED with a's last line", c)
	}
	log, _ := os.ReadFile(filepath.Join(run, "a.log"))
	want := fmt.Sprintf("%8.3f # exit: exit status 1\n", c.At.D().Seconds())
	if !strings.HasSuffix(string(log), want) {
		t.Errorf("got a.log:\n%s\nwant it to end with the exit, stamped as classified: %q", log, want)
	}
}

// A bound that falls while the console of a QEMU that has ended is still
// being drained waits for its exit: the exit, stamped when QEMU ended,
// comes first. Virtual time: QEMU ends at 0s, with a helper holding its
// console; then the clock passes the run's timeout (0.5s) and the drain's
// end (1s).
func TestRunExitBeforeABoundThatFallsInTheDrain(t *testing.T) {
	const text = `
name: drain
timeout: 500ms
vms:
  - {name: a, mac: "52:54:00:00:00:0a", qemu: "${Q}", args: [-pidfile, "${RUN}/fake.pid", -detach, "${RUN}/helper.pid", -say, "booting", -exit, "1"], expect: [{marker: "GUEST: ok"}]}
`
	clock := hub.NewVirtualClock(hub.DefaultEpoch)
	run := filepath.Join(t.TempDir(), "run")
	helper := filepath.Join(run, "helper.pid")
	defer killPid(helper)
	sum, _ := runLabDriven(t, text, Options{Dir: run, Clock: clock}, func(ctx context.Context) {
		// Once the fake has ended and been reaped, and its console's drain
		// is armed (the clock's second timer, beside the run's timeout),
		// move past the timeout, and then past the drain's end.
		deadline := time.Now().Add(hangGuard)
		for ctx.Err() == nil && time.Now().Before(deadline) {
			if pid := readPid(filepath.Join(run, "fake.pid")); pid > 0 && readPid(helper) > 0 && !running(pid) && clock.Pending() >= 2 {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		drv := hub.Driver{Clock: clock}
		drv.AdvanceTo(hub.DefaultEpoch.Add(600*time.Millisecond), nil)
		time.Sleep(100 * time.Millisecond) // a loop that judged the bound now would say RUN_TIMEOUT
		for ctx.Err() == nil {
			drv.AdvanceTo(hub.DefaultEpoch.Add(2*time.Second), nil)
			time.Sleep(time.Millisecond)
		}
	})
	c := sum.Classification
	if c == nil || c.Code != "RUN_A_ENDED" || c.At != 0 {
		t.Errorf("got classification %+v, want RUN_A_ENDED at 0s, when QEMU ended", c)
	}
}

// A QEMU that does not end after SIGKILL (stuck in the kernel) is waited
// for killWait, no longer: the run goes on to write its files, and says so
// in the VM's console log, its exit and the summary. Here a sleep stands
// for QEMU, and its end is never reported (nothing closes done), as if
// SIGKILL did not take; virtual time passes the grace and killWait.
func TestStopAllGivesUpOnAQEMUThatDoesNotEnd(t *testing.T) {
	dir := t.TempDir()
	clock := hub.NewVirtualClock(hub.DefaultEpoch)
	log, err := createLog(osFS{}, filepath.Join(dir, "a.log"), "a.log", nil)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sleep", "3600")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	p := &process{vm: 0, name: "a", cmd: cmd, pgid: cmd.Process.Pid, clock: clock, start: clock.Now(), log: log, done: make(chan struct{})}
	var out bytes.Buffer
	r := &runner{lab: &Lab{Name: "stuck"}, opts: Options{Out: &out, Clock: clock, Grace: time.Second}, dir: dir, start: clock.Now(),
		inbox: newInbox(clock, clock.Now()), procs: []*process{p}, vmInfo: []VMInfo{{Name: "a", Port: "a", PID: cmd.Process.Pid, Log: "a.log"}}}
	stopped := make(chan struct{})
	go func() { r.stopAll(); close(stopped) }()
	drv := hub.Driver{Clock: clock}
wait:
	for step := time.Duration(0); ; step += 100 * time.Millisecond {
		select {
		case <-stopped:
			break wait
		case <-time.After(time.Millisecond):
		}
		if step > time.Hour {
			t.Fatal("stopAll still waits after an hour of virtual time")
		}
		drv.AdvanceTo(hub.DefaultEpoch.Add(step), nil)
	}
	if got, want := r.vmInfo[0].Exit, "still running after SIGKILL (not waited for)"; got != want {
		t.Errorf("got exit %q, want %q", got, want)
	}
	sum := r.summarize(ResultPass, nil)
	if len(sum.Notes) != 1 || !strings.Contains(sum.Notes[0], "still ran 5s after SIGKILL") {
		t.Errorf("got notes %q, want one saying QEMU still ran after SIGKILL", sum.Notes)
	}
	var txt strings.Builder
	sum.WriteText(&txt)
	data, _ := os.ReadFile(filepath.Join(dir, "a.log"))
	for what, text := range map[string]string{"a.log": string(data), "summary.txt": txt.String(), "the run's output": out.String()} {
		if !strings.Contains(text, "VM a: QEMU (pid "+strconv.Itoa(cmd.Process.Pid)+") still ran 5s after SIGKILL") {
			t.Errorf("got %s:\n%s\nwant it to say that QEMU still ran after SIGKILL", what, text)
		}
	}
}
