package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
)

// TestVersionFlag: l2hub --version prints "l2hub VERSION ...", as the
// version command's first line starts, not cobra's "l2hub version ...".
// TestVersionNamesTheRevision checks the revision too, but only where the
// binary is stamped with one.
func TestVersionFlag(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"--version"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if want := "l2hub " + Version; !strings.HasPrefix(out.String(), want+" ") && out.String() != want+"\n" {
		t.Errorf("--version printed %q, want it to start %q", out.String(), want)
	}
}
