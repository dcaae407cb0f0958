package lab

import (
	"bytes"
	"cmp"
	"context"
	"encoding/xml"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"l2hub/capture"
	"l2hub/capture/capturetest"
	"l2hub/control"
	"l2hub/hub"
	"l2hub/internal/wallclock"
	"l2hub/replay"
	"l2hub/report"
	"l2hub/transport"
)

// fakeQEMU is the fake QEMU (internal/fakeqemu), built once by TestMain.
var fakeQEMU string

func TestMain(m *testing.M) {
	if file := os.Getenv(runnerEnv); file != "" {
		os.Exit(runAsRunner(file))
	}
	dir, err := os.MkdirTemp("", "l2lab-fake-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	fakeQEMU = filepath.Join(dir, "fakeqemu")
	if out, err := exec.Command("go", "build", "-o", fakeQEMU, "l2hub/lab/internal/fakeqemu").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building the fake QEMU: %v\n%s", err, out)
		os.Exit(2)
	}
	verifyNoLeaks(m, func() { os.RemoveAll(dir) })
}

// hangGuard bounds a run whose end the test needs; reaching it means the
// runner hangs. It decides no pass.
const hangGuard = 2 * time.Minute

// runLab parses text (with the fake QEMU as ${Q}) and runs it into a new
// directory, returning the summary and what it printed.
func runLab(t *testing.T, text string, opts Options) (*Summary, string) {
	t.Helper()
	dir := t.TempDir()
	l, err := Parse("lab.yaml", dir, []byte(text), LoadOptions{Vars: map[string]string{"Q": fakeQEMU}})
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	var out bytes.Buffer
	opts.Out = &out
	if opts.Dir == "" {
		opts.Dir = filepath.Join(dir, "run")
	}
	if opts.Grace == 0 {
		opts.Grace = 200 * time.Millisecond
	}
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	sum, err := Run(ctx, l, opts)
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, out.String())
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the run printed:\n%s", out.String())
		}
	})
	return sum, out.String()
}

// runLabDriven runs the lab as runLab does while drive, in a goroutine of
// its own, moves the run's virtual clock (opts.Clock); drive must return
// once ctx ends, as it does when the run is over, and is waited for.
func runLabDriven(t *testing.T, text string, opts Options, drive func(ctx context.Context)) (*Summary, string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	driven := make(chan struct{})
	go func() {
		defer close(driven)
		drive(ctx)
	}()
	sum, out := runLab(t, text, opts)
	cancel()
	<-driven
	return sum, out
}

// alive reports whether a process with pid still exists.
func alive(pid int) bool { return pid > 0 && syscall.Kill(pid, 0) == nil }

// checkNothingLeft fails t if a QEMU of the run still runs or a socket of
// the run is left in its directory.
func checkNothingLeft(t *testing.T, s *Summary) {
	t.Helper()
	for _, vm := range s.VMs {
		if alive(vm.PID) {
			t.Errorf("VM %s's QEMU (pid %d) still runs after the run", vm.Name, vm.PID)
			syscall.Kill(vm.PID, syscall.SIGKILL)
		}
	}
	socks, _ := filepath.Glob(filepath.Join(s.Dir, "*.sock"))
	if len(socks) > 0 {
		t.Errorf("got sockets %v left in the run directory, want none", socks)
	}
}

// fakePair: a sends ARPs for 1.5 s after "handshake ok", so the 200 ms
// partition it triggers drops some and heals while a still sends, however
// late on a loaded machine the trigger fires.
const fakePair = `
name: fake-pair
timeout: 60s
vms:
  - name: a
    mac: 52:54:00:12:34:0a
    qemu: ${Q}
    args: [-say, "GUEST: up", -frames, arp, "3", 10ms, -say, "handshake ok", -frames, arp, "150", 10ms, -say, "GUEST: done ok", -hang]
    expect: [{marker: "GUEST: up", within: 60s}, {marker: "GUEST: done ok", within: 60s}]
  - name: b
    mac: 52:54:00:12:34:0b
    qemu: ${Q}
    args: [-say, "GUEST: up", -frame, arp, -wait-file, "${RUN}/../go-b", -say, "GUEST: done ok"]
phases:
  - {name: boot, markers: {a: "GUEST: up", b: "GUEST: up"}, within: 60s, budget: 50s}
  - {name: done, markers: {a: "GUEST: done ok", b: "GUEST: done ok"}, within: 60s}
triggers:
  - {on: "a: handshake ok", do: "partition a|b", for: 200ms}
  - {on: "a: GUEST: done ok", do: "link b down"}
`

// A lab whose markers all come passes, and its run directory holds the
// console logs (the exact command first, every line stamped), the hub's
// log, the capture, summary.json/txt and junit.xml; nothing is left
// running or bound. The marker trigger's partition shows in the capture:
// its drops come after the marker and between the notes of its start and
// its heal; and in the timeline report's model of the run, as a band
// beside the VMs' console markers.
func TestRunPass(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "go-b"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	sum, out := runLab(t, fakePair, Options{Dir: filepath.Join(dir, "run")})
	if sum.Result != ResultPass || sum.Classification != nil {
		t.Fatalf("got result %s, classification %+v, want pass", sum.Result, sum.Classification)
	}
	checkNothingLeft(t, sum)
	for _, f := range []string{"a.log", "b.log", "hub.log", "capture.pcapng", "summary.json", "summary.txt", "junit.xml", "report.html", "lab.log"} {
		if _, err := os.Stat(filepath.Join(sum.Dir, f)); err != nil {
			t.Errorf("run directory: %v", err)
		}
	}
	// The timeline page draws the VMs' console markers on their ports.
	page, _ := os.ReadFile(filepath.Join(sum.Dir, "report.html"))
	if !bytes.Contains(page, []byte("l2hub lab fake-pair")) || !bytes.Contains(page, []byte("handshake ok")) || sum.Files["report"] != "report.html" {
		t.Errorf("got report.html of %d bytes (files %v), want the lab's page with a's marker \"handshake ok\"", len(page), sum.Files)
	}
	log, _ := os.ReadFile(filepath.Join(sum.Dir, "a.log"))
	lines := strings.Split(string(log), "\n")
	wantCmd := "# " + fakeQEMU + " -say 'GUEST: up' -frames arp 3 10ms -say 'handshake ok'"
	if !strings.HasPrefix(lines[0], wantCmd) || !strings.Contains(lines[0], " -netdev stream,id=n0,server=off,addr.type=unix,addr.path="+sum.Dir+"/a.sock -device virtio-net-pci,netdev=n0,mac=52:54:00:12:34:0a") {
		t.Errorf("got a.log's first line %q, want the exact command with the hub's netdev appended", lines[0])
	}
	if !strings.HasPrefix(lines[2], "# t0=") || !stampedLine.MatchString(lines[3]) || !strings.HasSuffix(lines[3], " GUEST: up") {
		t.Errorf("got a.log lines %q, want a t0 line then stamped console lines", lines[:4])
	}
	for _, want := range []string{"a: GUEST: up", "phase boot ok", "trigger-1: on a: \"handshake ok\": partition a|b for 200ms", "heal trigger-1", "PASS fake-pair"} {
		if !strings.Contains(out, want) {
			t.Errorf("the run printed no %q", want)
		}
	}

	// The capture: the partition's drops follow the marker that fired it,
	// and lie between the notes of its start and its heal.
	marker := sum.Triggers[0].FiredAt.D()
	var started, healed, drops, firstDrop, lastDrop, beforeMarker, outside int
	err := scanCapture(filepath.Join(sum.Dir, "capture.pcapng"), func(p capture.Packet) bool {
		if strings.Contains(p.Comment, "partition trigger-1 started: a|b") {
			started = p.Number
		}
		if strings.Contains(p.Comment, "partition trigger-1 healed") {
			healed = p.Number
		}
		if strings.Contains(p.Comment, "rule trigger-1: partition") {
			drops++
			firstDrop = cmp.Or(firstDrop, p.Number)
			lastDrop = p.Number
			if p.Time.Sub(sum.Started) < marker {
				beforeMarker++
			}
			if started == 0 || healed != 0 {
				outside++
			}
		}
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	if drops == 0 || started == 0 || healed == 0 || beforeMarker+outside > 0 {
		t.Errorf("got %d partition drops (%d before the marker at %v, %d outside frames %d..%d), want some, all after the marker and between start and heal",
			drops, beforeMarker, marker, outside, started, healed)
	}

	checkRunModel(t, sum, drops, firstDrop, lastDrop)

	// A replay of the capture makes the triggers' changes again (they are
	// recorded in it), so every frame gets the run's verdict.
	live := filepath.Join(sum.Dir, "capture.pcapng")
	replayed := filepath.Join(dir, "replay.pcapng")
	res, err := (&replay.Job{Files: []string{live}, Output: replayed, Points: "ingress"}).Run(context.Background())
	if err != nil {
		t.Fatalf("replay: %v", err)
	}
	var made []string
	for _, e := range res.Edits {
		if e.Applied {
			made = append(made, e.Edit.String())
		}
	}
	// (trigger-2's link b down comes after a's last frame: a change is
	// written on the next frame recorded, and when none follows it, none
	// is decided differently either.)
	want := []string{"partition trigger-1 started: a|b", "partition trigger-1 healed", "link b down"}
	if len(made) < 2 || len(made) > len(want) || !slices.Equal(made, want[:len(made)]) {
		t.Errorf("the replay made %q, want the triggers' changes %q", made, want)
	}
	if l, r := ingressVerdicts(t, live), ingressVerdicts(t, replayed); !slices.Equal(l, r) || len(l) == 0 {
		t.Errorf("the replay's verdicts differ from the run's:\nlive   %q\nreplay %q", l, r)
	}

	// junit.xml: a test case per marker and per phase, none failed.
	doc := readJUnit(t, filepath.Join(sum.Dir, "junit.xml"))
	if doc.Tests != 2+2+4+2 || doc.Failures != 0 || len(doc.Suites) != 1 {
		t.Errorf("got junit.xml with %d tests, %d failures, want 10 cases (2 expect, 2 phases, 4 phase markers, 2 triggers) and none failed", doc.Tests, doc.Failures)
	}
	var triggerCases []string
	for _, jc := range doc.Suites[0].Cases {
		if jc.Classname == "fake-pair.triggers" && jc.Failure == nil && jc.Skipped == nil {
			triggerCases = append(triggerCases, jc.Name)
		}
	}
	if want := []string{`trigger-1: on a: "handshake ok": partition a|b for 200ms`, `trigger-2: on a: "GUEST: done ok": link b down`}; !slices.Equal(triggerCases, want) {
		t.Errorf("got passed trigger cases %q, want %q", triggerCases, want)
	}
	// summary.json reads back.
	back, err := ReadSummary(sum.Dir)
	if err != nil || back.Result != ResultPass || len(back.Phases) != 2 || back.Phases[1].Duration == nil {
		t.Errorf("got summary.json %+v, %v, want the passed run", back, err)
	}
}

// checkRunModel builds the timeline report's layout model (package report)
// of TestRunPass's run directory, its capture with its VMs' console logs:
// the trigger's partition is a band across a and b made of exactly the
// capture's partition drops, with the control API's edges; the hub's line
// carries the partition's start and heal; and every console line of a
// and b is a marker on its own port, in its log's order, under its line
// number.
func checkRunModel(t *testing.T, sum *Summary, drops, firstDrop, lastDrop int) {
	t.Helper()
	var consoles []report.Console
	for _, vm := range sum.VMs {
		consoles = append(consoles, report.Console{Port: vm.Port, Path: filepath.Join(sum.Dir, vm.Log)})
	}
	m, err := report.Build(report.Options{Capture: filepath.Join(sum.Dir, "capture.pcapng"), Consoles: consoles})
	if err != nil {
		t.Fatalf("report.Build of the run: %v", err)
	}
	port := map[string]int{}
	for i, p := range m.Ports {
		port[p.Name] = i
	}
	a, okA := port["a"]
	b, okB := port["b"]
	if !okA || !okB || !slices.Equal(m.Ports[a].Consoles, []string{"a.log"}) || !slices.Equal(m.Ports[b].Consoles, []string{"b.log"}) {
		t.Fatalf("got ports %+v, want a and b, each with its console log", m.Ports)
	}
	bi := slices.IndexFunc(m.Bands, func(bd report.Band) bool { return bd.Name == "trigger-1" })
	if bi < 0 {
		t.Fatalf("got bands %+v, want trigger-1's partition", m.Bands)
	}
	band := m.Bands[bi]
	if band.Kind != "partition" || band.Spec != "a|b" || !slices.Equal(band.Ports, []int{min(a, b), max(a, b)}) {
		t.Errorf("got band %+v, want partition trigger-1 a|b across a and b", band)
	}
	if band.Drops != drops || band.First != firstDrop || band.Last != lastDrop {
		t.Errorf("got band of %d drops, frames %d..%d, want the capture's %d partition drops, frames %d..%d", band.Drops, band.First, band.Last, drops, firstDrop, lastDrop)
	}
	if !band.Control || band.Ended <= band.Began {
		t.Errorf("got band control %v from %v to %v, want the control API's start and heal, in order", band.Control, band.Began, band.Ended)
	}
	var hub []string
	logs := map[int][]report.Marker{}
	attaches := map[int][]string{}
	for _, mk := range m.Markers {
		if mk.Port < 0 {
			hub = append(hub, mk.Text)
			if mk.Text == "control: partition trigger-1 started: a|b" && mk.Time != band.Began || mk.Text == "control: partition trigger-1 healed" && mk.Time != band.Ended {
				t.Errorf("got hub marker %q at %v, want it at the band's edge (%v..%v)", mk.Text, mk.Time, band.Began, band.Ended)
			}
			continue
		}
		if mk.Log == "capture" { // the VM's attaching and leaving, which the capture notes
			attaches[mk.Port] = append(attaches[mk.Port], mk.Text)
			continue
		}
		logs[mk.Port] = append(logs[mk.Port], mk)
	}
	for port := range m.Ports {
		// A VM that the runner stops leaves as the hub stops, or after: its
		// leaving is noted only when the hub saw it first.
		got := attaches[port]
		if len(got) == 0 || len(got) > 2 || !strings.HasPrefix(got[0], "VM attached (unix ") || len(got) == 2 && !strings.HasPrefix(got[1], "VM detached") {
			t.Errorf("port %d: got capture markers %q, want its VM attached, then perhaps detached", port, got)
		}
	}
	for _, want := range []string{"control: partition trigger-1 started: a|b", "control: partition trigger-1 healed"} {
		if !slices.Contains(hub, want) {
			t.Errorf("got hub markers %q, want %q", hub, want)
		}
	}
	var all []string
	for _, vm := range sum.VMs {
		data, err := os.ReadFile(filepath.Join(sum.Dir, vm.Log))
		if err != nil {
			t.Fatal(err)
		}
		// The log's console lines (a stamp, then the text; not its "#"
		// lines), with their line numbers.
		var want []string
		for i, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
			if stampedLine.MatchString(line) {
				want = append(want, fmt.Sprintf("%s:%d %s", vm.Log, i+1, stampedLine.ReplaceAllString(line, "")))
			}
		}
		var got []string
		for _, mk := range logs[port[vm.Port]] {
			got = append(got, fmt.Sprintf("%s:%d %s", mk.Log, mk.Line, mk.Text))
		}
		if !slices.Equal(got, want) {
			t.Errorf("got markers on %s:\n%s\nwant its console's lines:\n%s", vm.Port, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		all = append(all, got...)
	}
	for _, want := range []string{"a.log:4 GUEST: up", "a.log:5 handshake ok", "b.log:4 GUEST: up"} {
		if !slices.Contains(all, want) {
			t.Errorf("got markers %q, want %q", all, want)
		}
	}
	if !slices.ContainsFunc(all, func(s string) bool { return strings.HasPrefix(s, "a.log:") && strings.HasSuffix(s, " GUEST: done ok") }) {
		t.Errorf("got markers %q, want a's \"GUEST: done ok\"", all)
	}
}

// Each way a run fails, with a real process behind each VM: the code, the
// VM and the missing marker, the QEMUs stopped, junit.xml recording it
// with the VM's last console lines.
func TestRunClassifies(t *testing.T) {
	vm := func(name, mac, args string) string {
		return fmt.Sprintf("  - {name: %s, mac: \"52:54:00:00:00:%s\", qemu: \"${Q}\", args: [%s], fail_on: [\"Kernel panic\"]}\n", name, mac, args)
	}
	tests := []struct {
		name           string
		vms, phases    string
		code, vm, miss string
		junitMsg       string // in the failing test case
	}{
		{name: "timeout: b never prints its marker",
			vms:    vm("a", "0a", `-say, up, -hang`) + vm("b", "0b", `-say, "booting...", -hang`),
			phases: `[{name: boot, markers: {a: up, b: up}, within: 2s}]`, // a's up comes in time even on a loaded machine
			code:   "BOOT_TIMEOUT", vm: "b", miss: "up", junitMsg: "booting..."},
		{name: "ended: b's QEMU exits first",
			vms:    vm("a", "0a", `-say, up, -hang`) + vm("b", "0b", `-say, "no disk", -exit, "1"`),
			phases: `[{name: boot, markers: {a: up, b: up}, within: 60s}]`,
			code:   "BOOT_B_ENDED", vm: "b", miss: "up", junitMsg: "no disk"},
		{name: "ended silent: b's QEMU exits without a line on its console",
			vms:    vm("a", "0a", `-say, up, -hang`) + vm("b", "0b", `-exit, "0"`),
			phases: `[{name: boot, markers: {a: up, b: up}, within: 60s}]`,
			code:   "BOOT_B_ENDED", vm: "b", miss: "up",
			junitMsg: "last 20 console lines of b (b.log):\n(none: VM b printed nothing on its console)\n"},
		{name: "fail_on",
			vms:    vm("a", "0a", `-say, "Kernel panic - not syncing", -hang`) + vm("b", "0b", `-say, up, -hang`),
			phases: `[{name: boot, markers: {a: up, b: up}, within: 60s}]`,
			code:   "FAIL_ON", vm: "a", miss: "up", junitMsg: "Kernel panic"},
		{name: "ended owing nothing: the router's QEMU exits 3",
			vms:    vm("a", "0a", `-say, booting, -hang`) + vm("router", "0c", `-say, routing, -exit, "3"`),
			phases: `[{name: boot, markers: {a: up}, within: 60s}]`,
			code:   "BOOT_ROUTER_ENDED", vm: "router", miss: "", junitMsg: "last 20 console lines of router (router.log):\n"},
		{name: "budget: the phase came, late",
			vms:    vm("a", "0a", `-sleep, 300ms, -say, up, -hang`) + vm("b", "0b", `-say, up, -hang`),
			phases: `[{name: boot, markers: {a: up, b: up}, within: 60s, budget: 50ms}]`,
			code:   "BOOT_BUDGET"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := "name: c\ntimeout: 60s\nvms:\n" + tt.vms + "phases: " + tt.phases + "\n"
			sum, _ := runLab(t, text, Options{})
			c := sum.Classification
			if sum.Result != ResultFail || c == nil || c.Code != tt.code || c.VM != tt.vm || c.Marker != tt.miss {
				t.Fatalf("got result %s, classification %+v, want fail with %s on VM %q missing %q", sum.Result, c, tt.code, tt.vm, tt.miss)
			}
			checkNothingLeft(t, sum)
			doc := readJUnit(t, filepath.Join(sum.Dir, "junit.xml"))
			var failures []string
			for _, jc := range doc.Suites[0].Cases {
				if jc.Failure != nil {
					failures = append(failures, jc.Failure.Type+"|"+jc.Failure.Message+"|"+jc.Failure.Text)
				}
			}
			joined := strings.Join(failures, "\n")
			if doc.Failures == 0 || !strings.Contains(joined, tt.code) || !strings.Contains(joined, tt.junitMsg) {
				t.Errorf("got junit.xml failures:\n%s\nwant %s with %q", joined, tt.code, tt.junitMsg)
			}
			txt, _ := os.ReadFile(filepath.Join(sum.Dir, "summary.txt"))
			if !strings.Contains(string(txt), "failure: "+tt.code) {
				t.Errorf("got summary.txt:\n%s\nwant the failure %s", txt, tt.code)
			}
		})
	}
}

// A VM whose QEMU cannot start (here a script whose interpreter does not
// exist) fails the run, though it owes no marker.
func TestRunVMCouldNotStart(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "qemu-bad")
	if err := os.WriteFile(bad, []byte("#!/nonexistent/interpreter\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	text := `
name: nostart
timeout: 60s
vms:
  - {name: a, mac: "52:54:00:00:00:0a", qemu: "${Q}", args: [-say, booting, -hang], expect: [{marker: up}]}
  - {name: router, mac: "52:54:00:00:00:0c", qemu: "` + bad + `"}
`
	sum, _ := runLab(t, text, Options{})
	c := sum.Classification
	if sum.Result != ResultFail || c == nil || c.Code != "RUN_ROUTER_ENDED" || c.VM != "router" || !strings.Contains(c.Message, "VM router could not start: ") {
		t.Fatalf("got result %s, classification %+v, want fail with RUN_ROUTER_ENDED: VM router could not start", sum.Result, c)
	}
	checkNothingLeft(t, sum)
}

// An on: trigger making a fault that never fires fails the run, which
// ends once its markers are in; an at: trigger due after the run was done
// is not reached, and fails nothing. Each trigger is a test case in
// junit.xml: the first failed, the second skipped, saying why.
func TestRunTriggerNotFired(t *testing.T) {
	const text = `
name: unfired
timeout: 60s
vms:
  - {name: a, mac: "52:54:00:00:00:0a", qemu: "${Q}", args: [-say, "GUEST: up", -say, "done ok", -hang], expect: [{marker: "done ok"}]}
  - {name: b, mac: "52:54:00:00:00:0b", qemu: "${Q}", args: [-hang]}
triggers:
  - {on: "a: handshake ok", do: "partition a|b", for: 3s}
  - {at: 50s, do: "link b down", for: 1s}
`
	sum, out := runLab(t, text, Options{})
	c := sum.Classification
	if sum.Result != ResultFail || c == nil || c.Code != "TRIGGER_NOT_FIRED" || c.Trigger != "trigger-1" || c.VM != "a" || c.Marker != "handshake ok" {
		t.Fatalf("got result %s, classification %+v, want fail with TRIGGER_NOT_FIRED of trigger-1 (a: handshake ok)", sum.Result, c)
	}
	if len(sum.Failures) != 1 {
		t.Errorf("got failures %+v, want trigger-1's only", sum.Failures)
	}
	if got := []string{sum.Triggers[0].Status, sum.Triggers[1].Status}; !slices.Equal(got, []string{TriggerNotFired, StatusNotReached}) {
		t.Errorf("got trigger statuses %q, want %q, %q", got, TriggerNotFired, StatusNotReached)
	}
	checkNothingLeft(t, sum)
	for _, want := range []string{"FAIL TRIGGER_NOT_FIRED: trigger-1", "failure: TRIGGER_NOT_FIRED", `missing marker: "handshake ok"`,
		"trigger-2  not reached", "link b down for 1s (due at 50s, after the run was done at "} {
		if !strings.Contains(out, want) {
			t.Errorf("the run printed no %q", want)
		}
	}
	doc := readJUnit(t, filepath.Join(sum.Dir, "junit.xml"))
	var failed, skipped []string
	for _, jc := range doc.Suites[0].Cases {
		if jc.Classname != "unfired.triggers" {
			continue
		}
		switch {
		case jc.Failure != nil:
			failed = append(failed, jc.Name+" | "+jc.Failure.Type)
			if !strings.Contains(jc.Failure.Text, "never fired") {
				t.Errorf("got case %q failure text %q, want why it never fired", jc.Name, jc.Failure.Text)
			}
		case jc.Skipped != nil:
			skipped = append(skipped, jc.Name+" | "+jc.Skipped.Message)
		}
	}
	wantFailed := []string{`trigger-1: on a: "handshake ok": partition a|b for 3s | TRIGGER_NOT_FIRED`}
	if !slices.Equal(failed, wantFailed) || doc.Failures != 1 {
		t.Errorf("got failed trigger cases %q (%d failures in all), want %q and no other", failed, doc.Failures, wantFailed)
	}
	if len(skipped) != 1 || !strings.HasPrefix(skipped[0], "trigger-2: at 50s: link b down for 1s | not reached: due at 50s, after the run was done at ") {
		t.Errorf("got skipped trigger cases %q, want trigger-2's, not reached: due at 50s", skipped)
	}
}

// A trigger the run's last marker fires, and the hub refuses, fails the
// run although it was done when the hub answered: the verdict, summary
// and junit.xml agree (a run that passes has no failed case).
func TestRunTriggerRefusedAfterTheLastMarker(t *testing.T) {
	// The policy holds as many partitions as the hub does (256): the hub
	// refuses one more, the first trigger's, and so the second is not
	// performed.
	var policy strings.Builder
	policy.WriteString("partitions:\n")
	for i := range 256 {
		fmt.Fprintf(&policy, "  - {name: p%d, groups: a|t, start: 50s, end: 55s}\n", i)
	}
	file := filepath.Join(t.TempDir(), "faults.yaml")
	if err := os.WriteFile(file, []byte(policy.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	text := `
name: refused
timeout: 60s
hub: {policy: "` + file + `", ports: [{name: t, transport: tcp, address: "127.0.0.1:0"}]}
vms:
  - {name: a, mac: "52:54:00:00:00:0a", qemu: "${Q}", args: [-say, "done ok", -hang], expect: [{marker: "done ok"}]}
  - {name: b, mac: "52:54:00:00:00:0b", qemu: "${Q}", args: [-hang]}
triggers:
  - {name: split, on: "a: done ok", do: "partition a|b"}
  - {name: cut, on: "a: done ok", do: "partition a|b"}
`
	sum, _ := runLab(t, text, Options{})
	c := sum.Classification
	if sum.Result != ResultFail || c == nil || c.Code != "TRIGGER_FAILED" || c.Trigger != "split" {
		t.Fatalf("got result %s, classification %+v, want fail with TRIGGER_FAILED of split", sum.Result, c)
	}
	if c.Hint != nil {
		t.Errorf("got wire hint %q, want none: the wire does not explain the hub's refusal", c.Hint.Text)
	}
	if err := sum.Triggers[0].Err; !strings.Contains(err, "256 partitions, the most it holds") {
		t.Errorf("got split's error %q, want the hub's refusal", err)
	}
	if err := sum.Triggers[1].Err; !strings.Contains(err, "not performed: split could not partition a|b first") {
		t.Errorf("got cut's error %q, want it not performed", err)
	}
	doc := readJUnit(t, filepath.Join(sum.Dir, "junit.xml"))
	var failed []string
	for _, jc := range doc.Suites[0].Cases {
		if jc.Failure != nil {
			failed = append(failed, jc.Name)
		}
	}
	want := []string{`split: on a: "done ok": partition a|b`, `cut: on a: "done ok": partition a|b`}
	if !slices.Equal(failed, want) || doc.Failures != len(want) {
		t.Errorf("got failed cases %q (%d failures), want %q", failed, doc.Failures, want)
	}
	checkNothingLeft(t, sum)
}

// A trigger at 0s is in force before the VMs start: every frame a sends
// from its first is dropped by the partition.
func TestRunTriggerAtZeroBeforeTheVMs(t *testing.T) {
	const text = `
name: zero
timeout: 60s
vms:
  - {name: a, mac: "52:54:00:00:00:0a", qemu: "${Q}", args: [-frames, arp, "3", 1ms, -say, sent, -hang], expect: [{marker: sent}]}
  - {name: b, mac: "52:54:00:00:00:0b", qemu: "${Q}", args: [-hang]}
triggers:
  - {at: 0s, do: "partition a|b"}
`
	sum, out := runLab(t, text, Options{})
	if sum.Result != ResultPass {
		t.Fatalf("got %s, want pass", sum.Result)
	}
	fired, started := strings.Index(out, "trigger-1: at 0s: partition a|b"), strings.Index(out, "a: QEMU started")
	if fired < 0 || started < 0 || fired > started {
		t.Errorf("got the trigger at %d and a's start at %d in the output, want the trigger first", fired, started)
	}
	var fromA, dropped int
	for _, p := range capturetest.Packets(t, filepath.Join(sum.Dir, "capture.pcapng")) {
		if p.IfName == "a" && p.Dir == capture.DirIn {
			fromA++
			if strings.Contains(p.Comment, "rule trigger-1: partition") {
				dropped++
			}
		}
	}
	if fromA == 0 || dropped != fromA {
		t.Errorf("got %d of a's %d frames dropped by the partition, want all", dropped, fromA)
	}
}

// The wire hint of a session that a never-healing partition kills: what
// a sent in the phase's window, by kind, and the frames the trigger's
// partition dropped. a sends its SYNs only once the test has seen the
// partition in force through the control API, as l2hub ctl would.
func TestRunWireHint(t *testing.T) {
	const text = `
name: hint
timeout: 60s
vms:
  - name: a
    mac: 52:54:00:00:00:0a
    qemu: ${Q}
    args: [-say, "dial start", -wait-file, "${RUN}/partitioned", -frames, syn, "4", 10ms, -frames, announce, "3", 10ms, -say, "dialled", -hang]
  - {name: b, mac: "52:54:00:00:00:0b", qemu: "${Q}", args: [-say, up, -wait-file, "${RUN}/partitioned", -frame, synack, -hang]}
phases:
  - {name: session, markers: {a: [dialled, "session ok"], b: "session ok"}, within: 5s, evidence: {a: ["dial"]}}
triggers:
  - {on: "a: dial start", do: "partition a|b"}
`
	dir := t.TempDir()
	run := filepath.Join(dir, "run")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		c := control.NewClient(filepath.Join(run, "ctl.sock"), "")
		for ctx.Err() == nil {
			ports, err := c.Ports(ctx)
			if err == nil && len(ports) > 0 && slices.Contains(ports[0].Partitions, "trigger-1") {
				os.WriteFile(filepath.Join(run, "partitioned"), nil, 0o644)
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	sum, _ := runLab(t, text, Options{Dir: run})
	c := sum.Classification
	if c == nil || c.Code != "SESSION_TIMEOUT" || c.VM != "a" || c.Marker != "session ok" || c.Hint == nil {
		t.Fatalf("got classification %+v, want SESSION_TIMEOUT on a, missing \"session ok\", with a hint", c)
	}
	if got := c.Evidence["a"]["dial"]; got != 2 {
		t.Errorf("got evidence %v, want a's \"dial\" x2", c.Evidence)
	}
	h := c.Hint
	var a, b PortCounts
	for _, p := range h.Ports {
		switch p.Port {
		case "a":
			a = p
		case "b":
			b = p
		}
	}
	if a != (PortCounts{Port: "a", Frames: 7, Announces: 3, SYN: 4, Dropped: 7}) || b != (PortCounts{Port: "b", Frames: 1, SYNACK: 1, Dropped: 1}) {
		t.Errorf("got ports %+v, want a's 4 SYN and 3 announces and b's SYN-ACK, all dropped", h.Ports)
	}
	want := []RuleDrops{{Rule: "partition trigger-1", From: "a", Frames: 7, Announces: 3, SYN: 4}, {Rule: "partition trigger-1", From: "b", Frames: 1}}
	for i := range h.Drops {
		h.Drops[i].First = 0 // frame numbers depend on which of a and b came first
	}
	if !slices.Equal(h.Drops, want) && !slices.Equal(h.Drops, []RuleDrops{want[1], want[0]}) {
		t.Errorf("got drops %+v, want %+v", h.Drops, want)
	}
	for _, want := range []string{"every SYN from a (4) was dropped by partition trigger-1", "7 frames from a dropped by partition trigger-1 (3 announces, 4 SYN)", "a sent 7"} {
		if !strings.Contains(h.Text, want) {
			t.Errorf("got hint %q, want it to say %q", h.Text, want)
		}
	}
	// No SYN reached b: its listener, and what it sent back, are beside
	// the point.
	if strings.Contains(h.Text, "listener") || strings.Contains(h.Text, "on its way back") {
		t.Errorf("got hint %q, want no word of a listener no SYN reached", h.Text)
	}
}

// --soak at the level of a run: after the last phase, its markers again in
// rounds, counted in summary.json, summary.txt and junit.xml. The run's
// clock is virtual, so the rounds are exact: it stands at 0 until a has
// printed every line and the run has read them (the trigger on the last
// one fires), then moves to the soak's end. The phase's tick and the two
// ticks after it all come at 0s: the phase ends, the soak begins and two
// rounds pass at once; then a is silent, and each of the soak's ten
// one-second rounds fails.
func TestRunSoak(t *testing.T) {
	const text = `
name: soak
timeout: 60s
vms:
  - {name: a, mac: "52:54:00:00:00:0a", qemu: "${Q}", args: [-say, tick, -say, tick, -say, tick, -say, "soak sync", -hang]}
phases:
  - {name: beat, markers: {a: tick}, within: 1s}
triggers:
  - {on: "a: soak sync", do: "link a up"}
`
	const soak = 10 * time.Second
	clock := hub.NewVirtualClock(hub.DefaultEpoch)
	run := filepath.Join(t.TempDir(), "run")
	sum, out := runLabDriven(t, text, Options{Dir: run, Clock: clock, Soak: soak}, func(ctx context.Context) {
		for ctx.Err() == nil {
			log, _ := os.ReadFile(filepath.Join(run, "lab.log"))
			if bytes.Contains(log, []byte("trigger-1: ")) {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		// The run arms its next bound only after the last one fired: step
		// to the soak's end again until the run is over.
		drv := hub.Driver{Clock: clock}
		for ctx.Err() == nil {
			drv.AdvanceTo(hub.DefaultEpoch.Add(soak), nil)
			time.Sleep(time.Millisecond)
		}
	})
	checkNothingLeft(t, sum)
	if want := (SoakSummary{Duration: ms(soak), Round: ms(time.Second), Rounds: 12, Passed: 2, Failed: 10}); sum.Soak == nil || *sum.Soak != want {
		t.Errorf("got soak %+v, want %+v", sum.Soak, want)
	}
	c := sum.Classification
	if sum.Result != ResultFail || c == nil || c.Code != "SOAK_TIMEOUT" || c.Phase != "soak" || c.VM != "a" || c.Marker != "tick" || c.At != ms(time.Second) {
		t.Errorf("got result %s, classification %+v, want fail: SOAK_TIMEOUT in the soak's first silent round, a's tick missing at 1s", sum.Result, c)
	}
	if len(sum.Phases) != 1 || sum.Phases[0].Status != PhaseOK {
		t.Errorf("got phases %+v, want beat ok", sum.Phases)
	}
	for _, want := range []string{"soak: 10s, the markers of phase beat again every 1s", "soak round 3: missing \"tick\" on a", "soak round 12: missing", "soak: 12 rounds, 10 failed"} {
		if !strings.Contains(out, want) {
			t.Errorf("the run printed no %q", want)
		}
	}
	txt, _ := os.ReadFile(filepath.Join(sum.Dir, "summary.txt"))
	if want := "soak: 10.0s in rounds of 1.0s: 12 rounds, 2 passed, 10 failed"; !strings.Contains(string(txt), want) {
		t.Errorf("got summary.txt:\n%s\nwant %q", txt, want)
	}
	if back, err := ReadSummary(sum.Dir); err != nil || back.Soak == nil || *back.Soak != *sum.Soak {
		t.Errorf("got summary.json's soak %+v (%v), want %+v", back.Soak, err, sum.Soak)
	}
	doc := readJUnit(t, filepath.Join(sum.Dir, "junit.xml"))
	var soakCase string
	for _, jc := range doc.Suites[0].Cases {
		if jc.Name == "soak" && jc.Failure != nil {
			soakCase = jc.Failure.Type + "|" + jc.Failure.Text
		}
	}
	if want := "SOAK_TIMEOUT|10 of 12 soak rounds failed"; soakCase != want {
		t.Errorf("got junit.xml's soak case %q, want %q", soakCase, want)
	}
}

// Every QEMU is stopped at the end: one that ignores SIGTERM is killed
// after the grace period.
func TestRunKillsAQEMUThatIgnoresSIGTERM(t *testing.T) {
	const text = `
name: stubborn
vms: [{name: a, mac: "52:54:00:00:00:0a", qemu: "${Q}", args: [-ignore-term, -say, up, -hang], expect: [{marker: up}]}]
`
	sum, _ := runLab(t, text, Options{})
	if sum.Result != ResultPass {
		t.Fatalf("got %s, want pass", sum.Result)
	}
	checkNothingLeft(t, sum)
	if got := sum.VMs[0].Exit; got != "signal: killed" {
		t.Errorf("got exit %q, want signal: killed", got)
	}
}

// An interrupted run (the runner's context cancelled, as Ctrl-C does)
// stops every QEMU, removes its sockets and still writes its summary, and
// its report, though no frame crossed the hub: the VMs' ports and their
// consoles' markers, no frame.
func TestRunInterrupted(t *testing.T) {
	dir := t.TempDir()
	text := `
name: interrupted
vms:
  - {name: a, mac: "52:54:00:00:00:0a", qemu: "${Q}", args: [-pidfile, "${RUN}/a.pid", -say, up, -hang], expect: [{marker: never}]}
  - {name: b, mac: "52:54:00:00:00:0b", qemu: "${Q}", args: [-ignore-term, -pidfile, "${RUN}/b.pid", -hang]}
`
	l, err := Parse("lab.yaml", dir, []byte(text), LoadOptions{Vars: map[string]string{"Q": fakeQEMU}})
	if err != nil {
		t.Fatal(err)
	}
	run := filepath.Join(dir, "run")
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		// Interrupt once both QEMUs run (their pid files exist).
		for ctx.Err() == nil {
			_, ea := os.Stat(filepath.Join(run, "a.pid"))
			_, eb := os.Stat(filepath.Join(run, "b.pid"))
			if ea == nil && eb == nil {
				cancel()
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	guard := time.AfterFunc(hangGuard, cancel)
	defer guard.Stop()
	sum, err := Run(ctx, l, Options{Dir: run, Grace: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Result != ResultInterrupted || !sum.Interrupt {
		t.Errorf("got result %s, want interrupted", sum.Result)
	}
	if len(sum.Expect) != 1 || sum.Expect[0].Status != StatusInterrupted {
		t.Errorf("got expects %+v, want a's \"never\" interrupted (it was being waited for)", sum.Expect)
	}
	if junit, err := os.ReadFile(filepath.Join(run, "junit.xml")); err != nil || !bytes.Contains(junit, []byte(`message="interrupted: the run was stopped while waiting for it (interrupted)"`)) {
		t.Errorf("got junit.xml %s (%v), want a's marker skipped as interrupted", junit, err)
	}
	checkNothingLeft(t, sum)
	if back, err := ReadSummary(run); err != nil || back.Result != ResultInterrupted {
		t.Errorf("got summary.json %+v, %v, want it written, interrupted", back, err)
	}
	if sum.Files["report"] != "report.html" || sum.Files["report_error"] != "" {
		t.Errorf("got files %v, want report.html and no report error", sum.Files)
	}
	page, err := os.ReadFile(filepath.Join(run, "report.html"))
	if err != nil || !bytes.Contains(page, []byte(`"ports":[{"name":"a"`)) {
		t.Errorf("got report.html of %d bytes (%v), want a page with port a", len(page), err)
	}
	m, err := report.Build(report.Options{Capture: filepath.Join(run, "capture.pcapng"), Consoles: []report.Console{{Port: "a", Path: filepath.Join(run, "a.log")}}})
	if err != nil {
		t.Fatalf("report of the capture with a's console: %v", err)
	}
	if len(m.Frames) != 0 || len(m.Ports) != 2 || !slices.ContainsFunc(m.Markers, func(mk report.Marker) bool { return mk.Text == "up" }) {
		t.Errorf("got %d frames, %d ports, markers %+v, want none, a and b, and a's \"up\"", len(m.Frames), len(m.Ports), m.Markers)
	}
}

// A report that cannot be drawn is said in the run's output and in the
// summary, and leaves no report.html, not even an empty one.
func TestRunReportError(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "capture.pcapng"), []byte("not a capture"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	clock := wallclock.Clock{}
	r := &runner{lab: &Lab{Name: "broken"}, opts: Options{Out: &out, Clock: clock}, dir: dir, start: clock.Now()}
	r.writeReport()
	if _, err := os.Stat(filepath.Join(dir, "report.html")); !os.IsNotExist(err) {
		t.Errorf("got report.html (%v), want none", err)
	}
	if r.reportErr == "" || !strings.Contains(out.String(), "report.html not written: ") || !strings.Contains(out.String(), r.reportErr) {
		t.Errorf("got report error %q, output %q, want the error printed", r.reportErr, out.String())
	}
	if sum := r.summarize(ResultPass, nil); sum.Files["report_error"] != r.reportErr || sum.Files["report"] != "" {
		t.Errorf("got files %v, want the report error and no report", sum.Files)
	}
}

// What the page leaves out is said in the run's output: here a console
// with no time-stamped line.
func TestRunReportWarnings(t *testing.T) {
	dir := t.TempDir()
	sink, err := capture.Open(capture.Config{Path: filepath.Join(dir, "capture.pcapng"), Overflow: capture.OverflowBlock, Meta: capture.Meta{Version: "test", Start: hub.DefaultEpoch}})
	if err != nil {
		t.Fatal(err)
	}
	sink.PortAdded(hub.PortInfo{ID: 0, Name: "a"})
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "a.log"), []byte("no time stamp here\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	clock := wallclock.Clock{}
	r := &runner{lab: &Lab{Name: "quiet"}, opts: Options{Out: &out, Clock: clock}, dir: dir, start: clock.Now(),
		vmInfo: []VMInfo{{Name: "a", Port: "a", PID: 1, Log: "a.log"}}}
	r.writeReport()
	if r.reportErr != "" {
		t.Fatalf("report error %q", r.reportErr)
	}
	if want := "report.html: warning: console a.log: no line with a time stamp was drawn"; !strings.Contains(out.String(), want) {
		t.Errorf("got output %q, want %q in it", out.String(), want)
	}
}

// The run fills in its variables: ${NETDEV} and ${MAC} where the args place
// the NIC themselves (nothing appended then), ${RUN}, ${SEED}, ${VM}; disks
// are made in the run directory; a console line too long is cut.
func TestRunArgsDisksAndLongLines(t *testing.T) {
	const text = `
name: args
seed: 7
vms:
  - name: a
    mac: 52:54:00:00:00:0a
    qemu: ${Q}
    nic: virtio-net-device
    args: [-args, -netdev, "${NETDEV}", -device, "virtio-net-device,netdev=n0,mac=${MAC}", -say, "vm=${VM} seed=${SEED} run=${RUN}", -long, "100000", -say, ready]
    disks: [{file: blk-a.img, size: 64M}]
    expect: [{marker: "/^ready$/"}]
`
	sum, _ := runLab(t, text, Options{Seed: 9, SeedSet: true})
	if sum.Result != ResultPass || sum.Seed != 9 {
		t.Fatalf("got %s with seed %d, want pass with --seed's 9", sum.Result, sum.Seed)
	}
	log, _ := os.ReadFile(filepath.Join(sum.Dir, "a.log"))
	abs, _ := filepath.Abs(sum.Dir)
	for _, want := range []string{
		"ARGS: -args -netdev stream,id=n0,server=off,addr.type=unix,addr.path=" + abs + "/a.sock -device virtio-net-device,netdev=n0,mac=52:54:00:00:00:0a -say",
		"vm=a seed=9 run=" + abs + "\n",
		fmt.Sprintf(" [%d more bytes of this line dropped]\n", 100000-maxLine),
	} {
		if !strings.Contains(string(log), want) {
			t.Errorf("a.log has no %q", want)
		}
	}
	if strings.Count(string(log), "-netdev") != 2 { // the command line and ARGS: nothing appended
		t.Errorf("got a.log:\n%.600s\nwant the lab's own -netdev only", log)
	}
	fi, err := os.Stat(filepath.Join(sum.Dir, "blk-a.img"))
	if err != nil || fi.Size() != 64<<20 {
		t.Errorf("got disk %v, %v, want blk-a.img of 64 MiB", fi, err)
	}
}

// The run's variables are bounded where they are filled in, as the
// file's are: ${RUN} many times over in a deep run directory is an error
// naming the argument, not a command line of megabytes.
func TestRunArgsBounded(t *testing.T) {
	l := mustParse(t, t.TempDir(), "name: x\nvms:\n  - {name: a, mac: \"52:54:00:00:00:0a\", qemu: q, args: [-m, \"64\", \""+
		strings.Repeat("${RUN}", 1000)+"\"], expect: [{marker: up}]}")
	r := &runner{lab: l, bound: map[string]transport.Spec{"a": {Name: "a", Transport: transport.Unix, Address: "/run/a.sock"}}}
	runDir := "/" + strings.Repeat("d", 100)
	_, err := r.args(0, runDir)
	const want = "VM a: args[2]: more than 8192 bytes once ${...} are filled in: at most 8192"
	if err == nil || err.Error() != want {
		t.Errorf("got args error %v, want %s", err, want)
	}
	r.lab.VMs[0].Args[2] = "${RUN}"
	if args, err := r.args(0, runDir); err != nil || args[2] != runDir {
		t.Errorf("got args %.200q, %v, want ${RUN} filled in", args, err)
	}
}

// A run directory whose path holds a comma: QEMU reads a comma in an
// option string's value as its end, so ${RUN} there has its commas doubled
// (as the hub's netdev has); after a flag whose value QEMU reads whole it
// is left alone; in a JSON value too.
func TestRunArgsRunDirComma(t *testing.T) {
	l := mustParse(t, t.TempDir(), `name: x
vms:
  - name: a
    mac: "52:54:00:00:00:0a"
    qemu: q
    args: [-drive, "file=${RUN}/blk.img,if=none,id=d0", --blockdev, "driver=file,node-name=f,filename=${RUN}/f.img", -kernel, "${RUN}/k",
           -device, '{"driver": "virtio-blk-pci", "drive": "d0", "serial": "${RUN}"}', -append, "log=${RUN}/x"]
    expect: [{marker: up}]
`)
	r := &runner{lab: l, bound: map[string]transport.Spec{"a": {Name: "a", Transport: transport.Unix, Address: "/runs/a,b/a.sock"}}}
	args, err := r.args(0, "/runs/a,b")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"-drive", "file=/runs/a,,b/blk.img,if=none,id=d0", "--blockdev", "driver=file,node-name=f,filename=/runs/a,,b/f.img", "-kernel", "/runs/a,b/k",
		"-device", `{"driver": "virtio-blk-pci", "drive": "d0", "serial": "/runs/a,b"}`, "-append", "log=/runs/a,b/x",
		"-netdev", "stream,id=n0,server=off,addr.type=unix,addr.path=/runs/a,,b/a.sock", "-device", "virtio-net-pci,netdev=n0,mac=52:54:00:00:00:0a"}
	if !slices.Equal(args, want) {
		t.Errorf("got args\n  %q\nwant\n  %q", args, want)
	}
}

// A run directory whose path holds a comma is refused before anything
// starts when a VM uses ${RUN} where l2hub cannot tell how QEMU reads the
// comma; where it can, or without ${RUN} there, the run goes ahead.
func TestRunRefusesACommaItCannotEscape(t *testing.T) {
	dir := t.TempDir()
	lab := func(args string) *Lab {
		return mustParse(t, dir, "name: x\nvms:\n  - {name: a, mac: \"52:54:00:00:00:0a\", qemu: q, args: ["+args+"], expect: [{marker: up}]}\n")
	}
	for _, tt := range []struct {
		args, dir, want string // want "" for no error
	}{
		{`-serial, "unix:${RUN}/s,server=on,wait=off"`, "/runs/a,b", `run directory /runs/a,b: its path holds a comma, and VM a's args[1] "unix:${RUN}/s,server=on,wait=off" after -serial uses ${RUN} where QEMU may read a comma as the end of the value`},
		{`-initrd, "${RUN}/initrd"`, "/runs/a,b", `VM a's args[1] "${RUN}/initrd" after -initrd uses ${RUN}`},
		{`-serial, "unix:${RUN}/s,server=on,wait=off"`, "/runs/ab", ""},
		{`-drive, "file=${RUN}/blk.img,if=none", -kernel, "${RUN}/k", -serial, stdio`, "/runs/a,b", ""},
	} {
		err := CheckOptions(lab(tt.args), Options{Dir: tt.dir})
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("args [%s] in %s: got CheckOptions error %v, want %q", tt.args, tt.dir, err, tt.want)
		}
	}
}

// The run's variables as QEMU sees them in a run directory with a comma:
// the disk the run made is the one the -drive option string names.
func TestRunInADirectoryWithAComma(t *testing.T) {
	const text = `
name: comma
vms:
  - name: a
    mac: 52:54:00:00:00:0a
    qemu: ${Q}
    args: [-args, -drive, "file=${RUN}/blk-a.img,if=none,format=raw", -say, ready]
    disks: [{file: blk-a.img, size: 1M}]
    expect: [{marker: "/^ready$/"}]   # not the -args line, which ends in "-say ready"
`
	dir := filepath.Join(t.TempDir(), "run,1")
	sum, _ := runLab(t, text, Options{Dir: dir})
	if sum.Result != ResultPass {
		t.Fatalf("got %s, want pass", sum.Result)
	}
	log, _ := os.ReadFile(filepath.Join(sum.Dir, "a.log"))
	abs, _ := filepath.Abs(dir)
	escaped := strings.ReplaceAll(abs, ",", ",,")
	for _, want := range []string{"ARGS: -args -drive file=" + escaped + "/blk-a.img,if=none,format=raw -say ready", "addr.path=" + escaped + "/a.sock"} {
		if !strings.Contains(string(log), want) {
			t.Errorf("got a.log:\n%.800s\nwant %q in it", log, want)
		}
	}
	if _, err := os.Stat(filepath.Join(abs, "blk-a.img")); err != nil {
		t.Errorf("the disk: %v", err)
	}
}

// Run refuses what it cannot do before starting anything.
func TestRunRefuses(t *testing.T) {
	dir := t.TempDir()
	l := mustParse(t, dir, "name: x\nvms: [{name: a, mac: \"52:54:00:00:00:0a\", qemu: q, expect: [{marker: up}]}]")
	full := filepath.Join(dir, "full")
	os.MkdirAll(full, 0o755)
	os.WriteFile(filepath.Join(full, "x"), nil, 0o644)
	for _, tt := range []struct {
		opts Options
		want string
	}{
		{Options{Until: "session"}, "--until session: no such phase (the lab has none)"},
		{Options{Soak: time.Second}, "--soak repeats the last phase's markers, and the lab has no phases"},
		{Options{Dir: full}, "is not empty"},
		{Options{Soak: -time.Second, Dir: filepath.Join(dir, "soak")}, "--soak -1s: must not be negative"},
		{Options{Grace: -time.Second, Dir: filepath.Join(dir, "grace")}, "--grace -1s: must not be negative (0 means the default 5s)"},
	} {
		if _, err := Run(context.Background(), l, tt.opts); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("got Run(%+v) error %v, want %q", tt.opts, err, tt.want)
		}
	}
}

// --repeat: one run per seed, a table of outcomes, the command that
// reruns each failing seed; --keep-failing removes the passing runs.
func TestRepeat(t *testing.T) {
	dir := t.TempDir()
	const text = `
name: flaky
vms:
  - name: a
    mac: 52:54:00:00:00:0a
    qemu: ${Q}
    args: [-say, "seed=${SEED}", -say, up]
    fail_on: ["/seed=(3|5)$/"]
    expect: [{marker: up}]
`
	l, err := Parse("lab.yaml", dir, []byte(text), LoadOptions{Vars: map[string]string{"Q": fakeQEMU}})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	root := filepath.Join(dir, "runs")
	runs, err := Repeat(context.Background(), l, Options{Out: &out, Dir: root, Seed: 2, SeedSet: true,
		Rerun: func(seed uint64, set bool) string { return fmt.Sprintf("l2hub lab lab.yaml --seed %d", seed) }}, 4, true)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range runs {
		got = append(got, fmt.Sprintf("%d:%s", s.Seed, s.Result))
		_, statErr := os.Stat(s.Dir)
		if kept := statErr == nil; kept != (s.Result != ResultPass) {
			t.Errorf("seed %d (%s): run directory kept = %v, want it kept only if it failed", s.Seed, s.Result, kept)
		}
	}
	if want := "2:pass 3:fail 4:pass 5:fail"; strings.Join(got, " ") != want {
		t.Errorf("got runs %v, want %s", got, want)
	}
	table := out.String()
	for _, want := range []string{"RUN  SEED  RESULT", "2 of 4 runs failed", "  l2hub lab lab.yaml --seed 3\n  l2hub lab lab.yaml --seed 5\n"} {
		if !strings.Contains(table, want) {
			t.Errorf("got output\n%s\nwant %q", table, want)
		}
	}
	// One junit.xml beside the runs: a suite per seed, the passing runs'
	// too, though their directories are gone.
	var doc junitSuites
	data, err := os.ReadFile(filepath.Join(root, "junit.xml"))
	if err := cmp.Or(err, xml.Unmarshal(data, &doc)); err != nil {
		t.Fatalf("junit.xml of the runs: %v", err)
	}
	var suites []string
	for _, s := range doc.Suites {
		suites = append(suites, fmt.Sprintf("%s:%d/%d", s.Name, s.Failures, s.Tests))
	}
	if want := []string{"flaky seed 2:0/1", "flaky seed 3:2/2", "flaky seed 4:0/1", "flaky seed 5:2/2"}; !slices.Equal(suites, want) || doc.Failures != 4 || doc.Tests != 6 {
		t.Errorf("got suites %q (%d failures in %d tests), want %q", suites, doc.Failures, doc.Tests, want)
	}
	// A run_dir property names a directory that is there: the failing
	// runs', not the removed ones'.
	for _, s := range doc.Suites {
		for _, p := range s.Properties {
			if _, err := os.Stat(p.Value); p.Name == "run_dir" && err != nil {
				t.Errorf("suite %s: got run_dir %s, which --keep-failing removed", s.Name, p.Value)
			}
		}
	}
}

// A --repeat whose first run cannot be set up writes a junit.xml that
// says so, as a case in error: not an empty, green document beside the
// error.
func TestRepeatSetupError(t *testing.T) {
	dir := t.TempDir()
	l, err := Parse("lab.yaml", dir, []byte(`
name: broken
vms: [{name: a, mac: "52:54:00:00:00:0a", qemu: "${Q}", expect: [{marker: up}]}]
`), LoadOptions{Vars: map[string]string{"Q": fakeQEMU}})
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(dir, "runs")
	_, err = Repeat(context.Background(), l, Options{Dir: root, Seed: 4, SeedSet: true, Grace: -time.Second}, 3, false)
	if err == nil {
		t.Fatal("got no error from runs that cannot be set up")
	}
	var doc junitSuites
	data, rerr := os.ReadFile(filepath.Join(root, "junit.xml"))
	if err := cmp.Or(rerr, xml.Unmarshal(data, &doc)); err != nil {
		t.Fatalf("junit.xml of the runs: %v", err)
	}
	if len(doc.Suites) != 1 || doc.Errors != 1 || doc.Failures != 0 || doc.Suites[0].Name != "broken seed 4" || len(doc.Suites[0].Cases) != 1 {
		t.Fatalf("got junit.xml\n%s\nwant one suite, broken seed 4, with one case in error", data)
	}
	if f := doc.Suites[0].Cases[0].Error; f == nil || f.Type != "ERROR" || !strings.Contains(f.Text, err.Error()) {
		t.Errorf("got the case's error %+v, want an ERROR holding %q", f, err)
	}
}

// stampedLine is a console log line: seconds since the run's start, then
// the text.
var stampedLine = regexp.MustCompile(`^ *[0-9]+\.[0-9]{3} `)

// ingressVerdicts lists a capture's ingress records as "port: comment".
func ingressVerdicts(t *testing.T, path string) []string {
	t.Helper()
	var out []string
	for _, p := range capturetest.Packets(t, path) {
		if p.Dir == capture.DirIn {
			out = append(out, p.IfName+": "+p.Comment)
		}
	}
	return out
}

// A marker in a prompt, a line without its newline that the guest then
// waits behind, is seen: once the console is quiet after it, the line so
// far is matched.
func TestRunPrompt(t *testing.T) {
	const text = `
name: prompt
timeout: 60s
vms:
  - {name: a, mac: "52:54:00:00:00:0a", qemu: "${Q}", args: [-say, booting, -print, "login: ", -hang], expect: [{marker: "login:"}]}
`
	sum, _ := runLab(t, text, Options{})
	if sum.Result != ResultPass {
		t.Fatalf("got %s (classification %+v), want pass: the prompt holds the marker", sum.Result, sum.Classification)
	}
	if e := sum.Expect[0]; e.Line != 2 || e.Text != "login: " {
		t.Errorf("got the marker %+v, want it on line 2, \"login: \"", e)
	}
	checkNothingLeft(t, sum)
}

// A marker in a prompt does not end the run before fail_on has seen the
// rest of its line: the guest prints "GUEST: selftest ", runs its test
// (the console quiet meanwhile), then "FAIL (3 errors)" on the same line.
// The clock is virtual: it moves past the prompt's quiet, and stands
// while the test goes on and its verdict is read.
func TestRunPromptThenFailOn(t *testing.T) {
	const text = `
name: promptfail
timeout: 60s
vms:
  - name: a
    mac: "52:54:00:00:00:0a"
    qemu: "${Q}"
    args: [-say, booting, -print, "GUEST: selftest ", -wait-file, "${RUN}/../go", -say, "FAIL (3 errors)", -hang]
    expect: [{marker: "GUEST: selftest"}]
    fail_on: [FAIL]
`
	clock := hub.NewVirtualClock(hub.DefaultEpoch)
	tmp := t.TempDir()
	run := filepath.Join(tmp, "run")
	sum, _ := runLabDriven(t, text, Options{Dir: run, Clock: clock}, func(ctx context.Context) {
		// The run's timeout and the console's quiet timer are armed once
		// the prompt is read; past the quiet, the prompt is matched.
		for ctx.Err() == nil && clock.Pending() < 2 {
			time.Sleep(5 * time.Millisecond)
		}
		drv := hub.Driver{Clock: clock}
		drv.AdvanceTo(hub.DefaultEpoch.Add(promptQuiet), nil)
		for ctx.Err() == nil {
			log, _ := os.ReadFile(filepath.Join(run, "lab.log"))
			if bytes.Contains(log, []byte("(expect 1/1)")) {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		os.WriteFile(filepath.Join(tmp, "go"), nil, 0o644) // the test's verdict
	})
	c := sum.Classification
	if sum.Result != ResultFail || c == nil || c.Code != "FAIL_ON" || !strings.Contains(c.Line, "GUEST: selftest FAIL (3 errors)") {
		t.Errorf("got %s (classification %+v), want FAIL_ON on the prompt's whole line", sum.Result, c)
	}
	checkNothingLeft(t, sum)
}

// A prompt printed 150 ms before its marker's bound counts in time: it is
// stamped when it was printed, and the bound, which falls in the quiet
// the prompt waits for, is judged after it. The clock is virtual: it
// stands at 850 ms while the guest prints, then moves past the bound and
// the quiet, then on to the run's end.
func TestRunPromptBeforeItsBound(t *testing.T) {
	const text = `
name: promptbound
timeout: 60s
vms:
  - {name: a, mac: "52:54:00:00:00:0a", qemu: "${Q}", args: [-wait-file, "${RUN}/../go", -print, "login: ", -hang], expect: [{marker: "login:", within: 1s}]}
`
	clock := hub.NewVirtualClock(hub.DefaultEpoch)
	tmp := t.TempDir()
	run := filepath.Join(tmp, "run")
	sum, _ := runLabDriven(t, text, Options{Dir: run, Clock: clock}, func(ctx context.Context) {
		for ctx.Err() == nil && clock.Pending() < 1 { // the bound's timer: the loop runs
			time.Sleep(5 * time.Millisecond)
		}
		drv := hub.Driver{Clock: clock}
		drv.AdvanceTo(hub.DefaultEpoch.Add(850*time.Millisecond), nil)
		os.WriteFile(filepath.Join(tmp, "go"), nil, 0o644)
		for ctx.Err() == nil && clock.Pending() < 2 { // the console's quiet timer: the prompt is read
			time.Sleep(5 * time.Millisecond)
		}
		for ctx.Err() == nil {
			drv.AdvanceTo(hub.DefaultEpoch.Add(5*time.Second), nil)
			time.Sleep(time.Millisecond)
		}
	})
	if sum.Result != ResultPass {
		t.Fatalf("got %s (classification %+v), want pass: the prompt came before the bound", sum.Result, sum.Classification)
	}
	if at := sum.Expect[0].At; at == nil || *at != ms(850*time.Millisecond) {
		t.Errorf("got the marker at %v, want 850ms, when the prompt was printed", at)
	}
	checkNothingLeft(t, sum)
}

// A lab run from another directory binds the hub's relative socket paths
// beside the lab file, where its QEMU, run there, dials them: the fake
// sends a frame through port t before it prints its marker.
func TestRunFromAnotherDirectory(t *testing.T) {
	t.Chdir(t.TempDir())
	const text = `
name: elsewhere
hub:
  control: my-ctl.sock
  ports: [{name: t, transport: unix, address: t.sock}]
vms:
  - {name: a, mac: "52:54:00:00:00:0a", qemu: "${Q}", port: t, args: [-frame, arp, -say, "GUEST: sent", -hang], expect: [{marker: "GUEST: sent"}]}
`
	sum, out := runLab(t, text, Options{})
	if sum.Result != ResultPass {
		t.Fatalf("got %s (classification %+v), want pass", sum.Result, sum.Classification)
	}
	labDir := filepath.Dir(sum.Dir)
	for _, want := range []string{"ports t (unix " + filepath.Join(labDir, "t.sock") + ")", "control API " + filepath.Join(labDir, "my-ctl.sock")} {
		if !strings.Contains(out, want) {
			t.Errorf("the run printed no %q", want)
		}
	}
	checkNothingLeft(t, sum)
}

// A budget overrun followed by a timeout: the timeout ended the run, and
// gets the wire's hint as the classification (the budget) does.
func TestRunBudgetThenTimeoutHasAHint(t *testing.T) {
	const text = `
name: bud
timeout: 60s
vms:
  - {name: a, mac: "52:54:00:00:00:0a", qemu: "${Q}", args: [-sleep, 300ms, -say, "p1 ok", -frames, arp, "3", 10ms, -hang]}
  - {name: b, mac: "52:54:00:00:00:0b", qemu: "${Q}", args: [-say, "p1 ok", -frame, arp, -hang]}
phases:
  - {name: one, markers: {a: "p1 ok", b: "p1 ok"}, within: 30s, budget: 50ms}
  - {name: two, markers: {a: "p2 ok"}, within: 500ms}
`
	sum, _ := runLab(t, text, Options{})
	if len(sum.Failures) != 2 || sum.Failures[0].Code != "ONE_BUDGET" || sum.Failures[1].Code != "TWO_TIMEOUT" {
		t.Fatalf("got failures %+v, want ONE_BUDGET then TWO_TIMEOUT", sum.Failures)
	}
	if sum.Failures[1].Hint == nil {
		t.Errorf("got TWO_TIMEOUT with no wire hint, want one")
	}
	if m := sum.Phases[1].Markers[0]; m.Status != StatusMissing {
		t.Errorf("got phase two's marker %s, want missing", m.Status)
	}
}

// An at: heal due before the marker that makes its partition does
// nothing: the hub is never asked to heal a partition it does not have,
// the run passes, and the partition, made later, lasts its whole for:.
func TestRunHealBeforeItsPartition(t *testing.T) {
	const text = `
name: healfirst
timeout: 60s
vms:
  - {name: a, mac: "52:54:00:00:00:0a", qemu: "${Q}", args: [-sleep, 500ms, -say, "handshake ok", -frame, arp, -sleep, 600ms, -say, "done ok", -hang], expect: [{marker: "done ok"}]}
  - {name: b, mac: "52:54:00:00:00:0b", qemu: "${Q}", args: [-hang]}
triggers:
  - {name: cut, on: "a: handshake ok", do: "partition a|b", for: 300ms}
  - {at: 100ms, do: "heal cut"}
`
	sum, _ := runLab(t, text, Options{})
	if sum.Result != ResultPass {
		t.Fatalf("got result %s, failures %+v, want pass", sum.Result, sum.Failures)
	}
	cut, heal := sum.Triggers[0], sum.Triggers[1]
	if cut.Status != TriggerFired || heal.Status != StatusNotReached {
		t.Errorf("got trigger statuses %q, %q, want fired, not reached", cut.Status, heal.Status)
	}
	if !strings.Contains(heal.Note, "before partition cut was made") {
		t.Errorf("got the heal's note %q, want that it came before the partition", heal.Note)
	}
	// Its for: undoes it, if the run is not done first (a loaded
	// machine), no sooner than 300ms after it was made.
	if cut.UndoneAt != nil && (cut.FiredAt == nil || time.Duration(*cut.UndoneAt-*cut.FiredAt) < 300*time.Millisecond) {
		t.Errorf("got cut fired at %v, undone at %v, want it undone 300ms or more after", cut.FiredAt, cut.UndoneAt)
	}
	checkNothingLeft(t, sum)
}

// The summary files that cannot be written (a full disk; here a directory
// in the way of each) are said in the run's output, each with its error.
func TestRunSummaryWriteErrors(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"summary.json", "junit.xml"} {
		if err := os.Mkdir(filepath.Join(dir, name), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	var out bytes.Buffer
	clock := wallclock.Clock{}
	r := &runner{lab: &Lab{Name: "full"}, opts: Options{Out: &out, Clock: clock}, dir: dir, start: clock.Now()}
	r.write(r.summarize(ResultPass, nil))
	for _, want := range []string{"summary.json not written: ", "junit.xml not written: "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("got output\n%s\nwant %q", out.String(), want)
		}
	}
	if strings.Contains(out.String(), "summary.txt not written") {
		t.Errorf("got output\n%s\nwant summary.txt written", out.String())
	}
}
