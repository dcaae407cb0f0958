package buildinfo

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"
)

// Version is l2hub's release version, recorded in captures and reports.
const Version = "0.3.0"

// Info describes the running binary.
type Info struct {
	Version   string `json:"version"`
	Revision  string `json:"revision"`       // the VCS revision, "unknown" when the build has none
	Time      string `json:"time,omitempty"` // the revision's commit time (RFC 3339)
	Modified  bool   `json:"modified"`       // built from a tree with uncommitted changes
	GoVersion string `json:"go"`
}

// Read returns the running binary's Info.
func Read() Info {
	info := Info{Version: Version, Revision: "unknown", GoVersion: runtime.Version()}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return info
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			info.Revision = s.Value
		case "vcs.time":
			info.Time = s.Value
		case "vcs.modified":
			info.Modified = s.Value == "true"
		}
	}
	return info
}

// Short is the version with the revision's first 12 digits, as --version
// prints it: "0.1.0 (3e07583c1a2b, modified)".
func (i Info) Short() string {
	rev := i.Revision
	if len(rev) > 12 {
		rev = rev[:12]
	}
	var parts []string
	parts = append(parts, rev)
	if i.Modified {
		parts = append(parts, "modified")
	}
	return fmt.Sprintf("%s (%s)", i.Version, strings.Join(parts, ", "))
}

// WriteText writes the Info as `l2hub version` prints it, one line each:
// the version, the revision (modified when the tree was), the commit time
// when known and the Go version.
func (i Info) WriteText(w io.Writer) error {
	rev := i.Revision
	switch {
	case rev == "unknown":
		rev += " (built without VCS stamping: outside a git checkout, or with -buildvcs=false)"
	case i.Modified:
		rev += " (modified)"
	}
	text := fmt.Sprintf("l2hub %s\nrevision: %s\n", i.Version, rev)
	if i.Time != "" {
		text += fmt.Sprintf("committed: %s\n", i.Time)
	}
	_, err := fmt.Fprintf(w, "%sgo: %s\n", text, i.GoVersion)
	return err
}
