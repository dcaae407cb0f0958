package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// goldenCapture is one of the checker's golden captures.
func goldenCapture(name string) string {
	return filepath.Join("..", "..", "conformance", "checker", "testdata", name+".pcapng")
}

func TestCheckCommand(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int    // 0: success; else the exitError code
		out  string // a part of stdout
	}{
		{"healthy-passes", []string{"check", goldenCapture("healthy")}, 0, "nexus-v1 check: PASS: 0 fail"},
		{"broken-fails-with-2", []string{"check", goldenCapture("data-before-handshake")}, 2, "FAIL SESS-003"},
		{"json", []string{"check", "--json", goldenCapture("wrong-key")}, 2, `"id": "DISC-005"`},
		{"noise-xk-profile", []string{"check", "--profile", "noise-xk", goldenCapture("healthy")}, 2, "handshake is not Noise XK: msg1 is 32 bytes"},
		// serve and report call the option --check: check takes that name too.
		{"noise-xk-as-check", []string{"check", "--check", "noise-xk", goldenCapture("healthy")}, 2, "handshake is not Noise XK: msg1 is 32 bytes"},
		{"nexus-v1-as-check=", []string{"check", "--check=nexus-v1", goldenCapture("healthy")}, 0, "nexus-v1 check: PASS: 0 fail"},
		{"two-captures", []string{"check", goldenCapture("healthy"), goldenCapture("healthy")}, 0, "merged by timestamp"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), tt.args, &stdout, &stderr)
			code := 0
			if err != nil {
				var ee *exitError
				if !errors.As(err, &ee) {
					t.Fatalf("got error %v, want exit status %d", err, tt.code)
				}
				code = ee.code
			}
			if code != tt.code {
				t.Errorf("got exit status %d, want %d:\n%s", code, tt.code, stdout.String())
			}
			if !strings.Contains(stdout.String(), tt.out) {
				t.Errorf("got output\n%s\nwant it to contain %q", stdout.String(), tt.out)
			}
		})
	}
}

func TestCheckCommandJSONParses(t *testing.T) {
	var stdout bytes.Buffer
	if err := run(context.Background(), []string{"check", "--json", goldenCapture("healthy")}, &stdout, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	var r struct {
		Profile  string
		Fail     int
		Findings []struct{ ID, Verdict, Message string }
	}
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		t.Fatalf("got invalid JSON: %v\n%s", err, stdout.String())
	}
	if r.Profile != "nexus-v1" || r.Fail != 0 || len(r.Findings) == 0 {
		t.Errorf("got %+v, want a passing nexus-v1 report", r)
	}
}

func TestCheckCommandErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no-capture", []string{"check"}, "no captures to check: give files as arguments"},
		{"no-capture-with-flags", []string{"check", "--json"}, "no captures to check: give files as arguments"},
		{"bad-profile", []string{"check", "--profile", "xk", goldenCapture("healthy")}, `--profile: "xk": want nexus-v1 or noise-xk`},
		{"negative-max-buffered", []string{"check", "--max-buffered", "-1", goldenCapture("healthy")}, "--max-buffered -1: must not be negative (0 means the default 65536)"},
		{"bad-profile-as-check", []string{"check", "--check", "xk", goldenCapture("healthy")}, "--profile"},
		{"missing-file", []string{"check", filepath.Join(t.TempDir(), "none.pcap")}, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := run(context.Background(), tt.args, &bytes.Buffer{}, &bytes.Buffer{})
			var ee *exitError
			if err == nil || errors.As(err, &ee) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

// TestCheckCommandCorruptHalfWay: a capture corrupt half-way gets the
// report of the frames before the bad spot, then the error saying where,
// and a non-zero exit.
func TestCheckCommandCorruptHalfWay(t *testing.T) {
	data, err := os.ReadFile(goldenCapture("healthy"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "half.pcapng")
	if err := os.WriteFile(path, corruptAt(data, len(data)/2), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout bytes.Buffer
	err = run(context.Background(), []string{"check", path}, &stdout, &bytes.Buffer{})
	if !strings.Contains(stdout.String(), "nexus-v1 check:") {
		t.Errorf("got no report of the frames before the bad spot:\n%s", stdout.String())
	}
	var ee *exitError
	if err == nil || errors.As(err, &ee) {
		t.Fatalf("got %v, want an error (exit status 1)", err)
	}
	m := regexp.MustCompile(`half\.pcapng: packet (\d+) at byte \d+: corrupt.*; the report covers the (\d+) frames before it`).FindStringSubmatch(err.Error())
	if m == nil || m[2] != strconv.Itoa(atoiStr(t, m[1])-1) {
		t.Errorf("got error %q, want where reading stopped and how many frames the report covers", err)
	}
}

func atoiStr(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
