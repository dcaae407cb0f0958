package lab

import (
	"cmp"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// JUnit XML, as CI systems read it (Jenkins, GitLab, GitHub Actions
// reporters): one test suite for the run, one test case per marker, per
// phase and per trigger (and one for fail_on, the soak or a VM that owed
// no marker when they failed the run). A failure carries the classification and the last console
// lines of the VMs concerned. What could not run is in error, as JUnit
// has it (an <error>, counted in errors=, not a failure of what it
// tests): a lab whose file or arguments could not be used, a run that
// could not be set up, and a run whose hub could not run (result error).

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr"`
	Properties []junitProperty `xml:"properties>property"`
	Cases      []junitCase     `xml:"testcase"`
	SystemOut  string          `xml:"system-out,omitempty"`
	dur        time.Duration   // Time, for the document's sum
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitFailure `xml:"failure"`
	Error     *junitFailure `xml:"error"` // the case could not run
	Skipped   *junitSkipped `xml:"skipped"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

type junitSkipped struct {
	Message string `xml:"message,attr"`
}

// WriteJUnit writes the summary as JUnit XML.
func (s *Summary) WriteJUnit(w io.Writer) error {
	return writeJUnit(w, []junitSuite{s.junitSuite()})
}

// writeJUnit writes suites as one JUnit document, its counts their sums.
func writeJUnit(w io.Writer, suites []junitSuite) error {
	doc := junitSuites{Name: "l2hub lab", Suites: suites}
	var total time.Duration
	for _, s := range suites {
		doc.Tests += s.Tests
		doc.Failures += s.Failures
		doc.Errors += s.Errors
		doc.Skipped += s.Skipped
		total += s.dur
	}
	doc.Time = seconds(ms(total))
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// junitSuite is the run as a test suite.
func (s *Summary) junitSuite() junitSuite {
	suite := junitSuite{
		Name: s.Lab, Time: seconds(s.Duration), dur: s.Duration.D(), Timestamp: s.Started.Format("2006-01-02T15:04:05"),
		Properties: []junitProperty{{"file", s.File}, {"result", s.Result}, {"run_dir", s.Dir}},
	}
	if s.SeedSet {
		suite.Properties = append(suite.Properties, junitProperty{"seed", fmt.Sprint(s.Seed)})
	}
	// failureOf is the failure a case reports: c, with the console tails
	// of vms.
	failureOf := func(c *FailureSummary, what string, vms ...string) *junitFailure {
		if c == nil {
			return &junitFailure{Message: what, Type: "FAILED"}
		}
		var b strings.Builder
		fmt.Fprintf(&b, "%s: %s\n", c.Code, c.Message)
		if c.Marker != "" {
			fmt.Fprintf(&b, "missing marker: %q (VM %s)\n", c.Marker, c.VM)
		}
		if c.Hint != nil {
			fmt.Fprintf(&b, "wire: %s\n", c.Hint.Text)
		}
		if s.Rerun != "" {
			fmt.Fprintf(&b, "rerun: %s\n", s.Rerun)
		}
		for _, vm := range vms {
			fmt.Fprintf(&b, "\nlast %d console lines of %s (%s.log):\n", tailLines, vm, vm)
			if len(s.tails[vm]) == 0 {
				fmt.Fprintf(&b, "(none: VM %s printed nothing on its console)\n", vm)
			}
			for _, l := range s.tails[vm] {
				fmt.Fprintf(&b, "%s\n", l)
			}
		}
		return &junitFailure{Message: what + ": " + c.Code, Type: c.Code, Text: b.String()}
	}
	// failureFor is the failure a missing marker's case reports: the one
	// that ended the run (the classification, unless a budget overrun
	// came first).
	c := s.Classification
	hard := cmp.Or(s.decisive(), c)
	failureFor := func(what string, vms ...string) *junitFailure { return failureOf(hard, what, vms...) }
	// A marker's case takes no time (its time since the run's start, as
	// a duration, added up to many times the run's); a phase's case takes
	// the phase's duration.
	markerCase := func(class, where string, m MarkerSummary) junitCase {
		jc := junitCase{Name: fmt.Sprintf("%s: %s", m.VM, m.Marker), Classname: class, Time: "0"}
		switch m.Status {
		case StatusMissing:
			jc.Failure = failureFor(fmt.Sprintf("%s printed no %q (%s)", m.VM, m.Marker, where), m.VM)
		case StatusInterrupted:
			jc.Skipped = &junitSkipped{Message: interruptedMsg(s)}
		case StatusNotReached:
			if s.Result != ResultPass {
				jc.Skipped = &junitSkipped{Message: "not reached: the run ended first (" + s.Result + ")"}
			}
		case StatusSkipped:
			jc.Skipped = &junitSkipped{Message: "after phase " + s.Until + " (--until)"}
		}
		return jc
	}
	for _, m := range s.Expect {
		suite.Cases = append(suite.Cases, markerCase(s.Lab+"."+m.VM, "expect, within "+secs(m.Within.D()), m))
	}
	for _, p := range s.Phases {
		jc := junitCase{Name: "phase " + p.Name, Classname: s.Lab + ".phases", Time: "0"}
		if p.Duration != nil {
			jc.Time = seconds(*p.Duration)
		}
		switch p.Status {
		case PhaseFailed:
			f := cmp.Or(s.phaseFailure(p.Name), hard)
			var vms []string
			for _, m := range p.Markers {
				if m.Status == StatusMissing || (m.Status != StatusOK && f != nil && m.VM == f.VM) {
					vms = appendNew(vms, m.VM)
				}
			}
			jc.Failure = failureOf(f, "phase "+p.Name+" failed", vms...)
		case PhaseOverBudget:
			jc.Failure = &junitFailure{Message: fmt.Sprintf("phase %s over budget: %s > %s", p.Name, secs(p.Duration.D()), secs(p.Budget.D())),
				Type: Code(p.Name) + "_BUDGET"}
		case StatusInterrupted:
			jc.Skipped = &junitSkipped{Message: interruptedMsg(s)}
		case StatusNotReached:
			jc.Skipped = &junitSkipped{Message: "not reached: the run ended first (" + s.Result + ")"}
		case StatusSkipped:
			jc.Skipped = &junitSkipped{Message: "after phase " + s.Until + " (--until)"}
		}
		suite.Cases = append(suite.Cases, jc)
		for _, m := range p.Markers {
			suite.Cases = append(suite.Cases, markerCase(s.Lab+"."+p.Name, "phase "+p.Name, m))
		}
	}
	// A trigger's case passes when it fired and the hub made its change
	// (and its undo); it fails when the hub refused one, or when the run
	// was done without a fault its on: marker should have fired; it is
	// skipped when the run did not reach it.
	for _, t := range s.Triggers {
		jc := junitCase{Name: t.Name + ": " + t.Trigger, Classname: s.Lab + ".triggers", Time: "0"}
		switch t.Status {
		case TriggerFailed:
			jc.Failure = &junitFailure{Message: fmt.Sprintf("%s could not %s: TRIGGER_FAILED", t.Name, t.Err), Type: "TRIGGER_FAILED"}
		case TriggerNotFired:
			for i := range s.Failures {
				if f := &s.Failures[i]; f.Code == "TRIGGER_NOT_FIRED" && f.Trigger == t.Name {
					var vms []string
					if f.VM != "" {
						vms = append(vms, f.VM)
					}
					jc.Failure = failureOf(f, t.Name+" never fired", vms...)
				}
			}
		case StatusNotReached:
			msg := "not reached: the run ended first (" + s.Result + ")"
			if t.Note != "" {
				msg = "not reached: " + t.Note
			}
			jc.Skipped = &junitSkipped{Message: msg}
		case StatusSkipped:
			jc.Skipped = &junitSkipped{Message: "after phase " + s.Until + " (--until)"}
		}
		suite.Cases = append(suite.Cases, jc)
	}
	// Failures that no marker, phase or trigger case carries.
	for _, f := range s.Failures {
		switch {
		case f.Code == "FAIL_ON":
			jc := junitCase{Name: "fail_on " + f.VM, Classname: s.Lab + ".fail_on", Time: seconds(f.At)}
			jc.Failure = failureOf(&f, fmt.Sprintf("%s printed %q", f.VM, f.Line), f.VM)
			suite.Cases = append(suite.Cases, jc)
		case strings.HasSuffix(f.Code, "_ENDED") && f.Marker == "":
			// A VM that owed no marker ended badly: no marker's case is
			// its own.
			jc := junitCase{Name: "QEMU of " + f.VM, Classname: s.Lab + ".vms", Time: seconds(f.At)}
			jc.Failure = failureOf(&f, "VM "+f.VM+" ended", f.VM)
			suite.Cases = append(suite.Cases, jc)
		case f.Code == "SOAK_TIMEOUT":
			suite.Cases = append(suite.Cases, junitCase{Name: "soak", Classname: s.Lab + ".soak", Time: seconds(f.At),
				Failure: &junitFailure{Message: f.Message, Type: f.Code, Text: fmt.Sprintf("%d of %d soak rounds failed", s.Soak.Failed, s.Soak.Rounds)}})
		}
	}
	if s.Result == ResultInterrupted || s.Result == ResultError {
		msg := s.Result
		if s.Error != "" {
			msg += ": " + s.Error
		}
		jc := junitCase{Name: "run", Classname: s.Lab, Time: seconds(s.Duration)}
		f := &junitFailure{Message: msg, Type: strings.ToUpper(s.Result)}
		if s.Result == ResultError {
			jc.Error = f // the hub could not run: nothing was tested
		} else {
			jc.Failure = f
		}
		suite.Cases = append(suite.Cases, jc)
	}
	for _, jc := range suite.Cases {
		suite.Tests++
		if jc.Failure != nil {
			suite.Failures++
		}
		if jc.Error != nil {
			suite.Errors++
		}
		if jc.Skipped != nil {
			suite.Skipped++
		}
	}
	for _, f := range []*FailureSummary{c, hard} {
		if f != nil && f.Hint != nil && !strings.Contains(suite.SystemOut, f.Hint.Text) {
			suite.SystemOut += "wire: " + f.Hint.Text + "\n"
		}
	}
	return suite
}

// budgetOnly reports whether f is a budget overrun, the one soft failure:
// the run went on after it.
func budgetOnly(f *FailureSummary) bool { return strings.HasSuffix(f.Code, "_BUDGET") }

// decisive is the failure that ended the run: the earliest that is not a
// budget overrun; nil if none.
func (s *Summary) decisive() *FailureSummary {
	var d *FailureSummary
	for i := range s.Failures {
		if f := &s.Failures[i]; !budgetOnly(f) && (d == nil || f.At < d.At) {
			d = f
		}
	}
	return d
}

// phaseFailure is the failure (not a budget overrun) that failed phase
// name, or nil.
func (s *Summary) phaseFailure(name string) *FailureSummary {
	for i := range s.Failures {
		if f := &s.Failures[i]; f.Phase == name && !budgetOnly(f) {
			return f
		}
	}
	return nil
}

// interruptedMsg is a case's skip message when the run was stopped while
// waiting for it; the run's own case carries the failure.
func interruptedMsg(s *Summary) string {
	return "interrupted: the run was stopped while waiting for it (" + s.Result + ")"
}

func seconds(d ms) string { return fmt.Sprintf("%.3f", d.D().Seconds()) }

func appendNew(s []string, v string) []string {
	for _, x := range s {
		if x == v {
			return s
		}
	}
	return append(s, v)
}

// WriteLoadErrorJUnit writes dir/junit.xml for a lab file that could not
// be read (err, at now): one test case in error, so that a CI job that
// publishes the run directory's junit.xml shows why nothing ran. dir is
// made if missing; one that is not empty is left alone (--out must be new
// or empty).
func WriteLoadErrorJUnit(dir, file string, err error, now time.Time) error {
	return writeErrorJUnit(dir, file, "lab file", "error: the lab file could not be read; nothing ran", err, now)
}

// WriteArgsErrorJUnit writes dir/junit.xml for a lab run whose arguments
// could not be used (a --until phase the lab lacks, a bad --seed), as
// WriteLoadErrorJUnit does for the file.
func WriteArgsErrorJUnit(dir, file string, err error, now time.Time) error {
	return writeErrorJUnit(dir, file, "arguments", "error: the arguments could not be used; nothing ran", err, now)
}

func writeErrorJUnit(dir, file, what, msg string, err error, now time.Time) error {
	if entries, rerr := os.ReadDir(dir); rerr == nil && len(entries) > 0 {
		return fmt.Errorf("%s is not empty: no junit.xml written", dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	name := strings.TrimSuffix(filepath.Base(file), filepath.Ext(file))
	suite := errorSuite(file, name, what, msg, dir, err, now)
	return writeJUnitFile(osFS{}, filepath.Join(dir, "junit.xml"), []junitSuite{suite})
}

// errorSuite is the test suite of a lab (file) that did not run: one case,
// what, in error, saying msg and err.
func errorSuite(file, name, what, msg, dir string, err error, now time.Time) junitSuite {
	return junitSuite{Name: name, Time: "0", Timestamp: now.Format("2006-01-02T15:04:05"), Tests: 1, Errors: 1,
		Properties: []junitProperty{{"file", file}, {"result", ResultError}, {"run_dir", dir}},
		Cases: []junitCase{{Name: what, Classname: name, Time: "0",
			Error: &junitFailure{Message: msg, Type: strings.ToUpper(ResultError), Text: err.Error() + "\n"}}}}
}

// WriteRepeatJUnit writes the runs of --repeat as one JUnit document to
// path: a test suite per run, named after its seed ("pair seed 8"), each
// as the run's own junit.xml has it.
func WriteRepeatJUnit(path string, runs []*Summary) error {
	return writeJUnitFile(osFS{}, path, repeatSuites(runs))
}

// repeatSuites are the runs' suites; a run whose directory is gone
// (--keep-failing removed it) names none.
func repeatSuites(runs []*Summary) []junitSuite {
	var suites []junitSuite
	for _, s := range runs {
		suite := s.junitSuite()
		suite.Name = fmt.Sprintf("%s seed %d", s.Lab, s.Seed)
		if _, err := os.Stat(s.Dir); err != nil {
			suite.Properties = slices.DeleteFunc(suite.Properties, func(p junitProperty) bool { return p.Name == "run_dir" })
		}
		suites = append(suites, suite)
	}
	return suites
}

// writeJUnitFile writes suites to path through fs as one document, whole
// or not at all.
func writeJUnitFile(fs runFS, path string, suites []junitSuite) error {
	var b strings.Builder
	if err := writeJUnit(&b, suites); err != nil {
		return err
	}
	return fs.WriteFile(path, []byte(b.String()))
}
