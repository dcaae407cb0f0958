package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"l2hub/capture"
)

// TestReplayToStdout: with the output on standard output (-o -, or
// another name of the file it is), the summary, as text or JSON, goes to
// stderr, as serve's does with --capture -, and standard output is the
// pcapng alone, which reads back to its end.
func TestReplayToStdout(t *testing.T) {
	bin := l2hubBinary(t)
	dir := t.TempDir()
	in := writeL2hubCapture(t, dir, 20)
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"dash", []string{"-o", "-"}},
		{"dash-json", []string{"-o", "-", "--json"}},
		{"dev-stdout", []string{"-o", "/dev/stdout"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "dev-stdout" {
				if _, err := os.Stat("/dev/stdout"); err != nil {
					t.Skipf("no /dev/stdout here: %v", err)
				}
			}
			outPath := filepath.Join(dir, tc.name+".out")
			out, err := os.Create(outPath)
			if err != nil {
				t.Fatal(err)
			}
			var stderr bytes.Buffer
			ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, append([]string{"replay", in}, tc.args...)...)
			cmd.Stdout, cmd.Stderr = out, &stderr
			err = cmd.Run()
			out.Close()
			if err != nil {
				t.Fatalf("l2hub replay %s: %v\n%s", strings.Join(tc.args, " "), err, stderr.String())
			}
			f, err := os.Open(outPath)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			rd, err := capture.NewReader(f, capture.ReadOptions{})
			if err != nil {
				t.Fatalf("standard output is no capture: %v", err)
			}
			n := 0
			for {
				_, err := rd.Next()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatalf("standard output, after %d packets: %v", n, err)
				}
				n++
			}
			if n == 0 {
				t.Errorf("standard output holds no packet")
			}
			summary := stderr.String()
			if strings.HasSuffix(tc.name, "json") {
				var v struct {
					Schema   int `json:"schema"`
					Replayed int `json:"replayed"`
				}
				// The notes' lines come before it, the warnings' after.
				doc := summary
				if i := strings.Index(summary, "\n{"); i >= 0 {
					doc = summary[i+1:]
				}
				if err := json.NewDecoder(strings.NewReader(doc)).Decode(&v); err != nil || v.Schema != 1 || v.Replayed != 20 {
					t.Errorf("stderr: got %+v (%v), want the JSON summary of 20 frames replayed:\n%s", v, err, summary)
				}
			} else if !strings.Contains(summary, "replayed 20 of") {
				t.Errorf("stderr has no summary:\n%s", summary)
			} else if !strings.Contains(summary, ") to standard output\n") {
				t.Errorf("the summary does not say it wrote to standard output:\n%s", summary)
			}
		})
	}
}
