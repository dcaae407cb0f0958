//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"l2hub/capture"
	"l2hub/e2e/qemu"
	"l2hub/lab"
)

// labGuard bounds one `l2hub lab` run: the lab files' own timeout is
// 300 s; reaching this means the runner hangs. It decides no pass.
const labGuard = 8 * time.Minute

// labArgs are the arguments of `l2hub lab FILE` for a lab file of
// testdata/labs with the suite's guest, QEMU and accelerator, into out.
func labArgs(file, out string, more ...string) []string {
	accel := os.Getenv(envAccel)
	if accel == "" {
		accel = "tcg"
	}
	args := []string{"lab", filepath.Join(suite.Root, "testdata", "labs", file), "--out", out,
		"--var", "GUEST=" + suite.Guest, "--var", "QEMU=" + suite.QEMU, "--var", "ACCEL=" + accel}
	return append(args, more...)
}

// runLab runs `l2hub lab` to its end and returns what it printed and its
// exit status.
func runLab(t *testing.T, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), labGuard)
	defer cancel()
	cmd := exec.CommandContext(ctx, suite.Hub, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := qemu.StartTied(cmd) // a lab killed so kills its QEMUs: its watchdogs see to that
	if err == nil {
		err = cmd.Wait()
	}
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("l2hub %s: %v\n%s", strings.Join(args, " "), err, out.String())
	}
	t.Logf("l2hub %s: exit %d\n%s", strings.Join(args, " "), code, out.String())
	return out.String(), code
}

// requireLab skips t where guests cannot run and fails it when the guest
// or l2hub did not build.
func requireLab(t *testing.T) {
	t.Helper()
	requireCheck(t, "nexus")
	requireHub(t)
}

func readSummary(t *testing.T, dir string) *lab.Summary {
	t.Helper()
	s, err := lab.ReadSummary(dir)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// junitCounts reads junit.xml's totals and every failure's type and text.
func junitCounts(t *testing.T, dir string) (tests, failures int, texts []string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "junit.xml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Suites   []struct {
			Cases []struct {
				Name    string `xml:"name,attr"`
				Failure *struct {
					Type string `xml:"type,attr"`
					Text string `xml:",chardata"`
				} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("junit.xml: %v", err)
	}
	for _, s := range doc.Suites {
		for _, c := range s.Cases {
			if c.Failure != nil {
				texts = append(texts, c.Name+": "+c.Failure.Type+"\n"+c.Failure.Text)
			}
		}
	}
	return doc.Tests, doc.Failures, texts
}

// TestLabPair: the project's guests as a lab (testdata/labs/pair.yaml)
// boot through the hub, every marker and phase is reported, and the run
// exits 0 with its run directory complete.
func TestLabPair(t *testing.T) {
	requireLab(t)
	t.Parallel()
	dir := filepath.Join(artifacts(t), "run")
	out, code := runLab(t, labArgs("pair.yaml", dir)...)
	if code != 0 {
		t.Fatalf("got exit %d, want 0", code)
	}
	s := readSummary(t, dir)
	if s.Result != lab.ResultPass || s.Classification != nil {
		t.Errorf("got result %s, classification %+v, want pass", s.Result, s.Classification)
	}
	// pair.yaml has an expect marker per VM and six phases; fewer would
	// make the checks below, and junit.xml's count, pass on less.
	if len(s.Expect) != 2 || len(s.Phases) != 6 {
		t.Errorf("got %d expect markers and %d phases in the summary, want 2 and 6", len(s.Expect), len(s.Phases))
	}
	for _, m := range s.Expect {
		if m.Status != lab.StatusOK || !strings.Contains(out, m.VM+": "+m.Text) {
			t.Errorf("expect %s %q: %s, and printed = %v; want ok and printed", m.VM, m.Marker, m.Status, strings.Contains(out, m.Text))
		}
	}
	for _, p := range s.Phases {
		if p.Status != lab.PhaseOK || !strings.Contains(out, "phase "+p.Name+" ok") {
			t.Errorf("phase %s: %s, want ok and printed", p.Name, p.Status)
		}
	}
	for _, f := range []string{"a.log", "b.log", "hub.log", "capture.pcapng", "check.txt", "summary.json", "summary.txt", "junit.xml", "report.html"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("run directory: %v", err)
		}
	}
	if tests, failures, _ := junitCounts(t, dir); failures != 0 || tests != 2+2*len(s.Phases)+len(s.Phases) {
		t.Errorf("got junit.xml with %d tests and %d failures, want %d and none", tests, failures, 2+3*len(s.Phases))
	}
	if s.Check == nil || !s.Check.OK {
		t.Errorf("got check %+v, want the nexus-v1 checker passing the capture", s.Check)
	}
	checkNoQEMU(t, s)
}

// TestLabPartitioned: the same lab with a partition that never heals
// fails with exit 1, naming the missing marker, the VM and a wire hint,
// and junit.xml records it.
func TestLabPartitioned(t *testing.T) {
	requireLab(t)
	t.Parallel()
	dir := filepath.Join(artifacts(t), "run")
	out, code := runLab(t, labArgs("pair-partitioned.yaml", dir)...)
	if code != 1 {
		t.Errorf("got exit %d, want 1", code)
	}
	s := readSummary(t, dir)
	c := s.Classification
	if s.Result != lab.ResultFail || c == nil {
		t.Fatalf("got result %s, classification %+v, want a classified failure", s.Result, c)
	}
	const missing = "GUEST: nexus session ok node-a"
	if c.Code != "SESSION_TIMEOUT" || c.Phase != "session" || c.VM != "a" || c.Marker != missing {
		t.Errorf("got %s in phase %s, VM %q, missing %q; want SESSION_TIMEOUT in session, VM a, missing %q", c.Code, c.Phase, c.VM, c.Marker, missing)
	}
	if c.Hint == nil || len(c.Hint.Drops) == 0 || c.Hint.Drops[0].Rule != "partition trigger-1" ||
		!strings.Contains(c.Hint.Text, "dropped by partition trigger-1") {
		t.Errorf("got hint %+v, want the partition's drops", c.Hint)
	}
	for _, want := range []string{"failure: SESSION_TIMEOUT (phase session, VM a", `missing marker: "` + missing + `"`, "wire: ", "dropped by partition trigger-1"} {
		if !strings.Contains(out, want) {
			t.Errorf("the run printed no %q", want)
		}
	}
	_, failures, texts := junitCounts(t, dir)
	joined := strings.Join(texts, "\n")
	if failures == 0 || !strings.Contains(joined, "SESSION_TIMEOUT") || !strings.Contains(joined, missing) || !strings.Contains(joined, "a.log") {
		t.Errorf("got junit.xml failures:\n%s\nwant SESSION_TIMEOUT with the missing marker and a's console", joined)
	}
	// report.html draws the partition as a band across a and b that never
	// heals, and the VM that missed its marker as a lifeline with its
	// console's markers, the missing one not among them.
	page := readReportPage(t, filepath.Join(dir, "report.html"))
	if s.Files["report"] != "report.html" || page.Title != "l2hub lab "+s.Lab {
		t.Errorf("got files %v and a page titled %q, want report.html recorded, the lab's page", s.Files, page.Title)
	}
	port := map[string]int{}
	for i, p := range page.Ports {
		port[p.Name] = i
	}
	a, okA := port[c.VM]
	b, okB := port["b"]
	if !okA || !okB || !slices.Equal(page.Ports[a].Logs, []string{"a.log"}) {
		t.Fatalf("got the page's ports %+v, want a (with a.log) and b", page.Ports)
	}
	var band *reportBand
	for i := range page.Bands {
		if page.Bands[i].Name == "trigger-1" {
			band = &page.Bands[i]
		}
	}
	if band == nil || band.Kind != "partition" || band.Spec != "a|b" || !slices.Equal(band.Ports, []int{min(a, b), max(a, b)}) ||
		band.Drops == 0 || band.Healed != 0 || !band.Control || band.Ended != 0 {
		t.Errorf("got bands %+v, want partition trigger-1 a|b across a and b, with drops, started through the control API and never healed", page.Bands)
	}
	var onA []string
	for _, mk := range page.Markers {
		if len(mk) >= 3 && mk[0] == float64(a) {
			text, _ := mk[2].(string)
			onA = append(onA, text)
		}
	}
	if !slices.ContainsFunc(onA, func(m string) bool { return strings.Contains(m, "GUEST: up") }) || slices.ContainsFunc(onA, func(m string) bool { return strings.Contains(m, missing) }) {
		t.Errorf("got a's markers on the page %q, want its console's (GUEST: up) and not the missing %q", onA, missing)
	}
	checkNoQEMU(t, s)
}

// reportPage is what report.html's script draws from: the JSON the page
// carries (package report's pageData), in the parts the lab tests read.
type reportPage struct {
	Title string `json:"title"`
	Ports []struct {
		Name string   `json:"name"`
		Logs []string `json:"logs"`
	} `json:"ports"`
	Bands   []reportBand `json:"bands"`
	Markers [][]any      `json:"markers"` // [port, time, text, class, line, log]
}

type reportBand struct {
	Kind    string `json:"kind"`
	Name    string `json:"name"`
	Spec    string `json:"spec"`
	Ports   []int  `json:"ports"`
	Drops   int    `json:"drops"`
	Healed  int    `json:"healed"`
	Control bool   `json:"control"`
	Ended   int64  `json:"ended"`
}

// readReportPage reads the data of a report page the lab runner wrote.
func readReportPage(t *testing.T, path string) *reportPage {
	t.Helper()
	html, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("run directory: %v", err)
	}
	const open = `<script type="application/json" id="l2hub-data">`
	_, rest, ok := bytes.Cut(html, []byte(open))
	data, _, ok2 := bytes.Cut(rest, []byte("</script>"))
	if !ok || !ok2 {
		t.Fatalf("%s: no data script in the page", path)
	}
	var p reportPage
	if err := json.Unmarshal(data, &p); err != nil {
		t.Fatalf("%s: page data: %v", path, err)
	}
	return &p
}

// TestLabTrigger: a marker trigger partitions a|b when node-a's handshake
// is done and heals it 3 s later; the lab passes, and the capture shows
// the partition's drops after the marker, between the notes of the
// partition's start and its heal.
func TestLabTrigger(t *testing.T) {
	requireLab(t)
	t.Parallel()
	dir := filepath.Join(artifacts(t), "run")
	_, code := runLab(t, labArgs("pair-trigger.yaml", dir)...)
	s := readSummary(t, dir)
	if code != 0 || s.Result != lab.ResultPass {
		t.Errorf("got exit %d, result %s (%+v), want a pass", code, s.Result, s.Classification)
	}
	if len(s.Triggers) != 1 {
		t.Fatalf("got %d triggers in the summary, want 1", len(s.Triggers))
	}
	tr := s.Triggers[0]
	if !tr.Fired || !tr.Undone || tr.FiredAt == nil || !strings.Contains(tr.Line, "GUEST: nexus session ok node-a") {
		t.Fatalf("got trigger %+v, want it fired on node-a's session marker and undone", tr)
	}
	// When a printed the marker, by its console log's stamp.
	markerAt := consoleStamp(t, filepath.Join(dir, "a.log"), "GUEST: nexus session ok node-a")
	var started, healed, drops, early, outside int
	f, err := os.Open(filepath.Join(dir, "capture.pcapng"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := capture.NewReader(f, capture.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for p, err := range r.All() {
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case strings.Contains(p.Comment, "partition trigger-1 started: a|b"):
			started = p.Number
		case strings.Contains(p.Comment, "partition trigger-1 healed"):
			healed = p.Number
		}
		if strings.Contains(p.Comment, "rule trigger-1: partition") {
			drops++
			if p.Time.Sub(s.Started) < markerAt {
				early++
			}
			if started == 0 || healed != 0 {
				outside++
			}
		}
	}
	t.Logf("marker at %v; partition started at frame %d, healed at frame %d; %d drops", markerAt, started, healed, drops)
	if drops == 0 || started == 0 || healed == 0 || early+outside > 0 {
		t.Errorf("got %d partition drops (%d before the marker, %d outside frames %d..%d), want some, all after the marker and before the heal",
			drops, early, outside, started, healed)
	}
	if haveTshark(t, "capture's partition drops") {
		if n := tsharkCount(t, filepath.Join(dir, "capture.pcapng"), `frame.comment contains "rule trigger-1: partition"`); n != drops {
			t.Errorf("tshark finds %d partition drops, the capture reader %d", n, drops)
		}
	}
	checkNoQEMU(t, s)
}

// consoleStamp returns the stamp (time since the run's start) of the first
// line of a console log that holds marker.
func consoleStamp(t *testing.T, log, marker string) time.Duration {
	t.Helper()
	f, err := os.Open(log)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || !strings.Contains(line, marker) {
			continue
		}
		secs, err := strconv.ParseFloat(strings.Fields(line)[0], 64)
		if err != nil {
			t.Fatalf("%s: %q has no stamp", log, line)
		}
		return time.Duration(secs * float64(time.Second))
	}
	t.Fatalf("%s has no %q", log, marker)
	return 0
}

// TestLabRepeat: --repeat 3 runs the lab with three seeds and prints the
// table of outcomes. Up to the boot phase, to keep it short.
func TestLabRepeat(t *testing.T) {
	requireLab(t)
	t.Parallel()
	dir := filepath.Join(artifacts(t), "runs")
	out, code := runLab(t, labArgs("pair.yaml", dir, "--repeat", "3", "--seed", "11", "--until", "boot")...)
	if code != 0 {
		t.Errorf("got exit %d, want 0", code)
	}
	rows := regexp.MustCompile(`(?m)^([123])\s+(1[123])\s+pass\s`).FindAllStringSubmatch(out, -1)
	if len(rows) != 3 || !strings.Contains(out, "RUN  SEED  RESULT") || !strings.Contains(out, "0 of 3 runs failed") {
		t.Errorf("got rows %v, want the table with runs 1-3, seeds 11-13, all passed", rows)
	}
	for _, seed := range []string{"11", "12", "13"} {
		if s := readSummary(t, filepath.Join(dir, "seed-"+seed)); s.Result != lab.ResultPass || s.Until != "boot" {
			t.Errorf("seed %s: got %s until %q, want pass until boot", seed, s.Result, s.Until)
		}
	}
}

// TestLabInterrupted: SIGINT to a running `l2hub lab` (Ctrl-C) stops its
// QEMUs, removes its sockets and still writes the summary; no QEMU of the
// run is left.
func TestLabInterrupted(t *testing.T) {
	requireLab(t)
	t.Parallel()
	dir := filepath.Join(artifacts(t), "run")
	cmd := exec.Command(suite.Hub, labArgs("pair.yaml", dir)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := qemu.StartTied(cmd); err != nil {
		t.Fatal(err)
	}
	guard := time.AfterFunc(labGuard, func() { cmd.Process.Kill() })
	defer guard.Stop()
	// Interrupt once both guests are up: both QEMUs run and talk to the hub.
	var out strings.Builder
	sc := bufio.NewScanner(stdout)
	ups := 0
	var pids []int
	pidRE := regexp.MustCompile(`QEMU started \(pid (\d+)`)
	for ups < 2 && sc.Scan() {
		line := sc.Text()
		out.WriteString(line + "\n")
		if m := pidRE.FindStringSubmatch(line); m != nil {
			pid, _ := strconv.Atoi(m[1])
			pids = append(pids, pid)
		}
		if strings.Contains(line, "GUEST: up") {
			ups++
		}
	}
	if ups < 2 {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("the guests did not come up:\n%s", out.String())
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	rest, _ := io.ReadAll(stdout)
	out.Write(rest)
	err = cmd.Wait()
	t.Logf("after SIGINT:\n%s", out.String())
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Errorf("got %v, want exit status 1", err)
	}
	s := readSummary(t, dir)
	if s.Result != lab.ResultInterrupted {
		t.Errorf("got result %s, want interrupted", s.Result)
	}
	if len(pids) != 2 {
		t.Errorf("got QEMU pids %v, want two", pids)
	}
	for _, pid := range pids {
		if syscall.Kill(pid, 0) == nil {
			t.Errorf("QEMU pid %d still runs", pid)
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	checkNoQEMU(t, s)
}

// checkNoQEMU fails t if a QEMU of this run still runs (by the pids the
// summary records, or a command line naming the run directory) or a
// socket of it is left.
func checkNoQEMU(t *testing.T, s *lab.Summary) {
	t.Helper()
	for _, vm := range s.VMs {
		if vm.PID > 0 && syscall.Kill(vm.PID, 0) == nil {
			t.Errorf("VM %s's QEMU (pid %d) still runs", vm.Name, vm.PID)
			syscall.Kill(vm.PID, syscall.SIGKILL)
		}
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		cmdline := strings.ReplaceAll(string(data), "\x00", " ")
		if strings.Contains(cmdline, "qemu") && strings.Contains(cmdline, s.Dir+"/") {
			t.Errorf("a QEMU of the run still runs: %s: %s", p, cmdline)
		}
	}
	if socks, _ := filepath.Glob(filepath.Join(s.Dir, "*.sock")); len(socks) > 0 {
		t.Errorf("sockets left in the run directory: %v", socks)
	}
}
