package main

import (
	"io"
	"strings"
	"testing"

	"l2hub/control"
)

// TestHelpNamesTheDefaultControlAddress: the help that names the default
// control address names the one the program uses, control.DefaultAddr:
// helpVars must hand over that value, not another.
func TestHelpNamesTheDefaultControlAddress(t *testing.T) {
	root := newRootCmd(io.Discard, io.Discard)
	wait, _, err := root.Find([]string{"wait"})
	if err != nil {
		t.Fatal(err)
	}
	if want := "(--control, default " + control.DefaultAddr() + ")"; !strings.Contains(wait.Long, want) {
		t.Errorf("got wait's Long = %q, want it to hold %q", wait.Long, want)
	}
}
