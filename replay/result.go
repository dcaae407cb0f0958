package replay

import (
	"errors"
	"time"

	"l2hub/capture"
	"l2hub/filter"
	"l2hub/hub"
)

// What a replay did: Result and its parts (each input's share, each
// port's counters beside the live hub's, the set-policies made again) and
// Progress. Run (run.go) fills them in; summary.go prints them and a
// Job reports on them (jobreport.go).

// Switch is a run's set-policy that the replay made again
// (RunConfig.Policies).
type Switch struct {
	Input  string        `json:"input"`       // the input whose header records it
	Since  time.Duration `json:"since_ns"`    // its run time (the header's policy-since)
	Policy string        `json:"policy"`      // the replay's policy it put in force
	Hash   string        `json:"policy_hash"` // as the header records it
	Seed   uint64        `json:"seed"`
	// Err says why it could not be made: the replay stopped there (Run's
	// error says so too).
	Err string `json:"error,omitempty"`
	// OutputErr says why the replay's capture could not start a file
	// for it; the policy was put in force all the same.
	OutputErr string `json:"output_error,omitempty"`
}

// Progress is how far a replay has got.
type Progress struct {
	Frames      int64 // packets read
	Done, Total int64 // bytes of input (Total 0 when unknown)
}

// Result is what a replay did.
type Result struct {
	Start      time.Time `json:"start"`      // virtual time zero
	End        time.Time `json:"end"`        // the time of the last event
	Packets    int       `json:"packets"`    // read from all inputs
	Replayed   int       `json:"replayed"`   // sent into the hub
	Egress     int       `json:"egress"`     // outbound copies in l2hub captures (outputs, not replayed)
	Injected   int       `json:"injected"`   // of those, frames the control API injected, sent again
	Duplicates int       `json:"duplicates"` // copies of frames another input recorded being sent
	Echoes     int       `json:"echoes"`     // multicast loopback echoes in a member's own capture
	// CopiesUnseen counts, of Duplicates, those whose frame the input
	// that sent it did not hold within a second of them: they may be
	// frames no input replayed (inputs of one link that overlap in time).
	CopiesUnseen int `json:"copies_unseen,omitempty"`
	// ForSender counts the frames of a MAC another per-VM input sent
	// that were replayed, on its port, from an input that holds them,
	// as that input does not cover their time: the files one link's
	// capture is split into by time (editcap -c, a rotation).
	ForSender int            `json:"for_sender,omitempty"`
	Inputs    []InputResult  `json:"inputs"`
	Ports     []PortResult   `json:"ports"`
	Owners    []Owner        `json:"owners,omitempty"` // per-VM captures: where each source MAC went
	Rules     *filter.Stats  `json:"-"`                // per-rule counters, when the policy is a *filter.Policy (--json: control.PolicyCounters)
	Capture   *capture.Stats `json:"capture,omitempty"`
	Files     []string       `json:"files,omitempty"` // capture files written
	// Edits are the policy edits the capture recorded, in order, each
	// applied at its run time (or not: Err says why): the first
	// MaxEditResults of them; EditsLeftOut counts the rest, which were
	// applied all the same.
	Edits        []EditResult `json:"edits,omitempty"`
	EditsLeftOut int          `json:"edits_left_out,omitempty"`
	// PeerChanges counts the VM attaches and detaches the capture recorded
	// and the replay made again (capture.PeersRecorded); PeerErrors are the
	// records it could not read (the first MaxPeerErrors).
	PeerChanges int      `json:"peer_changes,omitempty"`
	PeerErrors  []string `json:"peer_errors,omitempty"`
	// Switches are the run's set-policies the replay made again, in
	// order (RunConfig.Policies). Rules are then the counters of the
	// policy in force at the end, since its switch.
	Switches []Switch `json:"policy_switches,omitempty"`
	// Discarded counts the delayed copies the hub still held at the end
	// of a capture that records its hub's stop (RunConfig.Drain), left
	// out as the live hub left them out.
	Discarded int `json:"discarded_at_end,omitempty"`

	headers []capHeader // every l2hub section's header, in the order the sections ended
}

// InputResult is one input's share.
type InputResult struct {
	Path    string      `json:"path"`
	Packets int         `json:"packets"`
	Err     *InputError `json:"stopped,omitempty"` // where reading stopped early; nil at a clean end
	// Missing counts the events an l2hub capture says it lost (its writer
	// fell behind the live hub: capture.Gaps): what they would have
	// done is not replayed.
	Missing uint64 `json:"missing,omitempty"`
	// LinesLeftOut counts the annotation lines an l2hub capture says it
	// left out for want of room (capture.LinesLeftOut): edits and
	// VM changes the replay cannot make.
	LinesLeftOut uint64 `json:"lines_left_out,omitempty"`
	// Back counts the frames stamped before a time the replay had already
	// reached (the capture's clock ran backwards); virtual time does not go
	// back, so they were replayed at the time reached. MostBack is the
	// most one of them was stamped before it.
	Back     int           `json:"back,omitempty"`
	MostBack time.Duration `json:"most_back_ns,omitempty"`
	// ClockShift is how much earlier than stamped the input's frames were
	// replayed: a per-VM capture whose clock ran ahead of the others',
	// told by the copies of frames they share (clocks.go).
	ClockShift time.Duration `json:"clock_shift_ns,omitempty"`
	// Untimed counts the frames of pcapng Simple Packet Blocks, which
	// carry no time: they were replayed at the time reached.
	Untimed int `json:"untimed,omitempty"`
	// Cut counts the frames replayed from records cut short (a snaplen:
	// the record's length on the wire is more than the bytes it holds).
	// They were given to the hub at their length on the wire, the missing
	// bytes zero, except CutTooLong of them, which claimed more than
	// hub.DefaultMaxFrame bytes and were given as recorded.
	Cut        int `json:"cut,omitempty"`
	CutTooLong int `json:"cut_too_long,omitempty"`
	// CutRead counts, of them, those that met a rule reading bytes of
	// them the capture lacks (the IP or TCP/UDP header, a payload prefix
	// past the cut, the headers a corrupt skips), told per frame from
	// its captured headers: their decisions are a what-if.
	CutRead int `json:"cut_read,omitempty"`
	// LackingRecords counts the records an l2hub capture's statistics
	// blocks count and it does not hold (deleted after the run), on
	// LackingPorts' interfaces.
	LackingRecords uint64   `json:"lacking_records,omitempty"`
	LackingPorts   []string `json:"lacking_ports,omitempty"`
	// NoStatistics: an l2hub section read to its end has no statistics
	// blocks to check against (uncheckedNote).
	NoStatistics bool `json:"no_statistics,omitempty"`

	// l2hub: the input is an l2hub capture of the run started at start;
	// last is the latest time it records.
	l2hub       bool
	start, last time.Time
}

// PortResult is one port's counters after the replay.
type PortResult struct {
	Name        string            `json:"name"`
	Description string            `json:"description"`
	Stats       hub.StatsSnapshot `json:"stats"`
	// Live are the live hub's counters of the port as the capture's last
	// statistics record them, when they do.
	Live *LiveCounters `json:"live,omitempty"`
}

// LiveCounters are a port's counters since it was added as a live hub's
// capture records them when it stops (the comment of the statistics
// blocks hub.Core.Close's capture ends with).
type LiveCounters struct {
	RxFrames uint64 `json:"rx_frames"`
	TxFrames uint64 `json:"tx_frames"`
	Dropped  uint64 `json:"dropped"`
	// Drops are the drops by reason (hub.DropReason's names), those
	// with none left out.
	Drops map[string]uint64 `json:"drops,omitempty"`
	// reasons: Drops adds up to Dropped (the comment lists them all).
	reasons bool
}

// Err returns the input errors that are more than a truncated tail (corrupt
// or unsupported data), joined; nil if every input read cleanly or merely
// ended early.
func (res *Result) Err() error {
	var errs []error
	for _, in := range res.Inputs {
		if in.Err != nil && !in.Err.Truncated() {
			errs = append(errs, in.Err)
		}
	}
	return errors.Join(errs...)
}
