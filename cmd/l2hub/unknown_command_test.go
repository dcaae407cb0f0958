package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// TestEveryGroupRefusesUnknownCommand walks the whole command tree: every
// command with subcommands, present and future, refuses an argument that
// names none of them (exit status 1, nothing on stdout) rather than print
// its help and exit 0; a group given nothing still prints its help.
func TestEveryGroupRefusesUnknownCommand(t *testing.T) {
	var groups []*cobra.Command
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		if c.HasSubCommands() {
			groups = append(groups, c)
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(newRootCmd(&bytes.Buffer{}, &bytes.Buffer{}))
	var paths []string
	for _, g := range groups {
		paths = append(paths, g.CommandPath())
	}
	for _, want := range []string{"l2hub", "l2hub ctl", "l2hub ctl rule", "l2hub capture", "l2hub completion"} {
		if !strings.Contains(strings.Join(paths, ",")+",", want+",") {
			t.Errorf("the walk found the groups %q, not %q", paths, want)
		}
	}
	for _, g := range groups {
		path := strings.Fields(g.CommandPath())[1:]
		t.Run(strings.Join(append([]string{"l2hub"}, path...), "_"), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), append(path, "nosuchcommand", "x"), &stdout, &stderr)
			want := fmt.Sprintf("unknown command %q for %q", "nosuchcommand", g.CommandPath())
			var ee *exitError
			if err == nil || errors.As(err, &ee) || !strings.Contains(err.Error(), want) {
				t.Errorf("got %v, want an error (exit status 1) containing %q", err, want)
			}
			if stdout.Len() != 0 {
				t.Errorf("printed on stdout:\n%s", stdout.String())
			}
			if len(path) == 0 {
				return // l2hub alone serves
			}
			stdout.Reset()
			if err := run(context.Background(), path, &stdout, &stderr); err != nil {
				t.Errorf("with no arguments: %v", err)
			}
			if !strings.Contains(stdout.String(), "Available Commands:") {
				t.Errorf("with no arguments, printed no help:\n%s", stdout.String())
			}
		})
	}
}

// TestMistypedCommandSuggests: a mistyped subcommand is an unknown command
// with cobra's suggestions, also when flags of the command meant follow it.
func TestMistypedCommandSuggests(t *testing.T) {
	for _, tc := range []struct {
		args             string
		unknown, parent  string
		suggest, notFlag string
	}{
		{"ctl partiton split", "partiton", "l2hub ctl", "partition", ""},
		{"ctl sports", "sports", "l2hub ctl", "ports", ""},
		{"ctl rule ad x", "ad", "l2hub ctl rule", "add", ""},
		{"capture repar x", "repar", "l2hub capture", "repair", ""},
		{"completion bsh", "bsh", "l2hub completion", "bash", ""},
		{"repaly", "repaly", "l2hub", "replay", ""},
		{"srve --control off", "srve", "l2hub", "serve", "unknown flag"},
		{"ctl partiton --nosuchflag", "partiton", "l2hub ctl", "partition", "unknown flag"},
		{"help srve", "srve", "l2hub", "serve", ""},
		{"help ctl partiton", "partiton", "l2hub ctl", "partition", ""},
		{"repaly --help", "repaly", "l2hub", "replay", ""},
		{"ctl prots --help", "prots", "l2hub ctl", "ports", ""},
		{"ctl --control /tmp/x.sock prots -h", "prots", "l2hub ctl", "ports", ""},
		{"capture repar --help", "repar", "l2hub capture", "repair", ""},
	} {
		t.Run(tc.args, func(t *testing.T) {
			var stdout bytes.Buffer
			err := run(context.Background(), strings.Fields(tc.args), &stdout, &bytes.Buffer{})
			want := fmt.Sprintf("unknown command %q for %q\n\nDid you mean this?\n", tc.unknown, tc.parent)
			if err == nil || !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), "\t"+tc.suggest) {
				t.Fatalf("got %v, want %q suggesting %s", err, want, tc.suggest)
			}
			if tc.notFlag != "" && strings.Contains(err.Error(), tc.notFlag) {
				t.Errorf("got %v, want the unknown command, not the flag", err)
			}
			if stdout.Len() != 0 {
				t.Errorf("printed on stdout:\n%s", stdout.String())
			}
		})
	}
}

// TestUnknownFlagOfAGroup: a group's own unknown flag, before any
// subcommand, is still an unknown flag.
func TestUnknownFlagOfAGroup(t *testing.T) {
	err := run(context.Background(), []string{"ctl", "--nosuchflag"}, &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil || !strings.HasPrefix(err.Error(), "unknown flag: --nosuchflag") {
		t.Errorf("got %v, want unknown flag: --nosuchflag", err)
	}
}

// help on a command prints its help; on a topic that names none it fails
// as the mistyped command would (cobra printed "Unknown help topic", exit 0).
func TestHelpOfNothingFails(t *testing.T) {
	var stdout bytes.Buffer
	if err := run(context.Background(), []string{"help", "ctl", "rule", "add"}, &stdout, &bytes.Buffer{}); err != nil || !strings.Contains(stdout.String(), "--before") {
		t.Errorf("help ctl rule add: %v, printed %q; want add's help", err, stdout.String())
	}
	stdout.Reset()
	err := run(context.Background(), []string{"help", "nosuchtopic"}, &stdout, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), `unknown command "nosuchtopic" for "l2hub"`) || stdout.Len() != 0 {
		t.Errorf("help nosuchtopic: %v, printed %q; want an unknown command and nothing on stdout", err, stdout.String())
	}
}
