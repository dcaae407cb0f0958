package filter

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"l2hub/hub"
)

// Recording the changes made to a running policy, so that a replay makes
// them again. A hub writes each change it makes through the control API
// (a rule added, updated or removed, a partition started or healed, a link
// set up or down) into its capture as one line of a frame's comment,
// EditPrefix and the Edit in JSON, beside the line a person reads; a
// replay of that capture reads the lines back (ParseEdits) and applies
// each one (Edit.Apply) at its run time, so the decisions after the change
// are the live run's too.

// EditPrefix starts a comment line that holds an Edit.
const EditPrefix = "l2hub-edit "

// Edit operations.
const (
	EditRuleAdd        = "rule-add"
	EditRuleUpdate     = "rule-update"
	EditRuleRemove     = "rule-remove"
	EditPartitionStart = "partition-start" // Groups empty: the policy's partition Name
	EditPartitionHeal  = "partition-heal"
	EditLinkUp         = "link-up"   // Name is the port
	EditLinkDown       = "link-down" // Name is the port
)

// An Edit is one change made to a running policy.
type Edit struct {
	At     time.Duration `json:"at"` // run time, in nanoseconds in JSON
	Op     string        `json:"op"`
	Name   string        `json:"name"`             // the rule, partition or port
	Rule   string        `json:"rule,omitempty"`   // the rule's text (add, update)
	Before string        `json:"before,omitempty"` // add: the rule it goes before
	Groups [][]string    `json:"groups,omitempty"` // an ad-hoc partition's groups
}

// Line returns e as one comment line: EditPrefix and e in JSON (which
// escapes the rule's newlines).
func (e Edit) Line() string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)              // "a->b" reads as written, in Wireshark too
	if err := enc.Encode(e); err != nil { // strings, slices and an integer: never
		panic(fmt.Sprintf("filter: marshal edit: %v", err))
	}
	return EditPrefix + strings.TrimSuffix(b.String(), "\n")
}

// maxEditAt bounds an edit's run time: a century, far beyond any run and
// far below where a clock reading plus it would overflow.
const maxEditAt = 100 * 365 * 24 * time.Hour

// maxEditLine bounds a line ParseEdits reads: a rule at its largest,
// escaped.
const maxEditLine = 8*MaxRuleBytes + 1024

// ParseEdits returns the edits recorded in a frame's comment, in order,
// and an error for each line that starts with EditPrefix but does not hold
// a valid Edit (a comment cut short, a hand-edited file). Other lines are
// not its business.
func ParseEdits(comment string) ([]Edit, []error) {
	if !strings.Contains(comment, EditPrefix) {
		return nil, nil
	}
	var edits []Edit
	var errs []error
	for line := range strings.Lines(comment) {
		text, ok := strings.CutPrefix(strings.TrimRight(line, "\r\n"), EditPrefix)
		if !ok {
			continue
		}
		e, err := parseEdit(text)
		if err != nil {
			errs = append(errs, fmt.Errorf("recorded policy edit: %w", err))
			continue
		}
		edits = append(edits, e)
	}
	return edits, errs
}

func parseEdit(text string) (Edit, error) {
	var e Edit
	if len(text) > maxEditLine {
		return e, fmt.Errorf("%d bytes, more than %d", len(text), maxEditLine)
	}
	dec := json.NewDecoder(strings.NewReader(text))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return e, err
	}
	if dec.More() {
		return e, errors.New("text after the edit")
	}
	if e.At < 0 || e.At > maxEditAt {
		return e, fmt.Errorf("at %d: not a run time (0 to %d ns)", e.At, maxEditAt)
	}
	switch e.Op {
	case EditRuleAdd, EditRuleUpdate:
		if e.Rule == "" {
			return e, fmt.Errorf("%s %s: no rule", e.Op, quote(e.Name))
		}
	case EditRuleRemove, EditPartitionStart, EditPartitionHeal, EditLinkUp, EditLinkDown:
	default:
		return e, fmt.Errorf("op %s: unknown", quote(e.Op))
	}
	if e.Name == "" && !(e.Op == EditPartitionStart && len(e.Groups) > 0) {
		return e, fmt.Errorf("%s: no name", e.Op)
	}
	return e, nil
}

// Apply makes the edit on p, at run time now (e.At when replayed), with
// the same calls the control API makes. For a rule edit it returns the
// rule as the edit left it (as it was, for a removal).
func (e Edit) Apply(p *Policy, now time.Duration) (RuleDescription, error) {
	switch e.Op {
	case EditRuleAdd, EditRuleUpdate:
		rs, err := p.ParseRule([]byte(e.Rule), "rule "+e.Name, e.Name)
		if err != nil {
			return RuleDescription{}, err
		}
		if e.Op == EditRuleAdd {
			return p.AddRule(rs, e.Before)
		}
		return p.UpdateRule(rs)
	case EditRuleRemove:
		return p.RemoveRule(e.Name)
	case EditPartitionStart:
		if len(e.Groups) == 0 {
			return RuleDescription{}, p.StartPartition(now, e.Name)
		}
		_, err := p.AddPartition(now, e.Name, e.Groups)
		return RuleDescription{}, err
	case EditPartitionHeal:
		return RuleDescription{}, p.HealPartition(now, e.Name)
	case EditLinkUp, EditLinkDown:
		return RuleDescription{}, p.SetLink(now, e.Name, e.Op == EditLinkUp)
	}
	return RuleDescription{}, fmt.Errorf("op %s: unknown", quote(e.Op))
}

// Comment is how a capture records the edit, made at e.At, on the comment
// of the next frame: a line for a person ("control at 12.5s: rule
// loss-a-b added: match link=a->b: loss 5%"; d is the rule as Apply
// returned it) and Line, for a replay.
func (e Edit) Comment(d RuleDescription) string {
	return fmt.Sprintf("control at %s: %s\n%s", e.At.Round(time.Millisecond), e.note(d), e.Line())
}

// note is the person's part of Comment: String, and for a rule edit what
// the rule matches and does (or, removed, how many frames it had matched).
func (e Edit) note(d RuleDescription) string {
	var b strings.Builder
	b.WriteString(e.String())
	switch e.Op {
	case EditRuleRemove:
		fmt.Fprintf(&b, " (it had matched %d frames)", d.Counters.Matched)
	case EditRuleAdd, EditRuleUpdate:
		b.WriteString(": match ")
		if d.Match == "" {
			b.WriteString("all")
		} else {
			b.WriteString(d.Match)
		}
		if len(d.Actions) > 0 {
			b.WriteString(": " + strings.Join(d.Actions, ", "))
		}
	}
	return b.String()
}

// String describes the edit as a log line does: "rule loss-a-b added".
func (e Edit) String() string {
	switch e.Op {
	case EditRuleAdd:
		if e.Before != "" {
			return fmt.Sprintf("rule %s added before %s", e.Name, e.Before)
		}
		return fmt.Sprintf("rule %s added", e.Name)
	case EditRuleUpdate:
		return fmt.Sprintf("rule %s updated", e.Name)
	case EditRuleRemove:
		return fmt.Sprintf("rule %s removed", e.Name)
	case EditPartitionStart:
		if len(e.Groups) > 0 {
			specs := make([]string, len(e.Groups))
			for i, g := range e.Groups {
				specs[i] = strings.Join(g, ",")
			}
			return fmt.Sprintf("partition %s started: %s", e.Name, strings.Join(specs, "|"))
		}
		return fmt.Sprintf("partition %s started", e.Name)
	case EditPartitionHeal:
		return fmt.Sprintf("partition %s healed", e.Name)
	case EditLinkUp:
		return fmt.Sprintf("link %s up", e.Name)
	case EditLinkDown:
		return fmt.Sprintf("link %s down", e.Name)
	}
	return e.Op + " " + e.Name
}

// WithoutEdits returns comment without its machine lines (an edit's, a
// peer change's: hub.PeerPrefix): what a person reads of it.
func WithoutEdits(comment string) string {
	if !strings.Contains(comment, EditPrefix) && !strings.Contains(comment, hub.PeerPrefix) {
		return comment
	}
	var b strings.Builder
	for line := range strings.Lines(comment) {
		if !strings.HasPrefix(line, EditPrefix) && !strings.HasPrefix(line, hub.PeerPrefix) {
			b.WriteString(line)
		}
	}
	return strings.TrimSuffix(b.String(), "\n")
}
