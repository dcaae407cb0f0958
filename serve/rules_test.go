package serve_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"l2hub/capture"
	"l2hub/capture/capturetest"
	"l2hub/filter"
	"l2hub/hub/hubtest"
	"l2hub/internal/syncbuf"
	"l2hub/replay"
	"l2hub/report"
	"l2hub/serve"
)

// TestRuleEditsOnALiveHub: on a running hub with real sockets, a rule
// added through the control API drops frames from the next one on, an
// update makes them pass (delayed), a removal ends it; the other rule's
// counters go on untouched, the capture stays one file and records each
// edit on the frame after it, the log says it, and bad requests are
// refused with what was wrong, changing nothing.
func TestRuleEditsOnALiveHub(t *testing.T) {
	var logs syncbuf.Buffer
	hub := runPair(t, "seed: 5\nrules:\n  - {name: slow-b-a, match: {link: b->a}, delay: 1ms}\n",
		serve.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	c, stop, dir, a, b := hub.ctl, hub.stop, filepath.Dir(hub.cfg.Capture.File), hub.a, hub.b
	ctx := context.Background()
	macA, macB := hubtest.MAC("02:00:00:00:00:0a"), hubtest.MAC("02:00:00:00:00:0b")

	// exchange sends n frames of 120 bytes from a, then a 60-byte marker,
	// and returns how many of the big ones b got before the marker. A
	// port's frames keep their order, so once the marker is in, every
	// frame before it went through the hub.
	exchange := func(n int) int {
		t.Helper()
		big := hubtest.Frame(hubtest.Broadcast, macA, strings.Repeat("x", 120-14))
		for range n {
			if err := a.WriteFrame(big); err != nil {
				t.Fatal(err)
			}
		}
		if err := a.WriteFrame(hubtest.Frame(hubtest.Broadcast, macA, "marker")); err != nil {
			t.Fatal(err)
		}
		got := 0
		for len(readFrame(t, b)) != 60 {
			got++
		}
		return got
	}
	if err := b.WriteFrame(hubtest.Frame(hubtest.Broadcast, macB, "b to a")); err != nil {
		t.Fatal(err)
	}
	readFrame(t, a)
	if got := exchange(3); got != 3 {
		t.Fatalf("before any edit, b got %d of 3 frames", got)
	}
	slow := filter.RuleStats{Rule: "slow-b-a", Matched: 1, Delayed: 1}
	counters := func() filter.Stats {
		t.Helper()
		st, err := c.Counters(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}

	d, err := c.AddRule(ctx, "drop-big", []byte("{match: {link: a->b, length: 100-}, drop: true}"), "")
	if err != nil || d.Name != "drop-big" || strings.Join(d.Actions, ",") != "drop" || d.Match != "link=a->b length=100-" {
		t.Fatalf("AddRule = %+v, %v", d, err)
	}
	if got := exchange(4); got != 0 {
		t.Errorf("after the rule was added, b got %d of 4 big frames, want 0", got)
	}
	if st := counters(); len(st.Rules) != 2 || st.Rules[0] != slow ||
		st.Rules[1] != (filter.RuleStats{Rule: "drop-big", Matched: 4, Dropped: 4}) {
		t.Errorf("after the add: %+v", st.Rules)
	}

	if _, err := c.UpdateRule(ctx, "drop-big", []byte("name: drop-big\nmatch: {link: a->b}\ndelay: 1ms\n")); err != nil {
		t.Fatal(err)
	}
	if got := exchange(2); got != 2 {
		t.Errorf("after the update, b got %d of 2 frames, want them all (delayed)", got)
	}
	if st := counters(); st.Rules[0] != slow || st.Rules[1] != (filter.RuleStats{Rule: "drop-big", Matched: 4 + 3, Dropped: 4, Delayed: 3}) {
		t.Errorf("after the update: %+v", st.Rules)
	}

	if d, err := c.RemoveRule(ctx, "drop-big"); err != nil || d.Counters.Matched != 7 {
		t.Errorf("RemoveRule = %+v, %v; want its last counters", d, err)
	}
	if got := exchange(2); got != 2 {
		t.Errorf("after the removal, b got %d of 2 frames", got)
	}

	for _, tc := range []struct {
		name, rule, src string
		is              error
		msg             string
	}{
		{"duplicate", "slow-b-a", "{drop: true}", filter.ErrRuleExists, `rule "slow-b-a": a rule of that name exists`},
		{"unknown-port", "x", "{match: {link: a->z}, drop: true}", filter.ErrInvalid, `rule x:1:16: match.link: port "z" does not exist (ports: a, b)`},
		{"bad-value", "x", "{loss: 150%}", filter.ErrInvalid, "rule x:1:8: loss:"},
		{"syntax", "x", "{match: [", filter.ErrInvalid, "rule x:1:"},
		{"other-name", "x", "{name: y, drop: true}", filter.ErrInvalid, `rule x:1:8: name: "y", but the rule to change is "x"`},
	} {
		if _, err := c.AddRule(ctx, tc.rule, []byte(tc.src), ""); !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: AddRule = %v; want %v with %q", tc.name, err, tc.is, tc.msg)
		}
	}
	if _, err := c.UpdateRule(ctx, "drop-big", []byte("{drop: true}")); !errors.Is(err, filter.ErrUnknownRule) {
		t.Errorf("updating a removed rule: %v, want ErrUnknownRule", err)
	}
	if _, err := c.RemoveRule(ctx, "drop-big"); !errors.Is(err, filter.ErrUnknownRule) || !strings.Contains(err.Error(), "rules: slow-b-a") {
		t.Errorf("removing it again: %v, want ErrUnknownRule listing the rules", err)
	}
	if st := counters(); len(st.Rules) != 1 || st.Rules[0] != slow {
		t.Errorf("after the refused edits: %+v, want slow-b-a alone, untouched", st.Rules)
	}

	stop()
	files, _ := filepath.Glob(filepath.Join(dir, "run*.pcapng"))
	if len(files) != 1 {
		t.Fatalf("capture files %v, want run.pcapng alone: a rule edit starts no file", files)
	}
	var edits []string
	frames := 0
	for _, p := range capturetest.Packets(t, files[0]) {
		frames++
		for line := range strings.SplitSeq(p.Comment, "\n") {
			if strings.HasPrefix(line, "control at ") && strings.Contains(line, ": rule ") {
				edits = append(edits, line)
				if strings.Contains(line, " added ") && (p.Dir != capture.DirIn || p.IfName != "a" || !strings.Contains(p.Comment, "dropped")) {
					t.Errorf("the add's note is on frame %d (%s, %v, %q), want the first frame it dropped", p.Number, p.IfName, p.Dir, p.Comment)
				}
			}
		}
	}
	want := []string{
		": rule drop-big added: match link=a->b length=100-: drop",
		": rule drop-big updated: match link=a->b: delay 1ms fifo",
		": rule drop-big removed (it had matched 7 frames)",
	}
	if len(edits) != len(want) {
		t.Fatalf("the capture notes %q, want the 3 edits", edits)
	}
	for i, w := range want {
		if !strings.HasSuffix(edits[i], w) {
			t.Errorf("note %d: %q, want control at TIME%s", i, edits[i], w)
		}
	}
	if tshark, err := exec.LookPath("tshark"); err == nil {
		out, err := exec.Command(tshark, "-r", files[0], "-T", "fields", "-e", "frame.number").Output()
		if err != nil || strings.Count(string(out), "\n") != frames {
			t.Errorf("tshark: %v, %d lines, want %d frames\n%s", err, strings.Count(string(out), "\n"), frames, out)
		}
	}
	// The report reads the capture as it reads any: the notes are
	// comments, a person's line shown and the machine's left out. Replay
	// makes the edits again (TestReplayMakesTheLiveEditsAgain).
	m, err := report.Build(report.Options{Capture: files[0]})
	if err != nil {
		t.Fatalf("report: %v", err)
	}
	noted := 0
	for _, f := range m.Frames {
		if strings.Contains(f.Comment, ": rule drop-big ") {
			noted++
		}
		if strings.Contains(f.Comment, filter.EditPrefix) {
			t.Errorf("frame %d: the report shows the edit's machine line: %q", f.Number, f.Comment)
		}
	}
	if noted == 0 {
		t.Error("the report shows no frame with a rule edit's note")
	}
	res, err := (&replay.Job{Files: files}).Run(ctx)
	if err != nil || res.Replayed == 0 {
		t.Errorf("replay: %v, %+v", err, res)
	}
	for _, w := range []string{`msg="rule added" rule=drop-big`, `msg="rule updated" rule=drop-big`, `msg="rule removed" rule=drop-big`} {
		if !strings.Contains(logs.String(), w) {
			t.Errorf("the log lacks %q:\n%s", w, logs.String())
		}
	}
}

// TestLogSaysAtAsADuration: in a JSON log, every record's "at" (a rule
// edit's, a set-policy's, a link's or partition's change) is a duration as
// text ("1.5s"), one type for one key, not bare nanoseconds with no unit;
// every change through the control API is logged.
func TestLogSaysAtAsADuration(t *testing.T) {
	var logs syncbuf.Buffer
	p := runPair(t, "rules: []\n", serve.Options{Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	if _, err := p.ctl.AddRule(context.Background(), "drop-all", []byte("{loss: 100%}"), ""); err != nil {
		t.Fatal(err)
	}
	if err := p.ctl.ReplacePolicy(context.Background(), "second.yaml", []byte("rules: []\n")); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, err := range []error{
		p.ctl.SetLink(ctx, "a", false), p.ctl.SetLink(ctx, "a", true),
		p.ctl.StartPartition(ctx, "cut", [][]string{{"a"}, {"b"}}), p.ctl.HealPartition(ctx, "cut"),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	p.stop()
	want := map[string]bool{"rule added": false, "policy replaced": false, "link down": false, "link up": false,
		"partition started": false, "partition healed": false}
	for _, line := range strings.Split(logs.String(), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) != nil {
			continue
		}
		if at, ok := rec["at"]; ok {
			s, ok := at.(string)
			if _, err := time.ParseDuration(s); !ok || err != nil {
				t.Errorf("got at = %#v in %s, want a duration as text", at, line)
			}
		}
		if msg, ok := rec["msg"].(string); ok {
			if _, ok := want[msg]; ok {
				want[msg] = true
			}
		}
	}
	for msg, seen := range want {
		if !seen {
			t.Errorf("no %q record in the log:\n%s", msg, logs.String())
		}
	}
}
