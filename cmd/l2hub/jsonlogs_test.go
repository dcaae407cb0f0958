package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"l2hub/internal/procctl"
	"l2hub/internal/syncbuf"
)

// inProcess is l2hub run as main runs it (runProcess), in this process:
// sigs stands for the process's SIGINT and SIGTERM.
type inProcess struct {
	t              *testing.T
	stdout, stderr *syncbuf.Buffer
	sigs           chan os.Signal
	code           chan int
}

func startProcess(t *testing.T, args ...string) *inProcess {
	t.Helper()
	p := &inProcess{t: t, stdout: &syncbuf.Buffer{}, stderr: &syncbuf.Buffer{}, sigs: make(chan os.Signal, 2), code: make(chan int, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		p.code <- runProcess(ctx, args, p.stdout, p.stderr, p.sigs, func(sig os.Signal) { t.Errorf("forced exit by %v", sig) })
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case c := <-p.code:
			p.code <- c
		case <-time.After(hangGuard):
			t.Errorf("l2hub %v still runs %v after the test", args, hangGuard)
		}
	})
	return p
}

// exit waits for the exit status.
func (p *inProcess) exit() int {
	p.t.Helper()
	select {
	case c := <-p.code:
		p.code <- c
		return c
	case <-time.After(hangGuard):
		p.t.Fatalf("l2hub did not exit within %v; stderr:\n%s", hangGuard, p.stderr.String())
		return -1
	}
}

// waitStderr waits until stderr holds text.
func (p *inProcess) waitStderr(text string) {
	p.t.Helper()
	for deadline := time.Now().Add(hangGuard); !strings.Contains(p.stderr.String(), text); time.Sleep(10 * time.Millisecond) {
		select {
		case c := <-p.code:
			p.code <- c
			p.t.Fatalf("l2hub exited (%d) before it said %q; stderr:\n%s", c, text, p.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("l2hub did not say %q within %v; stderr:\n%s", text, hangGuard, p.stderr.String())
		}
	}
}

// jsonRecords parses every line of stderr as a JSON log record, failing
// the test on any that is not one.
func jsonRecords(t *testing.T, stderr string) []map[string]any {
	t.Helper()
	var recs []map[string]any
	for line := range strings.Lines(stderr) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil || m["msg"] == nil || m["level"] == nil || m["time"] == nil {
			t.Errorf("stderr line %q is not a JSON log record (%v)", line, err)
			continue
		}
		recs = append(recs, m)
	}
	return recs
}

// findRecord returns the first record whose message holds msg.
func findRecord(recs []map[string]any, msg string) map[string]any {
	for _, r := range recs {
		if s, _ := r["msg"].(string); strings.Contains(s, msg) {
			return r
		}
	}
	return nil
}

// TestJSONLogsKeepStderrJSON: with --log-format json, every line l2hub
// writes on stderr is a JSON log record, from start to exit: the banner
// with its QEMU flags, the virtual peers' markers, the stop notice on a
// signal, the summary when it goes to stderr (--capture -), and the final
// error, at level ERROR, whether the config or the start failed.
func TestJSONLogsKeepStderrJSON(t *testing.T) {
	t.Run("serve-json-summary", func(t *testing.T) {
		dir := t.TempDir()
		p := startProcess(t, "serve", "--port", "a=tcp:127.0.0.1:0", "--peer", "node-a", "--peer", "node-b", "--control", "off",
			"--capture", filepath.Join(dir, "run.pcapng"), "--log-format", "json", "--json")
		p.waitStderr("nexus session ok node-a")
		p.sigs <- os.Interrupt
		if code := p.exit(); code != 0 {
			t.Fatalf("exit status %d; stderr:\n%s", code, p.stderr.String())
		}
		recs := jsonRecords(t, p.stderr.String())
		banner := findRecord(recs, "Ctrl-C stops")
		lines, _ := banner["lines"].([]any)
		if !slices.ContainsFunc(lines, func(l any) bool { s, _ := l.(string); return strings.HasPrefix(s, "-netdev stream,") }) {
			t.Errorf("the banner's record %v: want the ports' -netdev flags in its lines", banner)
		}
		if banner["kind"] != "banner" {
			t.Errorf("the banner's record %v: want kind banner", banner)
		}
		if r := findRecord(recs, "nexus session ok node-a"); r == nil || r["level"] != "INFO" || r["kind"] != "marker" ||
			strings.HasPrefix(r["msg"].(string), "l2hub: ") {
			t.Errorf("the marker's record: %v, want one at INFO, of kind marker, without the text's \"l2hub: \"", r)
		}
		if r := findRecord(recs, procctl.StopNotice); r == nil || r["level"] != "INFO" || r["kind"] != "notice" {
			t.Errorf("the stop notice's record: %v, want one at INFO, of kind notice", r)
		}
		var sum struct {
			Ports []struct{ Name string } `json:"ports"`
		}
		if err := json.Unmarshal([]byte(p.stdout.String()), &sum); err != nil || len(sum.Ports) != 3 {
			t.Errorf("stdout %q: %v; want the JSON summary of 3 ports", p.stdout.String(), err)
		}
	})
	// The real binary: --capture - writes the process's standard output.
	t.Run("capture-to-stdout", func(t *testing.T) {
		p := launchBinary(t, nil, "serve", "--port", "a=tcp:127.0.0.1:0", "--control", "off", "--capture", "-", "--log-format", "json")
		for deadline := time.Now().Add(hangGuard); !strings.Contains(p.stderr.String(), "Ctrl-C stops"); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("no banner within %v; stderr:\n%s", hangGuard, p.stderr.String())
			}
		}
		if err := p.stop(syscall.SIGINT); err != nil {
			t.Fatalf("%v; stderr:\n%s", err, p.stderr.String())
		}
		recs := jsonRecords(t, p.stderr.String())
		if r := findRecord(recs, procctl.StopNotice); r == nil {
			t.Errorf("no record of the stop notice in:\n%s", p.stderr.String())
		}
		sum, _ := findRecord(recs, "summary")["summary"].(map[string]any)
		if ports, _ := sum["ports"].([]any); len(ports) != 1 {
			t.Errorf("the summary's record holds %v, want the summary of port a", sum)
		}
		if out := p.stdout.String(); !strings.HasPrefix(out, "\x0a\x0d\x0d\x0a") {
			t.Errorf("stdout starts %q, want a pcapng section header", out[:min(8, len(out))])
		}
	})
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"bad-config", []string{"--port", "a=nonsense:1"}, "nonsense"},
		{"refused-start", []string{"--port", "a=tcp:127.0.0.1:0", "--metrics", "tcp:0.0.0.0:0"}, "not a loopback address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("L2HUB_METRICS_TOKEN", "")
			p := startProcess(t, append([]string{"serve", "--control", "off", "--log-format", "json"}, tc.args...)...)
			if code := p.exit(); code != 1 {
				t.Fatalf("exit status %d, want 1; stderr:\n%s", code, p.stderr.String())
			}
			recs := jsonRecords(t, p.stderr.String())
			if r := findRecord(recs, tc.want); r == nil || r["level"] != "ERROR" {
				t.Errorf("stderr %q: want the error %q as a record at ERROR", p.stderr.String(), tc.want)
			}
		})
	}
}

// TestJSONLogsBeforeServeLogs: an error serve raises before it has made
// its log (a flag it does not know, wherever --log-format json stands; a
// bad --log-level; an argument) is a JSON record too when the command line
// asks for JSON logs. A bad --log-format, a --log-format past "--" or one
// given to another command leaves the error plain text.
func TestJSONLogsBeforeServeLogs(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		json bool
		want string
	}{
		{"unknown-flag-after", []string{"serve", "--log-format", "json", "--bogus"}, true, "unknown flag: --bogus"},
		{"unknown-flag-before", []string{"serve", "--bogus", "--log-format", "json"}, true, "unknown flag: --bogus"},
		{"unknown-flag-with-value", []string{"serve", "--bogus", "x", "--log-format=json"}, true, "unknown flag: --bogus"},
		{"bad-level", []string{"serve", "--log-format=json", "--log-level", "loud"}, true, `--log-level "loud"`},
		{"argument", []string{"serve", "--log-format", "json", "extra"}, true, `unknown command "extra"`},
		{"text", []string{"serve", "--bogus"}, false, "unknown flag: --bogus"},
		{"bad-format", []string{"serve", "--log-format", "xml"}, false, `--log-format "xml"`},
		{"bad-format-bad-level", []string{"serve", "--log-format", "jsonl", "--log-level", "loud"}, false, `--log-level "loud"`},
		{"last-format-wins", []string{"serve", "--log-format", "json", "--log-format", "xml"}, false, `--log-format "xml"`},
		{"after-dashes", []string{"serve", "--", "--log-format", "json"}, false, "unknown command"},
		{"another-command", []string{"ctl", "ports", "--log-format", "json"}, false, "unknown flag: --log-format"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := startProcess(t, tc.args...)
			if code := p.exit(); code != 1 {
				t.Fatalf("exit status %d, want 1; stderr:\n%s", code, p.stderr.String())
			}
			got := p.stderr.String()
			if !tc.json {
				if !strings.HasPrefix(got, "l2hub: ") || !strings.Contains(got, tc.want) || strings.Contains(got, `"level"`) {
					t.Errorf("stderr %q, want the plain text error \"l2hub: ...%s...\"", got, tc.want)
				}
				return
			}
			recs := jsonRecords(t, got)
			if len(recs) != 1 || recs[0]["level"] != "ERROR" || !strings.Contains(recs[0]["msg"].(string), tc.want) {
				t.Errorf("stderr %q, want one record at ERROR with %q", got, tc.want)
			}
		})
	}
}

// Without --log-format json, main's own lines stay plain text.
func TestTextLogsKeepPlainLines(t *testing.T) {
	p := startProcess(t, "serve", "--control", "off", "--port", "a=nonsense:1")
	if code := p.exit(); code != 1 {
		t.Fatalf("exit status %d, want 1", code)
	}
	if got := p.stderr.String(); !strings.HasPrefix(got, "l2hub: ") || strings.Count(got, "\n") != 1 {
		t.Errorf("stderr %q, want one line \"l2hub: <error>\"", got)
	}
}

// TestOutputWhateverTheLogLevel: the banner with the QEMU flags, the
// markers, the stop notice and the summary (with the live check's report)
// are output, not diagnostics: text and JSON show them at every
// --log-level, and JSON shows each marker once. The level still filters
// the diagnostics.
func TestOutputWhateverTheLogLevel(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		for _, level := range []string{"debug", "info", "warn", "error"} {
			t.Run(format+"/"+level, func(t *testing.T) {
				t.Parallel()
				p := startProcess(t, "serve", "--port", "a=tcp:127.0.0.1:0", "--peer", "node-a", "--peer", "node-b",
					"--check", "nexus-v1", "--control", "off", "--capture", "-", "--log-level", level, "--log-format", format)
				p.waitStderr("nexus proxy ok node-a service=bundlemgrd")
				p.waitStderr("nexus proxy ok service=bundlemgrd")
				p.sigs <- os.Interrupt
				if code := p.exit(); code != 0 && code != 2 {
					t.Fatalf("exit status %d, want 0 or 2 (a failed check); stderr:\n%s", code, p.stderr.String())
				}
				// In process, the pcapng stream goes to run's stdout, not
				// the test binary's.
				if out := p.stdout.String(); !strings.HasPrefix(out, "\x0a\x0d\x0d\x0a") {
					t.Errorf("run's stdout does not start with a pcapng section header: %q", out[:min(len(out), 16)])
				}
				got := outputOf(t, format, p.stderr.String())
				for _, want := range []string{
					"Ctrl-C stops", "-netdev stream,", "nexus session ok node-a", "nexus proxy ok service=bundlemgrd",
					procctl.StopNotice, "summary: ports a node-a node-b", "nexus-v1 check: ",
				} {
					if !slices.ContainsFunc(got, func(l string) bool { return strings.Contains(l, want) }) {
						t.Errorf("the output has no %q; stderr:\n%s", want, p.stderr.String())
					}
				}
				// Below debug, a marker is one record, not also the virtual
				// node's log record of its milestone.
				if format == "json" && level != "debug" {
					var msgs []string
					for _, r := range jsonRecords(t, p.stderr.String()) {
						msg, _ := r["msg"].(string)
						msgs = append(msgs, msg)
					}
					if n := countPrefixed(msgs, "nexus session ok node-a peer="); n != 1 {
						t.Errorf("got %d records of the marker \"nexus session ok node-a peer=...\", want 1; stderr:\n%s", n, p.stderr.String())
					}
				}
				// "listening" is a diagnostic at INFO.
				if listening := strings.Contains(p.stderr.String(), "listening"); listening != (level == "debug" || level == "info") {
					t.Errorf("at --log-level %s the diagnostic \"listening\" is logged: %v; stderr:\n%s", level, listening, p.stderr.String())
				}
			})
		}
	}
}

// outputOf is what l2hub printed for people on stderr: in text, the lines
// that are not log records; in JSON, the messages and lines of the
// records that have a kind, the summary's as "summary: ports NAME...",
// and its check's verdict.
func outputOf(t *testing.T, format, stderr string) []string {
	t.Helper()
	var out []string
	if format == "text" {
		ports := []string{}
		for l := range strings.Lines(stderr) {
			l = strings.TrimSpace(l)
			switch {
			case l == "" || strings.HasPrefix(l, "time="):
			case strings.HasPrefix(l, "a ") || strings.HasPrefix(l, "node-a ") || strings.HasPrefix(l, "node-b "):
				ports = append(ports, strings.Fields(l)[0])
				out = append(out, l)
			default:
				out = append(out, l)
			}
		}
		return append(out, "summary: ports "+strings.Join(ports, " "))
	}
	for _, r := range jsonRecords(t, stderr) {
		if r["kind"] == nil {
			continue
		}
		msg, _ := r["msg"].(string)
		out = append(out, msg)
		lines, _ := r["lines"].([]any)
		for _, l := range lines {
			s, _ := l.(string)
			out = append(out, s)
		}
		if sum, ok := r["summary"].(map[string]any); ok {
			var names []string
			ports, _ := sum["ports"].([]any)
			for _, p := range ports {
				pm, _ := p.(map[string]any)
				n, _ := pm["name"].(string)
				names = append(names, n)
			}
			out = append(out, "summary: ports "+strings.Join(names, " "))
			if check, ok := sum["check"].(map[string]any); ok {
				out = append(out, fmt.Sprintf("%v check: %v fail", check["profile"], check["fail"]))
			}
		}
	}
	return out
}

func countPrefixed(lines []string, prefix string) int {
	n := 0
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			n++
		}
	}
	return n
}
