package serve_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"l2hub/hub/hubtest"
	"l2hub/serve"
	"l2hub/transport"
)

// TestCheckNoteNamesTheFilesAPolicySwitchStarted: after a policy replaced
// while running, the live checker's frame numbers run on into the next
// capture file, and its report says so, naming the files; without a
// switch (one file) it says nothing.
func TestCheckNoteNamesTheFilesAPolicySwitchStarted(t *testing.T) {
	for _, replace := range []bool{false, true} {
		t.Run(map[bool]string{false: "one-file", true: "replaced"}[replace], func(t *testing.T) {
			dir := t.TempDir()
			cfg := serve.Config{
				Control: "off",
				Check:   "nexus-v1",
				Capture: serve.CaptureConfig{File: filepath.Join(dir, "run.pcapng")},
				Ports: []transport.Spec{
					{Name: "a", Transport: transport.TCP, Address: "127.0.0.1:0"},
					{Name: "b", Transport: transport.TCP, Address: "127.0.0.1:0"},
				},
			}
			sess := startSession(t, cfg, nil)
			bound := sess.Bound()
			a, b := dialVM(t, bound[0].Spec.Address), dialVM(t, bound[1].Spec.Address)
			waitAttached(t, sess, "a", "b")
			macA := hubtest.MAC("52:54:00:12:34:0a")
			send := func(what string) {
				t.Helper()
				if err := a.WriteFrame(hubtest.Frame(hubtest.Broadcast, macA, what)); err != nil {
					t.Fatal(err)
				}
				readFrame(t, b)
			}
			send("before")
			if replace {
				if err := sess.ReplacePolicy(context.Background(), "new.yaml", []byte("rules: []\n")); err != nil {
					t.Fatal(err)
				}
			}
			send("after")
			if err := sess.Stop(); err != nil {
				t.Fatal(err)
			}
			r, ok := sess.CheckReport()
			if !ok {
				t.Fatal("no check report")
			}
			switch {
			case !replace && r.Note != "":
				t.Errorf("one file: got note %q, want none", r.Note)
			case replace && (!strings.Contains(r.Note, "run.pcapng, run-0001.pcapng") || !strings.Contains(r.Note, "not each file's own")):
				t.Errorf("after a switch: got note %q, want one naming run.pcapng, run-0001.pcapng", r.Note)
			}
		})
	}
}
