// The session's capture: openCapture opens it as the Config's capture
// section says, with what its section header says about the run
// (captureMeta, configHash), warnClassicPcap warns when its format cannot
// record a policy's decisions, and checkNumbering is how the live checker
// numbers frames so that its findings cite the capture's. Its Prometheus
// counters are in capture_metrics.go; a policy replaced while running
// starts a new file (control.go).

package serve

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"

	"l2hub/capture"
	"l2hub/filter"
	"l2hub/hub"
	"l2hub/transport"
)

// warnClassicPcap warns, once a run, that a classic pcap capture loses
// what explains and replays a policy's decisions: when a policy is in force
// at the start, or later comes into force (ctl set-policy, a rule edit or a
// partition on a hub that had none).
func (s *Session) warnClassicPcap() {
	if s.classicPcap == "" {
		return
	}
	s.pcapWarned.Do(func() {
		s.log.Warn("capture: classic pcap records none of the policy's verdicts and notes, nor the seed, the policy, "+
			"the run's start, the edits made through ctl or each frame's direction (what a VM sent or received): "+
			"the run cannot be explained from it, nor replayed faithfully (replay counts policy time from its first frame "+
			"and may send delayed copies in again as frames); capture to a .pcapng file", "file", s.cfg.Capture.File, "format", s.classicPcap)
	})
}

func (s *Session) openCapture() (*capture.Sink, error) {
	c := s.cfg.Capture
	format := capture.FormatForPath(c.File)
	if c.Format != "" {
		var err error
		if format, err = capture.ParseFormat(c.Format); err != nil {
			return nil, fmt.Errorf("capture format: %w", err)
		}
	}
	points, err := c.points()
	if err != nil {
		return nil, err
	}
	if format != capture.FormatPcapng {
		s.classicPcap = format.String()
		if s.policy != nil {
			s.warnClassicPcap()
		}
	}
	cfg := capture.Config{
		Path:          c.File,
		Format:        format,
		Points:        points,
		Snaplen:       c.Snaplen,
		PerPort:       c.PerPort,
		RotateBytes:   c.RotateSize,
		RotatePackets: int64(c.RotateCount),
		CloseTimeout:  c.CloseTimeout,
		Meta:          s.captureMeta(s.policy),
		Logger:        s.log,
		Cancel:        s.opts.stop,
	}
	if w := s.opts.CaptureOut; w != nil && c.File == capture.Stdout {
		cfg.Create = func(string) (io.WriteCloser, error) { return nopCloser{w}, nil }
	}
	return capture.Open(cfg)
}

// nopCloser is a writer the capture closes without closing it: the
// caller's (Options.CaptureOut).
type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// points are the capture points the capture records.
func (c *CaptureConfig) points() (capture.Points, error) {
	if c.Points == "" {
		return capture.PointsBoth, nil
	}
	p, err := capture.ParsePoints(c.Points)
	if err != nil {
		return 0, fmt.Errorf("capture points: %w", err)
	}
	return p, nil
}

// checkNumbering is how the live checker numbers frames: the hub events
// of the capture's points, in the hub's order, so that findings cite the
// capture file's frame numbers; and the report's note when they are not
// one file's own.
func (c *CaptureConfig) checkNumbering() (capture.Points, string, error) {
	if c.File == "" {
		return capture.PointsBoth, "no capture was taken: frame numbers count the hub's events (ingress and egress) in the order it reported them", nil
	}
	points, err := c.points()
	if err != nil {
		return 0, "", err
	}
	var note string
	switch {
	case c.PerPort:
		note = fmt.Sprintf("frame numbers count the per-port files of %s merged by timestamp, as `l2hub check` of all of them numbers them, not each file's own", c.File)
	case c.RotateSize != 0 || c.RotateCount != 0:
		note = fmt.Sprintf("frame numbers count across the rotated files of %s in order, not each file's own", c.File)
	}
	return points, note, nil
}

// captureMeta is what a capture's section header says about this run with
// policy p (nil: none) in force.
func (s *Session) captureMeta(p *filter.Policy) capture.Meta {
	aging := s.cfg.Aging
	if aging == 0 {
		aging = hub.DefaultAgingTime
	}
	meta := capture.Meta{
		Version:    s.opts.Version,
		ConfigHash: s.configHash(),
		Start:      s.began,
		// peers=recorded: the capture notes every attach and detach
		// (hub.PeerPrefix) and which ports have a VM when each file starts.
		Extra: map[string]string{"mode": s.cfg.Mode.String(), "aging": aging.String(), capture.PeersKey: capture.PeersRecorded},
	}
	if p != nil {
		meta.Seed = p.Seed()
		meta.PolicyHash = p.Hash()
	}
	return meta
}

// configHash identifies the forwarding setup a capture came from.
func (s *Session) configHash() string {
	b, _ := json.Marshal(struct {
		Mode     string
		Queue    int
		Overflow string
		Stall    string
		MaxFrame int
		Aging    string
		Ports    []transport.Spec
	}{s.cfg.Mode.String(), s.cfg.Queue, s.cfg.Overflow.String(), s.cfg.Stall.String(), s.cfg.MaxFrame, s.cfg.Aging.String(), s.cfg.Ports})
	return hashText(string(b))
}

func hashText(t string) string {
	sum := sha256.Sum256([]byte(t))
	return hex.EncodeToString(sum[:8])
}
