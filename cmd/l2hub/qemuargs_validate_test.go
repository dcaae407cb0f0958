package main

import (
	"context"
	"io"
	"strings"
	"testing"
)

// TestQEMUArgsRefusesWhatServeRefuses: qemu-args validates the config as
// serve does, so that it never prints flags for a hub that would not
// start: here, a port given twice.
func TestQEMUArgsRefusesWhatServeRefuses(t *testing.T) {
	var stdout strings.Builder
	err := run(context.Background(), []string{"qemu-args", "-p", "a=tcp:127.0.0.1:1", "-p", "a=tcp:127.0.0.1:2"}, &stdout, io.Discard)
	if err == nil || !strings.Contains(err.Error(), `port "a" is already defined`) {
		t.Errorf("got %v, want the second port a refused", err)
	}
	if stdout.Len() != 0 {
		t.Errorf("printed %q, want nothing", stdout.String())
	}
}
