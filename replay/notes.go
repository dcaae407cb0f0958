package replay

import "strings"

// Note is a remark about a replay that a user must see to judge it: why
// its decisions may not be the live run's (a what-if), what an input lacks
// or how a guess was made. `l2hub replay` writes each on stderr, one line,
// and in --json's notes, so that a job keeping only the JSON can tell a
// faithful replay from a what-if.
type Note struct {
	Kind  NoteKind `json:"kind"`
	Input string   `json:"input,omitempty"` // the input it is about, if one
	// Text is the line stderr has after "l2hub replay: " (and "warning: ",
	// when Warning), naming Input first when there is one.
	Text    string `json:"text"`
	Warning bool   `json:"warning,omitempty"`
}

// newNote is a note about input ("" for none), its text prefixed with it.
func newNote(kind NoteKind, input, text string) Note {
	if input != "" {
		text = input + ": " + text
	}
	return Note{Kind: kind, Input: input, Text: oneLine(text)}
}

// warning is newNote for a warning.
func warning(kind NoteKind, input, text string) Note {
	n := newNote(kind, input, text)
	n.Warning = true
	return n
}

// String is the note as stderr has it, after "l2hub replay: ".
func (n Note) String() string {
	if n.Warning {
		return "warning: " + n.Text
	}
	return n.Text
}

// NoteKind says what a Note is about.
type NoteKind string

const (
	// NoteWhatIf: the replay runs a policy the run did not have over some
	// or all of its time (another policy, none, a run's set-policy, an
	// edit made under another policy): those decisions are a what-if.
	NoteWhatIf NoteKind = "what-if"
	// NoteHeader: what an input's capture header says, or lacks (headers
	// that disagree, no start time, a header another tool rewrote).
	NoteHeader NoteKind = "header"
	// NoteCut: frames recorded shorter than they were (a snaplen).
	NoteCut NoteKind = "cut"
	// NoteMissing: records or events the capture lacks (its writer fell
	// behind, records deleted after the run).
	NoteMissing NoteKind = "missing-records"
	// NoteOwnerGuess: a source MAC's port was guessed.
	NoteOwnerGuess NoteKind = "owner-guess"
	// NoteCopies: frames not replayed as copies of another input's, which
	// that input does not hold (Result.CopiesUnseen).
	NoteCopies NoteKind = "copies"
	// NoteEgressOnly: an input holds no ingress to replay.
	NoteEgressOnly NoteKind = "egress-only"
	// NoteInput: where an input stopped early, or its clock ran backwards.
	NoteInput NoteKind = "input"
	// NoteClock: a per-VM input whose clock disagreed with the others',
	// replayed earlier than stamped (or, when no shift explains the
	// copies, not lined up: a warning).
	NoteClock NoteKind = "clock"
	// NoteEdit: a recorded policy edit that could not be made again.
	NoteEdit NoteKind = "edit"
	// NoteQueues: copies the live ports' queues dropped (queue-full,
	// stalled, backlog-full) after the hub's decision, which a replay,
	// having no queues, sends.
	NoteQueues NoteKind = "queues"
	// NoteEnd: delayed copies the hub held at the end of a capture that
	// records its stop, discarded as the live hub discarded them.
	NoteEnd NoteKind = "end"
)

// WhatIf reports whether any note says the decisions are, in part or
// whole, a what-if rather than the run's.
func WhatIf(notes []Note) bool {
	for _, n := range notes {
		if n.Kind == NoteWhatIf {
			return true
		}
	}
	return false
}

// oneLine keeps a note on one line of stderr.
func oneLine(s string) string { return strings.ReplaceAll(s, "\n", " ") }
