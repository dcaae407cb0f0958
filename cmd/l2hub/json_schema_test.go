package main

import (
	"strings"
	"testing"
)

// TestJSONDocumentsStartWithSchema: version --json and check --json, as
// every document a script reads, start with "schema": 1 (inject --json's
// is checked with a hub, in TestJSONOutputs).
func TestJSONDocumentsStartWithSchema(t *testing.T) {
	for _, args := range [][]string{
		{"version", "--json"},
		{"check", "--json", goldenCapture("healthy")},
	} {
		out, _, err := runCmd(t, args...)
		if err != nil {
			t.Fatalf("l2hub %s: %v", strings.Join(args[:2], " "), err)
		}
		if !strings.HasPrefix(out, "{\n  \"schema\": 1,") {
			t.Errorf("l2hub %s printed:\n%s\nwant it to start with \"schema\": 1", strings.Join(args[:2], " "), out)
		}
	}
}
