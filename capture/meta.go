package capture

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Meta is what a capture records about the run that produced it, so that
// the file says how to reproduce itself. It is written as the pcapng section
// header's comments, one opt_comment per line ("key=value" after a first
// "l2hub capture"), which readers join with newlines:
//
//	l2hub capture
//	version=0.4.0
//	seed=42
//	config=sha256:9f2c…
//	policy=sha256:01ab…
//	start=2026-01-01T00:00:00Z
//	points=both
//	part=0
//
// The Sink adds points, part (the rotation index), in a part after the
// first meta-part (the part that started its Meta: the one a SetMeta
// started, else 0), and, in per-port files, port. Nothing about the host
// is written.
type Meta struct {
	Version    string    // l2hub's version alone ("0.1.0"); shb_userappl reads "l2hub 0.1.0"
	Seed       uint64    // the policy seed
	ConfigHash string    // a hash of the configuration as loaded ("sha256:…")
	PolicyHash string    // a hash of the policy as loaded
	Start      time.Time // the hub clock's reading at start: virtual time 0 of the run
	// Extra holds further pairs (written sorted by key). Keys are lower-case
	// letters, digits, '-', '_' and '.'; values are single lines.
	Extra map[string]string
}

// FileMeta is what ParseMeta finds in a section comment: the run's Meta and
// what the Sink added for that file.
type FileMeta struct {
	Meta
	Points Points
	Part   int // 0 for the first file, n for RotatedPath(path, n)
	// MetaPart is the part that started Meta: the one a SetMeta started
	// (Sink.SetMeta: a replaced policy's), else 0, for Meta as the Sink
	// opened with it. A part after it was started by a rotation (or a
	// failed write) under the same Meta. -1: the header does not say (a
	// part after the first written before the Sink recorded it).
	MetaPart int
	Port     string // the port, in a per-port file
}

const metaMagic = "l2hub capture"

// PeersKey is the Meta.Extra key by which a capture says, with the value
// PeersRecorded, that it notes each port's VM attaching and leaving
// (hub.PeerPrefix); each of its files' headers then also says which ports
// have one when the file starts (PeersAttachedKey), which the Sink writes
// itself.
const (
	PeersKey         = "peers"
	PeersRecorded    = "recorded"
	PeersAttachedKey = "peers-attached"
)

// The Meta.Extra keys of a file a replaced policy started (ctl
// set-policy): the policy's name, and the policy time it took over at
// (a time.Duration's String).
const (
	PolicyNameKey  = "policy-name"
	PolicySinceKey = "policy-since"
)

// SetPolicyChange makes m the header of a file that policy name (none if
// "") started at policy time since; m.Extra must not be nil.
func (m *Meta) SetPolicyChange(name string, since time.Duration) {
	if name != "" {
		m.Extra[PolicyNameKey] = name
	}
	m.Extra[PolicySinceKey] = since.String()
}

// peersAttached is a PeersAttachedKey value, in JSON.
type peersAttached struct {
	At    time.Duration `json:"at"`    // the latest change it reflects (policy time)
	Ports []string      `json:"ports"` // the ports with a VM
}

// PeersAttached returns the ports a header says have a VM when its file
// starts (PeersAttachedKey) and the policy time of the latest VM attach or
// detach that state reflects: a change noted elsewhere that is later than
// at is newer than the header (a per-port file's header is written when
// its port is added). ok is false when the header says nothing; a capture
// that records its peers but whose header has no key (an early one) says
// that no port has a VM, as of time 0.
func (m *Meta) PeersAttached() (ports []string, at time.Duration, ok bool, err error) {
	if m.Extra[PeersKey] != PeersRecorded {
		return nil, 0, false, nil
	}
	v, given := m.Extra[PeersAttachedKey]
	if !given {
		return nil, 0, true, nil
	}
	var pa peersAttached
	dec := json.NewDecoder(strings.NewReader(v))
	dec.DisallowUnknownFields()
	if strings.HasPrefix(v, "[") {
		err = dec.Decode(&pa.Ports) // an early form: the ports alone, as of 0
	} else {
		err = dec.Decode(&pa)
	}
	if err == nil && dec.More() {
		err = errors.New("text after the value")
	}
	if err == nil && (pa.At < 0 || pa.At > maxPeersAt) {
		err = fmt.Errorf("time %s out of range", pa.At)
	}
	if err != nil {
		return nil, 0, false, fmt.Errorf("header %s %.60q: %w", PeersAttachedKey, v, err)
	}
	return pa.Ports, pa.At, true, nil
}

// maxPeersAt bounds a header's peers time: a century, far beyond any run.
const maxPeersAt = 100 * 365 * 24 * time.Hour

var reservedKeys = map[string]bool{
	"version": true, "seed": true, "config": true, "policy": true,
	"start": true, "points": true, "part": true, "meta-part": true, "port": true,
}

func (m *Meta) validate() error {
	for _, kv := range [...][2]string{{"version", m.Version}, {"config hash", m.ConfigHash}, {"policy hash", m.PolicyHash}} {
		if strings.ContainsAny(kv[1], "\r\n") {
			return fmt.Errorf("meta %s %q spans lines", kv[0], kv[1])
		}
	}
	for _, k := range slices.Sorted(maps.Keys(m.Extra)) {
		v := m.Extra[k]
		if k == "" || reservedKeys[k] || strings.TrimLeft(k, "abcdefghijklmnopqrstuvwxyz0123456789-_.") != "" {
			return fmt.Errorf("meta key %q: want lower-case letters, digits, '-', '_' or '.', not one of the standard keys", k)
		}
		if strings.ContainsAny(v, "\r\n") {
			return fmt.Errorf("meta %s %q spans lines", k, v)
		}
	}
	return nil
}

// comment renders the section comment for one file: part of its
// sequence, whose Meta started at metaPart.
func (m *Meta) comment(points Points, part, metaPart int, port string) string {
	var b strings.Builder
	line := func(k, v string) {
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(v)
		b.WriteByte('\n')
	}
	b.WriteString(metaMagic + "\n")
	line("version", m.Version)
	line("seed", strconv.FormatUint(m.Seed, 10))
	line("config", m.ConfigHash)
	line("policy", m.PolicyHash)
	if !m.Start.IsZero() {
		line("start", m.Start.UTC().Format(time.RFC3339Nano))
	}
	line("points", points.String())
	line("part", strconv.Itoa(part))
	if part > 0 { // part 0 starts its Meta: the key is left out, as in captures written before it
		line("meta-part", strconv.Itoa(metaPart))
	}
	if port != "" {
		line("port", port)
	}
	for _, k := range slices.Sorted(maps.Keys(m.Extra)) {
		line(k, m.Extra[k])
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// ParseMeta reads a section comment written by a Sink (Reader.Section's
// Comment). A comment from another tool gives an error.
func ParseMeta(comment string) (FileMeta, error) {
	var fm FileMeta
	first, rest, _ := strings.Cut(comment, "\n")
	if first != metaMagic {
		return fm, fmt.Errorf("section comment is not an l2hub capture header (first line %q)", first)
	}
	metaPart := false
	for i, line := range strings.Split(rest, "\n") {
		if line == "" {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return fm, fmt.Errorf("capture header line %d %q: want key=value", i+2, line)
		}
		var err error
		switch k {
		case "version":
			fm.Version = v
		case "seed":
			fm.Seed, err = strconv.ParseUint(v, 10, 64)
		case "config":
			fm.ConfigHash = v
		case "policy":
			fm.PolicyHash = v
		case "start":
			fm.Start, err = time.Parse(time.RFC3339Nano, v)
		case "points":
			fm.Points, err = ParsePoints(v)
		case "part":
			fm.Part, err = strconv.Atoi(v)
		case "meta-part":
			fm.MetaPart, err = strconv.Atoi(v)
			metaPart = true
		case "port":
			fm.Port = v
		default:
			if fm.Extra == nil {
				fm.Extra = make(map[string]string)
			}
			fm.Extra[k] = v
		}
		if err != nil {
			return fm, fmt.Errorf("capture header line %d %q: %w", i+2, line, err)
		}
	}
	if !metaPart && fm.Part > 0 {
		fm.MetaPart = -1
	}
	return fm, nil
}
