package serve_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"l2hub/capture/capturetest"
	"l2hub/control"
	"l2hub/filter"
	"l2hub/hub"
	"l2hub/serve"
	"l2hub/transport"
)

// A partition and a link change made through the control API (served by
// ServeControl, used by a control.Client as l2hub ctl does) are noted in
// the capture on the next frame it records, with the run time of the
// change: the frames dropped say by which rule, the note says when.
func TestControlChangesAreNotedInTheCapture(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "run.pcapng")
	cfg := serve.Config{
		Control: filepath.Join(dir, "ctl.sock"),
		Capture: serve.CaptureConfig{File: file},
		Ports: []transport.Spec{
			{Name: "a", Transport: transport.TCP, Address: "127.0.0.1:0"},
			{Name: "b", Transport: transport.TCP, Address: "127.0.0.1:0"},
		},
	}
	sess := startSession(t, cfg, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, done, err := sess.ServeControl(ctx)
	if err != nil {
		t.Fatal(err)
	}
	bound := sess.Bound()
	a, b := dialVM(t, bound[0].Spec.Address), dialVM(t, bound[1].Spec.Address)
	waitAttached(t, sess)

	c := control.NewClient(addr, "")
	if err := c.StartPartition(ctx, "split", [][]string{{"a"}, {"b"}}); err != nil {
		t.Fatal(err)
	}
	bcast := func(src byte) []byte {
		f := make([]byte, 60)
		copy(f, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0, src, 0x88, 0xb5})
		return f
	}
	if err := a.WriteFrame(bcast(1)); err != nil { // dropped by the partition
		t.Fatal(err)
	}
	waitRx(t, sess, "a", 1) // the frame met the partition before the heal
	if err := c.HealPartition(ctx, "split"); err != nil {
		t.Fatal(err)
	}
	if err := c.SetLink(ctx, "b", false); err != nil {
		t.Fatal(err)
	}
	if err := c.SetLink(ctx, "b", true); err != nil {
		t.Fatal(err)
	}
	if err := a.WriteFrame(bcast(1)); err != nil {
		t.Fatal(err)
	}
	readFrame(t, b)
	cancel()
	if err := sess.Stop(); err != nil {
		t.Fatal(err)
	}
	<-done
	if _, err := os.Stat(cfg.Control); !os.IsNotExist(err) {
		t.Errorf("got Stat(%s) = %v after the session stopped, want the socket removed", cfg.Control, err)
	}

	var comments []string
	for _, p := range capturetest.Packets(t, file) {
		if p.Comment != "" {
			comments = append(comments, p.Comment)
		}
	}
	want := []string{
		"dropped: a->b: rule split: partition (a|b)\ncontrol at *: partition split started: a|b",
		"control at *: partition split healed\ncontrol at *: link b down\ncontrol at *: link b up",
	}
	if len(comments) != len(want) {
		t.Fatalf("got comments %q, want %q", comments, want)
	}
	attached := map[string]bool{}
	for i, c := range comments {
		// The VMs' attaches come before the first frame, in either order:
		// they are checked apart.
		for _, pc := range parsePeers(t, c) {
			attached[pc.Port] = pc.Attached
		}
		c = hub.WithoutPeerNotes(c)
		comments[i] = c
	}
	if !attached["a"] || !attached["b"] {
		t.Errorf("the capture notes attaches %v, want a and b", attached)
	}
	for i, c := range comments {
		// Each control line is followed by its edit's line, for replay.
		human := filter.WithoutEdits(c)
		if !matchStars(human, want[i]) {
			t.Errorf("got comment %q, want %q (* any run time)", human, want[i])
		}
		if edits, errs := filter.ParseEdits(c); len(errs) > 0 || len(edits) != strings.Count(human, "control at ") {
			t.Errorf("comment %q holds %d edits (%v), want one per control line", c, len(edits), errs)
		}
	}
}

// matchStars matches s against pattern, where each * stands for one run
// time ("12ms", "1.234s").
func matchStars(s, pattern string) bool {
	parts := strings.Split(pattern, "*")
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	for _, p := range parts[1:] {
		i := strings.Index(s, ":")
		if i <= 0 || !strings.HasSuffix(s[:i], "s") {
			return false
		}
		s = s[i:]
		if !strings.HasPrefix(s, p) {
			return false
		}
		s = s[len(p):]
	}
	return s == ""
}

// waitRx returns once port has received n frames from its VM.
func waitRx(t *testing.T, sess *serve.Session, port string, n uint64) {
	t.Helper()
	deadline := time.Now().Add(hangGuard)
	for {
		for _, st := range sess.Stats() {
			if st.Name == port && st.Stats.Snapshot().RxFrames >= n {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("port %s: fewer than %d frames received after %v", port, n, hangGuard)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestPolicyThatDefinesNothingIsRefused: on a live hub, a policy upload of
// {} is refused and the policy in force keeps its rule and partition; one
// that says "rules: []" ends them.
func TestPolicyThatDefinesNothingIsRefused(t *testing.T) {
	hub := runPair(t, "rules:\n  - {name: loss-a-b, match: {link: a->b}, loss: 5%}\npartitions:\n  - {name: split, groups: [[a], [b]]}\n", serve.Options{})
	ctx := context.Background()
	names := func() string {
		t.Helper()
		st, err := hub.ctl.Counters(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var n []string
		for _, r := range st.Rules {
			n = append(n, "rule "+r.Rule)
		}
		for _, p := range st.Partitions {
			n = append(n, "partition "+p.Name)
		}
		return strings.Join(n, ", ")
	}
	const before = "rule loss-a-b, partition split"
	if got := names(); got != before {
		t.Fatalf("at start: got %q, want %q", got, before)
	}
	for _, body := range []string{"{}", "{}\n", "null"} {
		err := hub.ctl.ReplacePolicy(ctx, "clear.yaml", []byte(body))
		if err == nil || !strings.Contains(err.Error(), "policy clear.yaml is empty") || !strings.Contains(err.Error(), `"rules: []"`) {
			t.Errorf("ReplacePolicy(%q) = %v, want it refused as empty, naming rules: []", body, err)
		}
		if got := names(); got != before {
			t.Errorf("after the refused %q: got %q, want %q", body, got, before)
		}
	}
	if err := hub.ctl.ReplacePolicy(ctx, "clear.yaml", []byte("rules: []\n")); err != nil {
		t.Fatalf("ReplacePolicy(rules: []) = %v", err)
	}
	if got := names(); got != "" {
		t.Errorf("after rules: [], got %q, want no rules and no partitions", got)
	}
}

// TestRulesWithoutPolicyAreEmptyLists: a hub with no policy answers GET
// /v1/rules (ctl rules --json) with empty lists, not null.
func TestRulesWithoutPolicyAreEmptyLists(t *testing.T) {
	cfg := serve.DefaultConfig()
	cfg.Ports = []transport.Spec{{Name: "a", Transport: transport.TCP, Address: "127.0.0.1:0"}}
	cfg.Control = filepath.Join(t.TempDir(), "ctl.sock")
	runServeWith(t, cfg, serve.Options{})
	raw, err := control.NewClient(cfg.Control, "").Rules(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]json.RawMessage
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatalf("%v\n%s", err, raw)
	}
	for _, list := range []string{"rules", "partitions", "ports"} {
		var items []json.RawMessage
		if err := json.Unmarshal(got[list], &items); err != nil || items == nil || len(items) != 0 {
			t.Errorf("got %q: %s (%v), want []", list, got[list], err)
		}
	}
}

func parsePeers(t *testing.T, c string) []hub.PeerRecord {
	t.Helper()
	recs, errs := hub.ParsePeers(c)
	for _, err := range errs {
		t.Error(err)
	}
	return recs
}

// TestPolicyNameOnOneLineIsRefusedWhole: a policy replaced under a name
// that spans lines (a file named so, or a Go caller's) is refused whole:
// the policy in force stays, and the capture keeps naming it, rather than
// the hub swapping the policy while the capture's header keeps the old
// one. A name on one line is taken, and starts the capture's next file.
func TestPolicyNameOnOneLineIsRefusedWhole(t *testing.T) {
	dir := t.TempDir()
	cfg := serve.Config{
		Control: "off",
		Policy:  filepath.Join(dir, "one.yaml"),
		Capture: serve.CaptureConfig{File: filepath.Join(dir, "run.pcapng")},
		Ports:   []transport.Spec{{Name: "a", Transport: transport.TCP, Address: "127.0.0.1:0"}},
	}
	if err := os.WriteFile(cfg.Policy, []byte("seed: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sess := startSession(t, cfg, nil)
	ctx := t.Context()
	seed := func() uint64 {
		t.Helper()
		d, err := sess.Policy(ctx)
		if err != nil || d == nil {
			t.Fatalf("Policy: %v, %v", d, err)
		}
		return d.Seed
	}
	err := sess.ReplacePolicy(ctx, "new\nline.yaml", []byte("seed: 2\n"))
	var ue *control.UserError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "control character") || strings.Contains(err.Error(), "\n") {
		t.Errorf("ReplacePolicy(a name that spans lines) = %v, want a UserError on one line naming the control character", err)
	}
	if got := seed(); got != 1 {
		t.Errorf("after the refused replacement, seed %d is in force, want 1", got)
	}
	if err := sess.ReplacePolicy(ctx, "two.yaml", []byte("seed: 2\n")); err != nil {
		t.Fatal(err)
	}
	if got := seed(); got != 2 {
		t.Errorf("after the replacement, seed %d is in force, want 2", got)
	}
	if err := sess.Stop(); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "run*.pcapng"))
	if len(files) != 2 {
		t.Errorf("the capture wrote %v, want the first file and one for two.yaml", files)
	}
}

// TestRuleEditErrorsStayOnOneLine: a rule edit's errors name the rule as
// their file; a name that holds a newline (from a URL) is quoted there,
// so that each error stays one line.
func TestRuleEditErrorsStayOnOneLine(t *testing.T) {
	cfg := serve.Config{
		Control: "off",
		Ports:   []transport.Spec{{Name: "a", Transport: transport.TCP, Address: "127.0.0.1:0"}},
	}
	sess := startSession(t, cfg, nil)
	ctx := t.Context()
	_, err := sess.AddRule(ctx, "x\ny", []byte("{match: {link: a->a}, loss: 5%}\n"), "")
	if err == nil || strings.Contains(err.Error(), "x\ny") || !strings.Contains(err.Error(), `rule "x\ny"`) {
		t.Errorf("AddRule(a name with a newline) = %v, want an error quoting the name", err)
	}
}

// TestRefusedEditLeavesNoPolicy: on a hub that runs without a policy, a
// rule or link edit the hub refuses (an unknown rule, port or partition)
// changes nothing: no empty policy named control is put in force, which
// ctl policy and the summary would show and the capture would not
// explain. One that succeeds puts one in force.
func TestRefusedEditLeavesNoPolicy(t *testing.T) {
	cfg := serve.Config{
		Control: "off",
		Ports:   []transport.Spec{{Name: "a", Transport: transport.TCP, Address: "127.0.0.1:0"}},
	}
	sess := startSession(t, cfg, nil)
	ctx := t.Context()
	policy := func() *filter.Description {
		t.Helper()
		d, err := sess.Policy(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	for _, tt := range []struct {
		name string
		edit func() error
		want error
	}{
		{"rule-remove-unknown", func() error { _, err := sess.RemoveRule(ctx, "nope"); return err }, filter.ErrUnknownRule},
		{"rule-update-unknown", func() error {
			_, err := sess.UpdateRule(ctx, "nope", []byte("{loss: 5%}"))
			return err
		}, filter.ErrUnknownRule},
		{"link-unknown-port", func() error { return sess.SetLink(ctx, "zz", false) }, nil},
		{"heal-unknown", func() error { return sess.HealPartition(ctx, "nope") }, filter.ErrUnknownPartition},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.edit()
			if err == nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want a refusal (%v)", err, tt.want)
			}
			if d := policy(); d != nil {
				t.Errorf("after a refused edit, got policy %q in force, want none", d.Name)
			}
		})
	}
	if err := sess.SetLink(ctx, "a", false); err != nil {
		t.Fatal(err)
	}
	if d := policy(); d == nil || d.Name != "control" {
		t.Errorf("after link a down, got policy %+v, want the empty policy control", d)
	}
}
