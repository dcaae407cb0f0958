package replay

import (
	"strings"
	"testing"
)

// The warning about edits made under another policy counts them right:
// "1 of the 4 ... was", "all 4 ... were".
func TestWhatIfEditsWarning(t *testing.T) {
	for _, tc := range []struct {
		name           string
		whatIf, others int
		leftOut        int
		want           string
	}{
		{"one-of-one", 1, 0, 0, "the policy edit the capture recorded was made under another policy than this replay's (the summary's edits say which): made again on this replay's, it and the decisions after it are a what-if"},
		{"one-of-four", 1, 3, 0, "1 of the 4 policy edits the capture recorded was made under another policy than this replay's (the summary's edits say which): made again on this replay's, it and the decisions after it are a what-if"},
		{"two-of-four", 2, 2, 0, "2 of the 4 policy edits the capture recorded were made under another policy than this replay's (the summary's edits say which): made again on this replay's, they and the decisions after them are a what-if"},
		{"all-four", 4, 0, 0, "all 4 policy edits the capture recorded were made under another policy than this replay's (the summary's edits say which): made again on this replay's, they and the decisions after them are a what-if"},
		{"left-out-count", 2, 0, 5, "2 of the 7 policy edits the capture recorded were made"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := &Result{EditsLeftOut: tc.leftOut}
			for i := range tc.whatIf + tc.others {
				res.Edits = append(res.Edits, EditResult{Applied: true, WhatIf: i < tc.whatIf})
			}
			var got []string
			for _, n := range (&JobResult{Result: res}).Warnings() {
				if n.Kind == NoteWhatIf {
					got = append(got, n.Text)
				}
			}
			if len(got) != 1 || !strings.HasPrefix(got[0], tc.want) {
				t.Errorf("got warnings %q, want one starting %q", got, tc.want)
			}
		})
	}
}
