package replay

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"l2hub/control/controltest"
	"l2hub/hub"
)

// TestRunInjectVerdict: frames the port dropped for flow control fail an
// injection, but are a warning in a flood (as fast as possible into a
// port that drops: a lossy flood); a capture cut short fails it after
// sending, unless --allow-truncated accepts it.
func TestRunInjectVerdict(t *testing.T) {
	whole := recordedCapture(t, 4, time.Millisecond)
	cut := whole[:len(whole)-3] // the last record cut short, as by a killed writer
	flood, paced := Pacing{}, Pacing{PPS: 1e6}
	for _, tc := range []struct {
		name    string
		pcap    []byte
		pacing  Pacing
		own     []hub.DropReason
		truncOK bool
		wantErr string // "" for none
		warn    string // a warning that must be given, "" for none
	}{
		{"paced-lossless", whole, paced, nil, false, "", ""},
		{"paced-queue-full", whole, paced, []hub.DropReason{hub.DropQueueFull}, false, "dropped for flow control", ""},
		{"flood-queue-full", whole, flood, []hub.DropReason{hub.DropQueueFull}, false, "", "dropped for flow control"},
		{"cut", cut, paced, nil, false, "(--allow-truncated accepts a capture cut short)", "; the frames before it were sent"},
		{"cut-allowed", cut, paced, nil, true, "", "; the frames before it were sent"},
		{"flood-queue-full-cut", cut, flood, []hub.DropReason{hub.DropQueueFull}, false, "(--allow-truncated accepts a capture cut short)", "dropped for flow control"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := controltest.Client(t, &droppingHub{own: tc.own})
			var reports int
			var warned []string
			err := RunInject(context.Background(), c, "b", InjectConfig{Input: memInput("rec.pcap", tc.pcap), Pacing: tc.pacing}, tc.truncOK,
				InjectOutput{Report: func(*InjectReport) { reports++ }, Warn: func(w string) { warned = append(warned, w) }})
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("got RunInject error %v, want %q", err, tc.wantErr)
			}
			if reports != 1 {
				t.Errorf("got %d reports, want 1", reports)
			}
			if got := strings.Join(warned, "\n"); tc.warn == "" && got != "" || !strings.Contains(got, tc.warn) {
				t.Errorf("got warnings %q, want one holding %q", got, tc.warn)
			}
		})
	}
}

// TestCheckInjectCapture: a file that is not a capture is refused before
// the hub is asked; a capture is not.
func TestCheckInjectCapture(t *testing.T) {
	dir := t.TempDir()
	good, bad := filepath.Join(dir, "good.pcap"), filepath.Join(dir, "bad.pcap")
	if err := os.WriteFile(good, recordedCapture(t, 1, time.Millisecond), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("not a capture at all"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := CheckInjectCapture(good); err != nil {
		t.Errorf("got CheckInjectCapture(a capture) = %v, want nil", err)
	}
	for _, p := range []string{bad, dir, filepath.Join(dir, "missing.pcap")} {
		if err := CheckInjectCapture(p); err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("got CheckInjectCapture(%s) = %v, want an error naming it", p, err)
		}
	}
}

// TestInjectFlagsRun: inject's flags parsed and run against a hub at
// --control: the report on stdout (text, or a document with --json); a
// bad --control, a file that is no capture, --loop below 1 and a
// --from-mac that is no Ethernet MAC are refused before the hub is asked
// or the token read.
func TestInjectFlagsRun(t *testing.T) {
	dir := t.TempDir()
	capPath, bad := filepath.Join(dir, "rec.pcap"), filepath.Join(dir, "bad.pcap")
	if err := os.WriteFile(capPath, recordedCapture(t, 2, time.Millisecond), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("not a capture at all"), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := controltest.ServeTarget(t, &droppingHub{})
	missingToken := filepath.Join(dir, "no-token")
	for _, tc := range []struct {
		name, path string
		args       []string
		want       string // on stdout, or in the error
		wantErr    bool
	}{
		{"text", capPath, []string{"--control", addr, "--flood"}, "inject " + capPath + " into b (as fast as possible): sent 2 frames", false},
		{"json", capPath, []string{"--control", addr, "--json"}, "{\n  \"schema\": ", false},
		{"bad-control", capPath, []string{"--control", "off", "--control-token-file", missingToken}, "--control: \"off\"", true},
		{"not-a-capture", bad, []string{"--control", addr, "--control-token-file", missingToken}, bad, true},
		// Refused, not sent once or cut to its first 6 bytes (which
		// would select another MAC's frames).
		{"loop-0", capPath, []string{"--control", addr, "--control-token-file", missingToken, "--loop", "0"}, "--loop 0: want 1 or more", true},
		{"eui-64", capPath, []string{"--control", addr, "--control-token-file", missingToken, "--from-mac", "52:54:00:12:34:0a:00:01"},
			"--from-mac \"52:54:00:12:34:0a:00:01\": an EUI-64 (8 bytes), not an Ethernet MAC (6)", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var f InjectFlags
			fs := pflag.NewFlagSet("inject", pflag.ContinueOnError)
			f.Register(fs)
			if err := fs.Parse(append([]string{"--into", "b"}, tc.args...)); err != nil {
				t.Fatal(err)
			}
			var out, errs bytes.Buffer
			err := f.Run(context.Background(), tc.path, &out, &errs)
			switch {
			case tc.wantErr && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("got Run() = %v, want an error containing %q", err, tc.want)
			case tc.wantErr && out.Len() != 0:
				t.Errorf("got stdout %q, want nothing", out.String())
			case !tc.wantErr && (err != nil || !strings.HasPrefix(out.String(), tc.want)):
				t.Errorf("got Run() = %v, stdout %q, want nil and %q...", err, out.String(), tc.want)
			}
		})
	}
}
