package replay

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"

	"l2hub/capture"
	"l2hub/hub"
)

// WriteSummary prints what the replay did: inputs, ports, rules, and where
// any input stopped early.
func (res *Result) WriteSummary(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "replayed %d of %d frames", res.Replayed, res.Packets)
	var skipped []string
	if res.Egress > 0 {
		what := fmt.Sprintf("%d egress copies", res.Egress)
		if res.Injected > 0 {
			what += fmt.Sprintf(", of which the %d frames the control API injected were sent again", res.Injected)
		}
		skipped = append(skipped, what)
	}
	if res.Duplicates > 0 {
		skipped = append(skipped, fmt.Sprintf("%d copies recorded by another input", res.Duplicates))
	}
	if res.Echoes > 0 {
		skipped = append(skipped, fmt.Sprintf("%d multicast echoes", res.Echoes))
	}
	if len(skipped) > 0 {
		fmt.Fprintf(&b, " (not replayed: %s)", strings.Join(skipped, ", "))
	}
	fmt.Fprintf(&b, "; virtual time %s from %s\n", res.End.Sub(res.Start), res.Start.UTC().Format("2006-01-02T15:04:05.000000000Z"))

	if len(res.Edits) > 0 {
		b.WriteString("\npolicy edits the capture recorded (made through the control API while it ran):\n")
		for _, e := range res.Edits {
			fmt.Fprintf(&b, "  %s\n", e)
		}
		if res.EditsLeftOut > 0 {
			fmt.Fprintf(&b, "  ... and %d more, not listed\n", res.EditsLeftOut)
		}
	}

	if len(res.Switches) > 0 {
		b.WriteString("\nthe run's set-policies (ctl set-policy), made again:\n")
		for _, sw := range res.Switches {
			fmt.Fprintf(&b, "  %s\n", sw)
		}
	}

	if len(res.Owners) > 0 {
		b.WriteString("\nsource MACs:\n")
		for _, o := range res.Owners {
			fmt.Fprintf(&b, "  %s\n", o)
		}
	}

	w1 := len("port")
	for _, p := range res.Ports {
		w1 = max(w1, len(p.Name))
	}
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "\n%-*s\trx frames\trx bytes\ttx frames\ttx bytes\t  drops\n", w1, "port")
	for _, p := range res.Ports {
		s := p.Stats
		fmt.Fprintf(tw, "%-*s\t%d\t%d\t%d\t%d\t  %s\n", w1, p.Name, s.RxFrames, s.RxBytes, s.TxFrames, s.TxBytes, drops(s.Drops))
	}
	tw.Flush()

	if res.Rules != nil && (len(res.Rules.Rules) > 0 || len(res.Rules.Partitions) > 0) {
		type row struct {
			name string
			n    []uint64
		}
		var rows []row
		for _, r := range res.Rules.Rules {
			rows = append(rows, row{"rule " + r.Rule, []uint64{r.Matched, r.Dropped, r.Delayed, r.Duplicated, r.Corrupted, r.Queued, r.Overflowed}})
		}
		for _, p := range res.Rules.Partitions {
			rows = append(rows, row{"partition " + p.Name + " (" + p.Groups + ")", []uint64{0, p.Dropped}})
		}
		for _, p := range res.Rules.Ports {
			if p.Dropped > 0 {
				rows = append(rows, row{"link down " + p.Port, []uint64{0, p.Dropped}})
			}
		}
		w1 := 0
		for _, r := range rows {
			w1 = max(w1, len(r.name))
		}
		if len(res.Switches) > 0 {
			made := res.Switches
			if i := slices.IndexFunc(made, func(sw Switch) bool { return sw.Err != "" }); i >= 0 {
				made = made[:i] // the replay stopped at the one that failed
			}
			if n := len(made); n > 0 {
				fmt.Fprintf(&b, "\nrules of the policy in force at the end (%s, from %s):", made[n-1].Policy, made[n-1].Since)
			} else {
				b.WriteString("\nrules of the policy the replay started with, in force at the end:")
			}
		}
		tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "\n%-*s\tmatched\tdropped\tdelayed\tduplicated\tcorrupted\tqueued\toverflowed\t\n", w1, "")
		for _, r := range rows {
			fmt.Fprintf(tw, "%-*s", w1, r.name)
			for i := range 7 {
				switch {
				case i < len(r.n) && (i > 0 || r.n[i] > 0 || len(r.n) > 2):
					fmt.Fprintf(tw, "\t%d", r.n[i])
				default:
					fmt.Fprint(tw, "\t-")
				}
			}
			fmt.Fprint(tw, "\t\n")
		}
		tw.Flush()
	}

	if res.Capture != nil {
		files := slices.Clone(res.Files)
		for i, f := range files {
			if f == capture.Stdout {
				files[i] = "standard output"
			}
		}
		fmt.Fprintf(&b, "\nwrote %d frames (%d bytes) to %s\n", res.Capture.Written, res.Capture.Bytes, strings.Join(files, ", "))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteInputErrors writes, one line each, where an input stopped early:
// "warning" for a truncated tail, "error" for corrupt or unsupported data;
// and a warning for a capture that says it lost events, whose clock ran
// backwards or whose records were cut short. l2hub replay writes them to
// stderr, apart from the summary.
func (res *Result) WriteInputErrors(w io.Writer) error {
	var b strings.Builder
	for _, n := range res.inputNotes() {
		b.WriteString(n.String() + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// inputNotes are WriteInputErrors' lines.
func (res *Result) inputNotes() []Note {
	var ns []Note
	for _, in := range res.Inputs {
		if in.Missing > 0 {
			ns = append(ns, warning(NoteMissing, in.Path, fmt.Sprintf("the capture lost %d events (its writer fell behind the live hub, or its file failed, as on a full disk, until it went on in the next; its comments say which); the replay cannot do what they did", in.Missing)))
		}
		if in.LinesLeftOut > 0 {
			ns = append(ns, warning(NoteMissing, in.Path, fmt.Sprintf("the capture left out %d comment lines it had no room for (a burst of notes past its bound while no frame passed, or a capture that failed to write them: edits made through the control API, VMs attaching or leaving); the replay cannot make them, and its decisions after them may differ", in.LinesLeftOut)))
		}
		if in.Back > 0 {
			ns = append(ns, warning(NoteInput, in.Path, fmt.Sprintf("%d %s stamped before a time the replay had reached (a frame before %s, or the capture's start), by up to %s: the capture's clock ran backwards; %s replayed at the time reached, as virtual time does not go back",
				in.Back, plural(in.Back, "frame is", "frames are"), plural(in.Back, "it", "them"), in.MostBack, plural(in.Back, "it was", "they were"))))
		}
		if in.Untimed > 0 {
			ns = append(ns, warning(NoteInput, in.Path, fmt.Sprintf("%d %s pcapng Simple Packet Blocks, which carry no time: each was replayed at the time reached "+
				"(the start, or the frame before it), so that what a policy decides by time over them (windows, rates, delays) is not the capture's",
				in.Untimed, plural(in.Untimed, "frame comes from", "frames come from"))))
		}
		if in.Cut > 0 {
			ns = append(ns, cutNote(in))
		}
		if in.CutRead > 0 {
			ns = append(ns, warning(NoteWhatIf, in.Path, fmt.Sprintf("%d of the frames cut short met a rule that reads bytes the capture lacks of them "+
				"(a match on the IP header, protocol, ports, TCP flags or a payload prefix past the cut, or a corrupt that skips headers cut off): "+
				"what it made of the zeros the replay has for those bytes is a what-if", in.CutRead)))
		}
		if in.LackingRecords > 0 {
			ns = append(ns, lackingNote(in))
		}
		if in.NoStatistics {
			ns = append(ns, uncheckedNote(in))
		}
		if in.Err == nil {
			continue
		}
		n := newNote(NoteInput, "", fmt.Sprintf("%v (the %d frames before it were replayed)", in.Err, in.Packets))
		n.Input = in.Path
		if in.Err.Truncated() {
			n.Warning = true
		} else {
			n.Text = "error: " + n.Text
		}
		ns = append(ns, n)
	}
	return append(ns, res.followedNotes()...)
}

// followedNotes says of each l2hub input that lacks part of what its run
// recorded (it stopped early, lost events, left comment lines out, lacks
// records or its statistics) and that another input of the same run goes
// on after (a later part, another port's file) that the decisions after
// it are a what-if: what the missing part did (its frames' draws, its
// edits) is not replayed, and the later inputs are replayed as if it had
// not happened.
func (res *Result) followedNotes() []Note {
	var ns []Note
	for i, in := range res.Inputs {
		var lost []string
		switch {
		case in.Err != nil && in.Err.Truncated():
			lost = append(lost, "it is cut short")
		case in.Err != nil:
			lost = append(lost, "it stopped early on bad data")
		}
		if in.Missing > 0 {
			lost = append(lost, "it lost events")
		}
		if in.LinesLeftOut > 0 {
			lost = append(lost, "comment lines were left out")
		}
		if in.LackingRecords > 0 {
			lost = append(lost, "records were deleted")
		}
		if in.NoStatistics {
			lost = append(lost, "it has no statistics blocks, which end every file l2hub writes")
		}
		if !in.l2hub || len(lost) == 0 {
			continue
		}
		var after []string
		for j, o := range res.Inputs {
			if j != i && o.l2hub && o.start.Equal(in.start) && o.last.After(in.last) {
				after = append(after, o.Path)
			}
		}
		if len(after) == 0 {
			continue
		}
		ns = append(ns, warning(NoteWhatIf, in.Path, fmt.Sprintf("the capture lacks part of what the run recorded (%s), and the replay goes on after it with %s: "+
			"what the missing part did (its frames' draws, its edits) is not replayed, so the decisions after it are a what-if",
			strings.Join(lost, "; "), strings.Join(after, ", "))))
	}
	return ns
}

// cutNote says that frames of in were cut short when captured, and what
// the replay made of them.
func cutNote(in InputResult) Note {
	text := fmt.Sprintf("%d of the frames replayed were cut short when captured (a snaplen: serve --snaplen, editcap -s or -C): "+
		"the hub was given each at the length it had on the wire, the bytes the capture lacks as zeros, so mtu, rate and length matches "+
		"decide as the live run did, but anything that reads those bytes (a match past the cut, a corrupt rule's flips) is a what-if for them", in.Cut)
	if in.CutTooLong > 0 {
		text += fmt.Sprintf("; %d of them claim more than %d bytes and were given as recorded: length-dependent rules (mtu, rate, length matches) are a what-if for those",
			in.CutTooLong, hub.DefaultMaxFrame)
	}
	return warning(NoteCut, in.Path, text)
}

func drops(m map[string]uint64) string {
	if len(m) == 0 {
		return "-"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s=%d", k, m[k]))
	}
	return strings.Join(parts, " ")
}
