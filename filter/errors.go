package filter

import (
	"errors"
	"fmt"
	"strings"
)

var (
	// ErrInvalid is matched (errors.Is) by every error that rejects a policy
	// file or a quick-test flag: the policy was refused whole.
	ErrInvalid = errors.New("invalid policy")
	// ErrUnknownPartition is returned by the control hooks for a partition
	// name the policy does not have.
	ErrUnknownPartition = errors.New("no such partition")
)

// maxErrors bounds how many problems one Parse reports; past it the list ends
// with a count, so a garbage file cannot produce a garbage-sized error.
const maxErrors = 50

// A FieldError is one problem in a policy: where it is and what is wrong.
// Line and Column are 1-based; 0 means unknown (a flag, or the whole file).
type FieldError struct {
	File   string // file name, or the flag ("--loss")
	Line   int
	Column int
	Path   string // rules[2].loss.probability
	Msg    string
}

func (e *FieldError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteString(":")
	}
	switch {
	case e.Line > 0 && e.Column > 0:
		fmt.Fprintf(&b, "%d:%d:", e.Line, e.Column)
	case e.Line > 0:
		fmt.Fprintf(&b, "%d:", e.Line)
	}
	if b.Len() > 0 {
		b.WriteString(" ")
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Is makes every FieldError match ErrInvalid.
func (e *FieldError) Is(target error) bool { return target == ErrInvalid }

// An ErrorList is every problem found in one policy, in file order. Parse
// and Load return one (as error) whenever the policy is refused.
type ErrorList []*FieldError

func (l ErrorList) Error() string {
	var b strings.Builder
	for i, e := range l {
		if i > 0 {
			b.WriteString("\n")
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// Is makes an ErrorList match ErrInvalid.
func (l ErrorList) Is(target error) bool { return target == ErrInvalid }

// Unwrap exposes the individual problems to errors.As.
func (l ErrorList) Unwrap() []error {
	errs := make([]error, len(l))
	for i, e := range l {
		errs[i] = e
	}
	return errs
}
