package replay

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"l2hub/control"
	"l2hub/hub"
)

// A job's report: what `l2hub replay` prints of a JobResult (Report), the
// warnings the result gives after the run (Warnings), among them the
// ports whose counters differ from the live hub's (liveDiffers), and why
// a replay that ran must still fail (Failure).

// Report writes what `l2hub replay` prints of the result: the summary on
// out (as JSON with asJSON, with every note, Run's and Warnings', in
// notes), and on warn, a line each, the warnings (Warnings). With the
// output capture on standard output (OutputStdout) the summary, JSON too,
// goes on warn, as serve's does with --capture -: on out it would follow
// the pcapng in one stream.
func (r *JobResult) Report(out, warn io.Writer, asJSON bool) error {
	if r.OutputStdout {
		out = warn
	}
	var err error
	warnings := r.Warnings()
	if asJSON {
		v := struct {
			Schema     int    `json:"schema"` // control.Schema
			Policy     string `json:"policy,omitempty"`
			PolicyHash string `json:"policy_hash,omitempty"`
			Seed       uint64 `json:"seed"` // 0 without a policy
			SeedFrom   string `json:"seed_from,omitempty"`
			Mode       string `json:"mode"`
			// WhatIf: a note says the decisions are, in part or whole,
			// not the run's (NoteWhatIf).
			WhatIf bool   `json:"what_if"`
			Notes  []Note `json:"notes"`
			*Result
			// The rules' counters (Result.Rules) as serve's summary and
			// ctl rules --json give them.
			control.PolicyCounters
		}{Schema: control.Schema, Mode: r.Mode.String(), SeedFrom: r.SeedFrom, Result: r.Result, PolicyCounters: control.NewPolicyCounters(r.Rules)}
		v.Notes = append(slices.Clone(r.Notes), warnings...)
		if v.Notes == nil {
			v.Notes = []Note{}
		}
		v.WhatIf = WhatIf(v.Notes)
		if pol := r.Policy; pol != nil {
			v.Policy, v.PolicyHash, v.Seed = pol.Name(), r.PolicyHash, pol.Seed()
		}
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false) // links as a->b, not a-\u003eb
		err = enc.Encode(v)
	} else {
		if pol := r.Policy; pol != nil {
			fmt.Fprintf(out, "policy %s (hash %s), seed %d (from %s); %s mode\n", pol.Name(), r.PolicyHash, pol.Seed(), r.SeedFrom, r.Mode)
		}
		err = r.WriteSummary(out)
	}
	for _, n := range warnings {
		fmt.Fprintf(warn, "l2hub replay: %s\n", n)
	}
	return err
}

// Warnings are the notes the result gives, after the run: where inputs
// stopped early, lost events or ran their clock backwards, frames cut
// short, owners guessed, and edits that could not be made again or were
// made under another policy.
func (r *JobResult) Warnings() []Note {
	ns := r.inputNotes()
	for _, o := range r.Owners {
		if o.How == ownerFirst {
			ns = append(ns, warning(NoteOwnerGuess, "", fmt.Sprintf("%s's frames went to port %s by a guess: the inputs hold them alike "+
				"(as a classic pcap per port of one link does); name its port with --port NAME=%s, or capture as pcapng, "+
				"which records each frame's port", macString(o.MAC), o.Port, macString(o.MAC))))
		}
	}
	// A few copies a sender's file lacks (its clock far off the
	// others', frames evicted from a busy window) are no sign; many are
	// frames no input replayed.
	if n := r.CopiesUnseen; n > 0 && n*20 >= r.Duplicates {
		ns = append(ns, warning(NoteCopies, "", fmt.Sprintf("%d of the %d frames not replayed as copies recorded by another input (the input of the VM "+
			"that sent them, by their source MAC) have no such frame in that input within %s: if the inputs are not per-VM captures of one run "+
			"(captures of one link that overlap in time, of different links), those frames were replayed by no input; "+
			"replay such files one at a time, or merge them into one (mergecap)", n, r.Duplicates, copyWindow)))
	}
	for _, sw := range r.Switches {
		if sw.Err != "" {
			ns = append(ns, warning(NoteWhatIf, sw.Input, fmt.Sprintf("the run's set-policy at %s (to %s) could not be made again: %s; "+
				"the replay stopped there: the run's decisions from then on are not replayed, and what it wrote ends there", sw.Since, sw.Policy, sw.Err)))
		}
	}
	for _, msg := range r.PeerErrors {
		ns = append(ns, warning(NoteEdit, "", fmt.Sprintf("VM attach or detach the capture noted could not be read (%s); the deliveries after it may differ from the live run's", msg)))
	}
	whatIf := 0
	for _, e := range r.Edits {
		switch {
		case e.Err != "":
			ns = append(ns, warning(NoteEdit, "", fmt.Sprintf("policy edit %s; the decisions after it may differ from the live run's", e)))
		case e.WhatIf:
			whatIf++
		}
	}
	if whatIf > 0 {
		ns = append(ns, warning(NoteWhatIf, "", whatIfEdits(whatIf, len(r.Edits)+r.EditsLeftOut)))
	}
	if r.Discarded > 0 {
		// The cutoff is made only for a replay that starts as the run's
		// (Job.Run); one that turns out a what-if (an edit made under
		// another policy, a later section's header) delivers copies that
		// the live hub may not have held.
		what := "which the live hub discarded as it stopped"
		if WhatIf(r.Notes) || WhatIf(ns) {
			what = "where the run stopped; a hub stopped there discards what it holds, as the live one did"
		}
		ns = append(ns, newNote(NoteEnd, "", fmt.Sprintf("%d delayed %s still held at the capture's end (%s after the start), "+
			"%s: the replay discarded %s too (--drain delivers them)",
			r.Discarded, plural(r.Discarded, "copy was", "copies were"), r.End.Sub(r.Start), what, plural(r.Discarded, "it", "them"))))
	}
	// A replay that says it is the run's must count what the run counted;
	// one that replayed nothing has failed already, and says why.
	if !WhatIf(r.Notes) && !WhatIf(ns) && (r.Replayed > 0 || r.Injected > 0) {
		ns = append(ns, r.liveDiffers()...)
	}
	return ns
}

func plural(n int, one, more string) string {
	if n == 1 {
		return one
	}
	return more
}

// replayedDrops are the drop reasons a replay decides as the live hub
// did, from what its capture records: the policy's, the forwarding
// rules' and the bound on delayed frames. The others happen before a
// frame reaches the hub's decisions (runt, foreign-source,
// kernel-overflow, bad-encap, other-vni, own-echo: the capture never sees
// the frame), or after them, in the live ports' queues and transports
// (flowControlDrops; write-error, oversize), which a replay does not
// have. port-down is both: the hub's, for a port with no VM, and a
// transport's, for a write that failed after the hub queued the copy (a
// unixgram VM not bound yet), counted in tx as well; the counters cannot
// tell them apart, so it is not compared.
var replayedDrops = []hub.DropReason{hub.DropPolicy, hub.DropReflect, hub.DropSplitHorizon, hub.DropDelayFull}

// flowControlDrops are the copies a live port's queue refused after the
// hub decided to send them (its peer slow or gone): a replay has no
// queues and sends them, so the live hub decided to send tx plus these.
var flowControlDrops = []hub.DropReason{hub.DropQueueFull, hub.DropStalled, hub.DropBacklogFull}

// liveDiffers notes which ports' counters differ from the live hub's, as
// the capture's last statistics record them (PortResult.Live): rx, tx and
// the drops of each reason a replay decides (replayedDrops), when the
// capture lists them. A port whose live queue dropped copies
// (flowControlDrops) is compared on the copies the live hub decided to
// send, tx and those drops, and a note of its own says so.
func (r *JobResult) liveDiffers() []Note {
	var diffs, queued []string
	for _, p := range r.Ports {
		l := p.Live
		if l == nil {
			continue
		}
		var d []string
		add := func(what string, got, lived uint64) {
			if got != lived {
				d = append(d, fmt.Sprintf("%s %d, live %d", what, got, lived))
			}
		}
		add("rx", p.Stats.RxFrames, l.RxFrames)
		var flow uint64
		var why []string
		for _, reason := range flowControlDrops {
			if n := l.Drops[reason.String()]; n > 0 {
				flow += n
				why = append(why, fmt.Sprintf("%s %d", reason, n))
			}
		}
		if flow == 0 {
			add("tx", p.Stats.TxFrames, l.TxFrames)
		} else {
			queued = append(queued, fmt.Sprintf("port %s: %s", p.Name, strings.Join(why, ", ")))
			if p.Stats.TxFrames != l.TxFrames+flow {
				d = append(d, fmt.Sprintf("tx %d, live %d and %s", p.Stats.TxFrames, l.TxFrames, strings.Join(why, ", ")))
			}
		}
		if l.reasons {
			for _, reason := range replayedDrops {
				add("dropped "+reason.String(), p.Stats.Drops[reason.String()], l.Drops[reason.String()])
			}
		}
		if len(d) > 0 {
			diffs = append(diffs, "port "+p.Name+": "+strings.Join(d, ", "))
		}
	}
	var ns []Note
	if len(queued) > 0 {
		ns = append(ns, newNote(NoteQueues, "", fmt.Sprintf("the live hub's queues dropped copies it had decided to send (%s), which the replay sent: "+
			"a replay has no queues, so its tx is compared with the live tx plus them, and its output has those copies where the capture records them dropped", strings.Join(queued, "; "))))
	}
	if len(diffs) > 0 {
		ns = append(ns, warning(NoteWhatIf, "", fmt.Sprintf("the replay's counters differ from those the capture's last statistics record of the live hub (%s): "+
			"its decisions or deliveries are not all the run's", strings.Join(diffs, "; "))))
	}
	return ns
}

// whatIfEdits is the warning for n of the total policy edits a capture
// recorded that were made under another policy than the replay's.
func whatIfEdits(n, total int) string {
	which, were, they, them := fmt.Sprintf("%d of the %d policy edits the capture recorded", n, total), "were", "they", "them"
	switch {
	case n == 1 && total == 1:
		which = "the policy edit the capture recorded"
	case n == total:
		which = fmt.Sprintf("all %d policy edits the capture recorded", total)
	}
	if n == 1 {
		were, they, them = "was", "it", "it"
	}
	return fmt.Sprintf("%s %s made under another policy than this replay's (the summary's edits say which): "+
		"made again on this replay's, %s and the decisions after %s are a what-if", which, were, they, them)
}

// Failure is why a replay that ran must still fail: an input it stopped
// at (the frames before it were replayed), or one cut short unless
// truncOK accepts that, or inputs that held nothing to replay but egress
// copies.
func (r *JobResult) Failure(truncOK bool) error {
	if err := r.Err(); err != nil {
		return fmt.Errorf("replay stopped early on bad input (the frames before it were replayed): %w", err)
	}
	for _, in := range r.Inputs {
		if in.Err != nil && in.Err.Truncated() && !truncOK {
			return fmt.Errorf("%w (the %d frames before the cut were replayed; --allow-truncated accepts a capture cut short)", in.Err, in.Packets)
		}
	}
	if r.Replayed == 0 && r.Injected == 0 && r.Packets > 0 {
		if err := egressOnly(r.Notes); err != nil {
			return fmt.Errorf("replayed none of the %d frames: %w", r.Packets, err)
		}
	}
	return nil
}

// egressOnly says which inputs the notes say hold only egress copies
// (NoteEgressOnly), if any.
func egressOnly(notes []Note) error {
	var egress []string
	for _, n := range notes {
		if n.Kind == NoteEgressOnly {
			egress = append(egress, n.Input)
		}
	}
	if len(egress) == 0 {
		return nil
	}
	return fmt.Errorf("%s %s only egress copies (what ports received, as --capture-points egress records); "+
		"replay needs what the ports sent: capture with --capture-points ingress or both", strings.Join(egress, ", "), hasHave(len(egress)))
}

func hasHave(n int) string {
	if n == 1 {
		return "has"
	}
	return "have"
}
