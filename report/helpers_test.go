package report

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the layout goldens in testdata/")

// Captures of the repository the layout tests read.
const (
	failingRun   = "testdata/failing-run.pcapng" // e2e TestReplayFailedRun: partition a|b from the first SYN, never healed
	scenario     = "../capture/testdata/scenario.pcapng"
	hubScenario  = "../capture/testdata/hubtest-scenario.pcapng"
	replayRun    = "../replay/testdata/l2hub-capture.pcapng"
	perVMPcap    = "../replay/testdata/packets-A.pcap"
	healthyNexus = "../conformance/checker/testdata/healthy.pcapng"
	wrongKey     = "../conformance/checker/testdata/wrong-key.pcapng"
)

func build(t *testing.T, opts Options) *Model {
	t.Helper()
	m, err := Build(opts)
	if err != nil {
		t.Fatalf("Build(%s): %v", opts.Capture, err)
	}
	return m
}

// portName names lifeline p of m as the tests print it: "hub" for -1, a
// frame from the hub itself.
func portName(m *Model, p int) string {
	if p < 0 {
		return "hub"
	}
	return m.Ports[p].Name
}

// describe renders the layout model as text, one line per arrow, group,
// band and marker, for goldens a person can read.
func describe(m *Model) string {
	var b strings.Builder
	ms := func(d time.Duration) string { return fmt.Sprintf("%.6fs", d.Seconds()) }
	fmt.Fprintf(&b, "title %q, %d records, start %s, duration %s, inferred %v\n", m.Title, m.Records, m.Start.Format(time.RFC3339Nano), ms(m.Duration), m.Inferred)
	for _, p := range m.Ports {
		fmt.Fprintf(&b, "port %s %q consoles %v\n", p.Name, p.Description, p.Consoles)
	}
	for _, w := range m.Warnings {
		fmt.Fprintf(&b, "warning %s\n", w)
	}
	for i, f := range m.Frames {
		fmt.Fprintf(&b, "frame %d #%d %s %s %s %q len %d", i, f.Number, ms(f.Time), portName(m, f.From), f.Label.Proto, f.Label.Text, f.Len)
		if f.Group >= 0 {
			fmt.Fprintf(&b, " group %d", f.Group)
		}
		b.WriteString("\n")
		for _, d := range f.Deliveries {
			fmt.Fprintf(&b, "  -> %s #%d %s", portName(m, d.To), d.Number, ms(d.Time))
			for bit, k := range kindNames {
				if d.Kind&(1<<bit) != 0 {
					b.WriteString(" " + k)
				}
			}
			if d.Overtook > 0 {
				fmt.Fprintf(&b, " overtook #%d", d.Overtook)
			}
			b.WriteString("\n")
		}
		for _, d := range f.Drops {
			fmt.Fprintf(&b, "  x %s #%d %q\n", portName(m, d.To), d.Number, d.Reason)
		}
		for _, fi := range f.Findings {
			fmt.Fprintf(&b, "  pin %s %s\n", m.Findings[fi].Verdict, m.Findings[fi].ID)
		}
		for _, n := range f.Copies {
			fmt.Fprintf(&b, "  copy #%d\n", n)
		}
	}
	for i, g := range m.Groups {
		to := make([]string, len(g.To))
		for j, p := range g.To {
			to[j] = portName(m, p)
		}
		fmt.Fprintf(&b, "group %d %s %q x%d #%d..#%d %s..%s to [%s] drop %q\n", i, portName(m, g.From), g.Label, len(g.Frames), g.First, g.Last, ms(g.Start), ms(g.End), strings.Join(to, " "), g.Drop)
	}
	for _, bd := range m.Bands {
		ports := make([]string, len(bd.Ports))
		for j, p := range bd.Ports {
			ports[j] = portName(m, p)
		}
		fmt.Fprintf(&b, "band %s %s %q ports [%s] %s..%s drops %d #%d..#%d healed #%d at %s\n", bd.Kind, bd.Name, bd.Spec, strings.Join(ports, " "), ms(bd.Start), ms(bd.End), bd.Drops, bd.First, bd.Last, bd.Healed, ms(bd.HealedAt))
	}
	for _, mk := range m.Markers {
		fmt.Fprintf(&b, "marker %s %s %s:%d %q %s\n", portName(m, mk.Port), ms(mk.Time), mk.Log, mk.Line, mk.Text, mk.Class)
	}
	if m.Check != nil {
		fmt.Fprintf(&b, "check %+v\n", *m.Check)
	}
	for _, f := range m.Findings {
		fmt.Fprintf(&b, "finding %s %s frames %v pins %v: %s\n", f.Verdict, f.ID, f.Frames, f.Pins, f.Message)
	}
	return b.String()
}

// golden compares got with testdata/NAME, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got == string(want) {
		return
	}
	gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
	for i := 0; i < max(len(gl), len(wl)); i++ {
		var g, w string
		if i < len(gl) {
			g = gl[i]
		}
		if i < len(wl) {
			w = wl[i]
		}
		if g != w {
			t.Fatalf("layout differs from %s at line %d (run with -update if the change is intended):\ngot  %s\nwant %s", path, i+1, g, w)
		}
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeTemp(t testing.TB, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func readFileBytes(path string) ([]byte, error) { return os.ReadFile(path) }

// fmtDur formats a time since the start: "2.491s".
func fmtDur(d time.Duration) string { return fmt.Sprintf("%.3fs", d.Seconds()) }
