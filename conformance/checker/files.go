package checker

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"l2hub/capture"
)

// Input is one capture for CheckReaders.
type Input struct {
	Name string // for errors and findings: the file's path
	R    io.Reader
}

// CheckFiles checks capture files (pcap or pcapng); see CheckReaders.
func CheckFiles(opts Options, paths ...string) (Report, error) {
	inputs := make([]Input, 0, len(paths))
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return Report{}, err
		}
		defer f.Close()
		inputs = append(inputs, Input{Name: p, R: f})
	}
	return CheckReaders(opts, inputs...)
}

// CheckReaders checks one or more captures as one run. With one capture,
// findings cite its frame numbers. Several captures (two per-VM files, one
// file per hub port) are merged by timestamp, and frame numbers count in
// that merged order, as `mergecap` numbers a chronological merge; copies of
// a frame in several files are checked once. A capture cut short (a killed
// writer) is checked up to its last whole packet and the report says so,
// with the bytes of the cut one,
// as it says how many events a capture notes it lost (capture.Gaps).
// A capture that breaks part-way (a corrupt block) stops the check: the
// report of the frames before the break is returned with a *StopError
// saying where. Any other error comes with an empty report.
func CheckReaders(opts Options, inputs ...Input) (Report, error) {
	if len(inputs) == 0 {
		return Report{}, ErrNoInput
	}
	c, err := New(opts)
	if err != nil {
		return Report{}, err
	}
	defer c.Close()
	type head struct {
		r    *capture.Reader
		pkt  capture.Packet
		ok   bool
		name string
	}
	heads := make([]*head, len(inputs))
	// Events an l2hub capture says it lost (its writer fell behind the live
	// hub: capture.Gaps), and the frames noting them.
	var lost uint64
	var lostFrames []int
	advance := func(h *head) error {
		pkt, err := h.r.Next()
		switch {
		case err == nil:
			h.pkt, h.ok = pkt.Clone(), true
			return nil
		case errors.Is(err, io.EOF):
			lost += capture.Gaps(h.r.Trailer())
		case errors.Is(err, capture.ErrTruncated):
			// Less than one block, as a killed writer leaves: a length
			// that runs past the end over whole blocks is ErrCorrupt.
			cut := "its last bytes are part of one"
			if re := (*capture.ReadError)(nil); errors.As(err, &re) {
				cut = fmt.Sprintf("its last %d bytes, from byte %d, are part of one", re.Tail, re.Offset)
			}
			c.mu.Lock()
			c.agg.add(Warn, NET003, "cut "+h.name, nil, "%s ends with a cut packet (a killed writer?): %s; checked up to the last whole one", h.name, cut)
			c.mu.Unlock()
		default:
			return &StopError{Name: h.name, Err: err}
		}
		h.ok = false
		return nil
	}
	for i, in := range inputs {
		r, err := capture.NewReader(in.R, capture.ReadOptions{})
		if err != nil {
			return Report{}, fmt.Errorf("%s: %w", in.Name, err)
		}
		heads[i] = &head{r: r, name: in.Name}
	}
	report := func() Report {
		if lost > 0 {
			c.mu.Lock()
			c.agg.add(Warn, NET003, "lost", lostFrames, "the capture lost %d events (its writer fell behind the live hub): what they carried was not checked, and findings of missing frames may come from the gap", lost)
			c.mu.Unlock()
		}
		r := c.Report()
		if len(inputs) > 1 {
			names := make([]string, len(inputs))
			for i, in := range inputs {
				names[i] = in.Name
			}
			r.Note = fmt.Sprintf("frame numbers count across %s merged by timestamp (as mergecap orders them)", strings.Join(names, ", "))
		}
		return r
	}
	for _, h := range heads {
		if err := advance(h); err != nil {
			return report(), err
		}
	}
	number := 0
	for {
		next := -1
		for i, h := range heads {
			if h.ok && (next < 0 || h.pkt.Time.Before(heads[next].pkt.Time)) {
				next = i
			}
		}
		if next < 0 {
			break
		}
		h := heads[next]
		number++
		f := Frame{Number: number, Time: h.pkt.Time, Source: next, Port: h.pkt.IfName, Data: h.pkt.Data}
		if len(heads) == 1 {
			f.Number = h.pkt.Number
		}
		switch h.pkt.Dir {
		case capture.DirIn:
			f.Dir = DirIngress
		case capture.DirOut:
			f.Dir = DirEgress
		}
		f.Why = h.pkt.Comment
		f.Dropped = strings.HasPrefix(h.pkt.Comment, "dropped")
		if n := capture.Gaps(h.pkt.Comment); n > 0 {
			lost += n
			lostFrames = appendFrames(lostFrames, f.Number)
		}
		if h.pkt.LinkType != capture.LinkTypeEthernet {
			c.mu.Lock()
			c.frames++
			c.notEther++
			c.notEtherFrames = appendFrames(c.notEtherFrames, f.Number)
			c.mu.Unlock()
		} else if err := c.Feed(f); err != nil {
			return Report{}, err
		}
		if err := advance(h); err != nil {
			return report(), err
		}
	}
	return report(), nil
}
