package filter

import (
	"errors"

	"l2hub/internal/yamlfile"
)

var (
	// ErrInvalid is matched (errors.Is) by every error that rejects a policy
	// file or a quick-test flag: the policy was refused whole.
	ErrInvalid = errors.New("invalid policy")
	// ErrUnknownPartition is returned by the control hooks for a partition
	// name the policy does not have.
	ErrUnknownPartition = errors.New("no such partition")
	// ErrUnknownRule is returned by the rule edits (UpdateRule,
	// RemoveRule, AddRule's before) for a rule name the policy does not
	// have.
	ErrUnknownRule = errors.New("no such rule")
	// ErrRuleExists is returned by AddRule for a name the policy already
	// has.
	ErrRuleExists = errors.New("a rule of that name exists")
)

// quote quotes a value the user wrote, for a message, shortened when it is
// long (yamlfile.Quote): a hostile name or value must not make a
// megabyte-sized error.
func quote(s string) string { return yamlfile.Quote(s) }

// shown is a value the user wrote as a message shows it unquoted ("150%
// is more than 100%"): as it is, or quoted and shortened when it is long
// (yamlfile.Shown).
func shown(s string) string { return yamlfile.Shown(s) }

// maxErrors bounds how many problems one Parse reports; past it the list ends
// with a count, so a garbage file cannot produce a garbage-sized error.
const maxErrors = 50

// A FieldError is one problem in a policy: where it is and what is wrong.
// Line and Column are 1-based; 0 means unknown (a flag, or the whole file).
// It matches ErrInvalid (errors.Is).
type FieldError = yamlfile.Error

// An ErrorList is every problem found in one policy, in file order. Parse
// and Load return one (as error) whenever the policy is refused; it
// matches ErrInvalid.
type ErrorList = yamlfile.List
