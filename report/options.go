package report

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/pflag"

	"l2hub/conformance/checker"
	"l2hub/internal/atomicfile"
	"l2hub/internal/samefile"
)

// Options say what to draw.
type Options struct {
	// Capture is the pcapng (or pcap) file of the run.
	Capture string
	// Consoles are the VMs' console logs, each on its port's lifeline.
	Consoles []Console
	// Check, when not empty, runs the conformance checker with this
	// profile ("nexus-v1" or "noise-xk") and pins its findings to frames.
	// It also chooses the handshake sizes the labels assume.
	Check string
	// Title heads the page; default: the capture's file name.
	Title string
	// MinGroup is the shortest run of alike frames drawn as one arrow
	// (0: the default 3; a group has 2 or more, so 1 means 2); negative
	// draws every frame alone.
	MinGroup int
	Limits   Limits
}

// Limits bound what a report reads and keeps: a capture and its logs are
// untrusted input. Zero fields take the defaults; Build refuses negative
// ones.
type Limits struct {
	MaxFrames       int   // capture records read, of any direction or link type (500 000); the rest are left out, with a warning
	MaxPorts        int   // lifelines (256); a capture with more is refused
	HexBytes        int   // bytes of each frame kept for the hex view (256)
	MaxComment      int   // bytes of one capture comment, and of one drop's reason, shown (1024); notes are read from all of it
	MaxConsoleBytes int64 // size of one console log (64 MiB)
	MaxLineBytes    int   // bytes of one console line read (4096); the rest is dropped
	MaxMarkers      int   // markers from one console log (20 000); the rest are counted
	// What a report keeps in all, so that its memory and its page stay
	// bounded whatever the capture holds (past each, a warning says what
	// was cut):
	MaxText     int // bytes of distinct text, as the page spells it (16 MiB): comments (at most half of it), drops' reasons and rules, bands' names and specs, and markers (console lines, control changes, VMs attaching); past it comments are left out, reasons give their action only, and bands and markers keep their first 48 bytes
	MaxArrows   int // deliveries and drops (1 000 000); past it they are counted (Frame.More), not drawn
	MaxHexTotal int // bytes of the frames' hex views (32 MiB); past it each frame keeps its first 64 (its headers)
}

// Defaults.
const (
	DefaultMinGroup        = 3
	DefaultMaxFrames       = 500_000
	DefaultMaxPorts        = 256
	DefaultHexBytes        = 256
	DefaultMaxComment      = 1024
	DefaultMaxConsoleBytes = 64 << 20
	DefaultMaxLineBytes    = 4096
	DefaultMaxMarkers      = 20_000
	DefaultMaxText         = 16 << 20
	DefaultMaxArrows       = 1_000_000
	DefaultMaxHexTotal     = 32 << 20
)

// check refuses a negative limit: it would silently be the default.
func (l Limits) check() error {
	for _, f := range []struct {
		name  string
		v, to int64
	}{
		{"MaxFrames", int64(l.MaxFrames), DefaultMaxFrames},
		{"MaxPorts", int64(l.MaxPorts), DefaultMaxPorts},
		{"HexBytes", int64(l.HexBytes), DefaultHexBytes},
		{"MaxComment", int64(l.MaxComment), DefaultMaxComment},
		{"MaxConsoleBytes", l.MaxConsoleBytes, DefaultMaxConsoleBytes},
		{"MaxLineBytes", int64(l.MaxLineBytes), DefaultMaxLineBytes},
		{"MaxMarkers", int64(l.MaxMarkers), DefaultMaxMarkers},
		{"MaxText", int64(l.MaxText), DefaultMaxText},
		{"MaxArrows", int64(l.MaxArrows), DefaultMaxArrows},
		{"MaxHexTotal", int64(l.MaxHexTotal), DefaultMaxHexTotal},
	} {
		if f.v < 0 {
			return fmt.Errorf("report.Limits.%s %d: must not be negative (0 means the default %d)", f.name, f.v, f.to)
		}
	}
	return nil
}

func (l Limits) withDefaults() Limits {
	set := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	set(&l.MaxFrames, DefaultMaxFrames)
	set(&l.MaxPorts, DefaultMaxPorts)
	set(&l.HexBytes, DefaultHexBytes)
	set(&l.MaxComment, DefaultMaxComment)
	set(&l.MaxLineBytes, DefaultMaxLineBytes)
	set(&l.MaxMarkers, DefaultMaxMarkers)
	set(&l.MaxText, DefaultMaxText)
	set(&l.MaxArrows, DefaultMaxArrows)
	set(&l.MaxHexTotal, DefaultMaxHexTotal)
	if l.MaxConsoleBytes <= 0 {
		l.MaxConsoleBytes = DefaultMaxConsoleBytes
	}
	return l
}

// Write builds the report of opts and writes it to w as one HTML page. A
// lab runner calls it to put report.html in its run directory.
func Write(w io.Writer, opts Options) error {
	m, err := Build(opts)
	if err != nil {
		return err
	}
	return m.WriteHTML(w)
}

// Flags are what `l2hub report`'s flags say, as given.
type Flags struct {
	Consoles     []string // --console NAME=LOG[,offset=DUR][,match=REGEX] (ParseConsole)
	Check, Title string
	Group        int    // --group: MinGroup
	HexBytes     int    // --hex-bytes: Limits.HexBytes
	MaxFrames    int    // --max-frames: Limits.MaxFrames
	Output       string // -o: where the page goes (Model.Write)
	TruncOK      bool   // --allow-truncated (Model.Failure)
}

// Register adds `l2hub report`'s flags to fs, with their defaults.
func (f *Flags) Register(fs *pflag.FlagSet) {
	fs.StringArrayVar(&f.Consoles, "console", nil, "NAME=LOG[,offset=DUR][,match=REGEX]: a VM's console log on port NAME's lifeline (repeatable)")
	fs.StringVar(&f.Check, "check", "", "run the conformance checker with this profile (nexus-v1 or noise-xk) and pin its findings")
	fs.StringVarP(&f.Output, "output", "o", "", "the HTML file to write (- for standard output)")
	fs.StringVar(&f.Title, "title", "", "the page's title (default: the capture's file name)")
	fs.IntVar(&f.Group, "group", DefaultMinGroup, "draw runs of at least this many alike frames as one arrow (a group has 2 or more: 1 means 2; 0 means the default; -1: never)")
	fs.IntVar(&f.HexBytes, "hex-bytes", DefaultHexBytes, "bytes of each frame kept for its hex view; 0 means the default")
	fs.IntVar(&f.MaxFrames, "max-frames", DefaultMaxFrames, "capture records read (ingress, egress and non-Ethernet ones alike); later ones are left out with a warning; 0 means the default")
	fs.BoolVar(&f.TruncOK, "allow-truncated", false, "a capture cut short (a killed writer) is drawn up to the cut and the command succeeds; without it, it fails after writing the page")
}

// Run is `l2hub report` once its flags are parsed: the page of capture
// built (BuildContext) and written to -o (Model.Write), after the flags
// and the output were checked; its warnings, and a failed check, on
// stderr; then whether the command fails (Model.Failure), which a failed
// check does not make it.
func (f *Flags) Run(ctx context.Context, capture string, stdout, stderr io.Writer) error {
	if f.Output == "" {
		return fmt.Errorf("-o: say where to write the page (a file name, or - for standard output)")
	}
	opts, err := f.Options(capture)
	if err != nil {
		return err
	}
	if err := opts.CheckOutput("-o", f.Output); err != nil {
		return err
	}
	m, err := BuildContext(ctx, opts)
	if err != nil {
		return err
	}
	if err := m.Write(f.Output, stdout, stderr); err != nil {
		return err
	}
	for _, w := range m.Warnings {
		fmt.Fprintf(stderr, "l2hub report: warning: %s: %s\n", capture, w)
	}
	// The page is the command's product, so a failed check does not fail
	// the command; but a script reading only the exit status must not
	// take it for a pass, so stderr says so.
	if m.Check != nil && !m.Check.OK {
		fmt.Fprintf(stderr, "l2hub report: %s: the %s check failed (its findings head the page); the exit status does not reflect it: gate on l2hub check\n", capture, m.Check.Profile)
	}
	return m.Failure(capture, f.TruncOK)
}

// Options returns the Options the flags say for drawing capture: it
// refuses a negative --hex-bytes or --max-frames (0 means the default), a
// --group below -1 (the one negative it defines) and an unknown --check
// profile, and parses each --console, in that order, naming the flag.
func (f Flags) Options(capture string) (Options, error) {
	for _, l := range []struct {
		name   string
		v, def int
	}{{"hex-bytes", f.HexBytes, DefaultHexBytes}, {"max-frames", f.MaxFrames, DefaultMaxFrames}} {
		if l.v < 0 {
			return Options{}, fmt.Errorf("--%s %d: must not be negative (0 means the default %d)", l.name, l.v, l.def)
		}
	}
	if f.Group < -1 {
		return Options{}, fmt.Errorf("--group %d: want -1 (never group), 0 (the default %d) or a run length", f.Group, DefaultMinGroup)
	}
	if f.Check != "" {
		if _, err := checker.ParseProfile(f.Check); err != nil {
			return Options{}, fmt.Errorf("--check: %w", err)
		}
	}
	opts := Options{Capture: capture, Check: f.Check, Title: f.Title, MinGroup: f.Group}
	opts.Limits.HexBytes, opts.Limits.MaxFrames = f.HexBytes, f.MaxFrames
	for _, spec := range f.Consoles {
		c, err := ParseConsole(spec)
		if err != nil {
			return Options{}, fmt.Errorf("--console %q: %w", spec, err)
		}
		opts.Consoles = append(opts.Consoles, c)
	}
	return opts, nil
}

// CheckOutput returns an error when path, where the page is to go (named
// by flag), is a file the report reads (the capture or a console log):
// writing the page there would destroy it; or when the page cannot go
// there at all: path is a directory or a socket, or its directory does
// not exist or takes no new file (atomicfile.Check). It
// reads no capture, so that a command says so at once. "-" (standard
// output) is never one.
func (o Options) CheckOutput(flag, path string) error {
	inputs := []samefile.Input{{Path: o.Capture, What: "capture"}}
	for _, c := range o.Consoles {
		inputs = append(inputs, samefile.Input{Path: c.Path, What: "console log"})
	}
	if err := samefile.Check(flag, path, inputs...); err != nil || path == "-" {
		return err
	}
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return fmt.Errorf("%s %s: is a directory (name the page's file in it, such as %s)", flag, path, filepath.Join(path, "report.html"))
	}
	dir := filepath.Dir(path)
	fi, err := os.Stat(dir)
	switch {
	case err != nil:
		return fmt.Errorf("%s %s: %w", flag, path, err)
	case !fi.IsDir():
		return fmt.Errorf("%s %s: %s is not a directory", flag, path, dir)
	}
	// What WriteFile will find there (a socket, a directory it cannot
	// write in), as it will find it.
	if err := atomicfile.Check(path); err != nil {
		return fmt.Errorf("%s: %w", flag, err)
	}
	return nil
}

// WritesInPlace reports whether Model.WriteFile writes path in place (a
// device, a FIFO, /dev/stdout) rather than replacing a file: a command
// whose page goes to /dev/stdout says what it wrote elsewhere.
func WritesInPlace(path string) bool { return atomicfile.InPlace(path) }
