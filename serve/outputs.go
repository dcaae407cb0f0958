package serve

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"l2hub/capture"
	"l2hub/control"
	"l2hub/internal/samefile"
	"l2hub/transport"
)

// file is a file a run writes: what it is to the user and the flag or
// key that names it.
type file struct {
	path string
	what string // "policy", "summary", "control socket"
	by   string // "--policy", "capture.file", "--port b=unix:b.sock"
}

// inputs are the files the run reads: the config, the policy and the
// token files.
func (c *Config) inputs() []samefile.Input {
	var in []samefile.Input
	for _, f := range []samefile.Input{
		{Path: c.source, What: "config"},
		{Path: c.Policy, What: "policy"},
		{Path: c.ControlTokenFile, What: "control token file"},
		{Path: c.tokenFile, What: "control token file"},
		{Path: c.MetricsTokenFile, What: "metrics token file"},
		{Path: c.metricsTokenFile, What: "metrics token file"},
	} {
		if f.Path != "" && f.Path != "-" {
			in = append(in, f)
		}
	}
	return in
}

// outputs are the files the run binds or writes, besides the capture's:
// the control socket, the ports' socket files, the ready file and the
// summary.
func (c *Config) outputs(opts Options) []file {
	var out []file
	if c.Control != "off" {
		addr := c.Control
		if addr == "" {
			addr = control.DefaultAddr()
		}
		if network, path := control.ParseAddr(addr); network == "unix" && !strings.HasPrefix(path, "@") {
			out = append(out, file{path, "control socket", c.nameOf("control")})
		}
	}
	for i, p := range c.Ports {
		if (p.Transport == transport.Unix || p.Transport == transport.Unixgram) && !strings.HasPrefix(p.Address, "@") {
			out = append(out, file{p.Address, fmt.Sprintf("port %s's socket", p.Name), c.nameOf(fmt.Sprintf("ports[%d]", i), "address")})
		}
	}
	if opts.ReadyFile != "" {
		out = append(out, file{opts.ReadyFile, "ready file", "--ready-file"})
	}
	if opts.SummaryFile != "" {
		out = append(out, file{opts.SummaryFile, "summary", "--summary"})
	}
	return out
}

// nameOf is how a message names the field at key: the flag that set it,
// else the key itself (capture.file, ports[1].address); sub is appended
// to a key, never to a flag, whose value says it.
func (c *Config) nameOf(key string, sub ...string) string {
	if flag, ok := c.from[key]; ok {
		return flag
	}
	return strings.Join(append([]string{key}, sub...), ".")
}

// checkSameFiles refuses a run that would write over a file it reads (the
// config, the policy, a token file) or write two of its outputs (the
// capture's files, the summary, the ready file, the control and port
// sockets) to one file: the later write would destroy the earlier, a
// hand-written policy or a run's whole capture. It opens nothing.
func checkSameFiles(cfg *Config, opts Options) error {
	inputs := cfg.inputs()
	capBy, ports := cfg.nameOf("capture.file"), cfg.PortNames()
	for _, in := range inputs {
		name, ok := cfg.Capture.writes(in.Path, ports)
		switch {
		case !ok:
			continue
		case name == cfg.Capture.File:
			if err := samefile.Check(capBy, name, in); err != nil {
				return err
			}
		}
		same := ""
		if in.Path != name {
			same = " (" + in.Path + ")"
		}
		return fmt.Errorf("%s %s writes %s, which is the %s it reads%s: writing it would destroy it; write somewhere else", capBy, cfg.Capture.File, name, in.What, same)
	}
	outputs := cfg.outputs(opts)
	for i, o := range outputs {
		if err := samefile.Check(o.by, o.path, inputs...); err != nil {
			return err
		}
		if name, ok := cfg.Capture.writes(o.path, ports); ok {
			if cfg.Capture.File == capture.Stdout {
				return fmt.Errorf("%s - and %s %s both want standard output: the %s would land in the pcapng stream; give the %s a file of its own", capBy, o.by, o.path, o.what, o.what)
			}
			return sameOutput(o, file{name, "capture", capBy + " " + cfg.Capture.File})
		}
		for _, p := range outputs[:i] {
			if samefile.Overwrites(o.path, p.path) {
				return sameOutput(o, p)
			}
		}
	}
	return nil
}

// sameOutput is the error for two outputs that are one file.
func sameOutput(o, other file) error {
	what := other.what
	if !strings.HasPrefix(what, "port ") { // port a's socket
		what = "the " + what
	}
	return fmt.Errorf("%s %s is also %s (%s): one would overwrite the other; give each its own file", o.by, o.path, what, other.by)
}

// writes reports whether path is one of the files the capture writes,
// and which: the capture file, or with PerPort each port's
// (capture.PortPath), and the numbered files that follow each (a
// rotation, a set-policy or a failed write goes on in run-0001.pcapng:
// capture.RotatedPath), by name or as another link to one that exists.
// Standard output and a named pipe are one stream, never numbered; with
// the capture on standard output, path is it when it is the file
// standard output has open (/dev/stdout, /proc/self/fd/1, the file the
// shell sent it to). A character device is no file a write destroys
// (samefile.Overwrites): never one the capture writes.
func (c *CaptureConfig) writes(path string, ports []string) (string, bool) {
	if c.File == "" || path == "" || path == capture.Stdout {
		return "", false
	}
	if c.File == capture.Stdout {
		if capture.WritesStdout(path) {
			return "standard output", true
		}
		return "", false
	}
	bases := []string{c.File}
	if c.PerPort {
		bases = bases[:0]
		for _, p := range ports {
			bases = append(bases, capture.PortPath(c.File, p))
		}
	}
	var entries []string // what the capture's directory holds, read once, when path exists
	_, err := os.Stat(path)
	exists := err == nil
	for _, base := range bases {
		if samefile.Overwrites(base, path) {
			return base, true
		}
		if fi, err := os.Stat(base); err == nil && fi.Mode()&(fs.ModeNamedPipe|fs.ModeCharDevice) != 0 {
			continue // one stream, never numbered
		}
		if n, ok := capture.RotatedPart(base, path); ok {
			if next := capture.RotatedPath(base, n); samefile.Same(next, path) {
				return next, true
			}
		}
		if !exists {
			continue
		}
		// A numbered file already there may be another link to path.
		if entries == nil {
			dir := filepath.Dir(c.File)
			ents, _ := os.ReadDir(dir)
			entries = make([]string, 0, len(ents))
			for _, e := range ents {
				entries = append(entries, filepath.Join(dir, e.Name()))
			}
		}
		for _, part := range entries {
			if _, ok := capture.RotatedPart(base, part); ok && samefile.Same(part, path) {
				return part, true
			}
		}
	}
	return "", false
}
