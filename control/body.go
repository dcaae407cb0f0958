// body.go reads and checks request bodies before the Target sees them: a
// policy upload (ReadPolicy), one rule (ReadRule), a partition
// (DecodePartition, through jsonbody.go's strict decoder), and each
// route's Content-Type (needType). Their refusals are answered 400
// (UserError), 413 (a body over its bound: tooLarge) or 415 (typeError),
// in the hub's words; what a body means is the Target's to check.

package control

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"unicode"

	"l2hub/filter"
	"l2hub/internal/yamlfile"
)

// MaxPolicyBytes bounds a policy upload; a policy file is a few kilobytes.
const MaxPolicyBytes = 1 << 20

// maxRequestJSON bounds a JSON request body (a partition): a few hundred
// bytes in practice.
const maxRequestJSON = 64 << 10

// PartitionRequest is the body of POST /v1/partitions.
type PartitionRequest struct {
	Name   string     `json:"name"`
	Groups [][]string `json:"groups"`
}

// CheckPolicyName refuses a policy's name (its file's, as ctl set-policy
// sends it) that holds a control character: the name goes into the log and
// each capture file's header, one line per field.
func CheckPolicyName(name string) error {
	if strings.ContainsFunc(name, unicode.IsControl) {
		return fmt.Errorf("policy name %s holds a control character (a newline?), which neither the log nor a capture's header can hold: rename it", yamlfile.Quote(name))
	}
	return nil
}

// ReadPolicy reads a policy upload, refusing what cannot be a policy: more
// than MaxPolicyBytes, or a document that defines nothing (blank lines and
// comments only, null, or {}): installed, it would end every fault in force
// unasked. A policy meant to end them says so: "rules: []". A document
// that is not YAML is the target's to refuse, with its position. name is
// the file's, "" if the client gave none.
func ReadPolicy(r io.Reader, name string) ([]byte, error) {
	what := "the policy"
	if name != "" {
		what = "policy " + name
	}
	src, err := io.ReadAll(io.LimitReader(r, MaxPolicyBytes+1))
	if err != nil {
		return nil, &UserError{fmt.Errorf("%s: read: %w", what, err)} // the client's: a body cut off or too slow
	}
	if len(src) > MaxPolicyBytes {
		return nil, &UserError{&tooLarge{what, MaxPolicyBytes}}
	}
	if !blank(src) && !filter.DefinesNothing(src) {
		return src, nil
	}
	return nil, &UserError{fmt.Errorf("%s is empty: it sets no seed, groups, rules, partitions or schedules; nothing replaced "+
		"(to end every fault in force, send a policy that says so: \"rules: []\")", what)}
}

// ReadRule reads the body of a rule edit (one rule in the policy file's
// syntax), refusing more than filter.MaxRuleBytes and a body with nothing
// but blank lines and comments. The rule itself is the target's to check.
func ReadRule(r io.Reader, name string) ([]byte, error) {
	src, err := io.ReadAll(io.LimitReader(r, filter.MaxRuleBytes+1))
	if err != nil {
		return nil, &UserError{fmt.Errorf("rule %s: read: %w", yamlfile.Shown(name), err)}
	}
	if len(src) > filter.MaxRuleBytes {
		return nil, &UserError{&tooLarge{"rule " + yamlfile.Shown(name), filter.MaxRuleBytes}}
	}
	if blank(src) {
		return nil, &UserError{fmt.Errorf("rule %s is empty: give one rule, e.g. {match: {link: a->b}, loss: 5%%}", yamlfile.Shown(name))}
	}
	return src, nil
}

// tooLarge is a body over its route's bound: "policy p.yaml is larger
// than 1048576 bytes", answered 413 (ErrTooLarge).
type tooLarge struct {
	what string
	max  int64
}

func (e *tooLarge) Error() string        { return fmt.Sprintf("%s is larger than %d bytes", e.what, e.max) }
func (e *tooLarge) Is(target error) bool { return target == ErrTooLarge }

// blank reports whether src holds nothing but blank lines, comments and
// document markers.
func blank(src []byte) bool {
	for line := range strings.Lines(string(src)) {
		if l := strings.TrimSpace(line); l != "" && !strings.HasPrefix(l, "#") && l != "---" {
			return false
		}
	}
	return true
}

// DecodePartition decodes the body of POST /v1/partitions: one JSON object
// with known fields only, each given once, and a name. The name of a new
// ad-hoc partition (groups given) is spelled as the policy file spells
// names (checkName). A name alone starts a partition the policy has, and
// may be any name it can hold: a flag partition's is made of its groups
// ("a|b,c", "a|b#2"); one it does not have is the target's to refuse
// (filter.ErrUnknownPartition). The groups are the target's to check.
func DecodePartition(r io.Reader) (PartitionRequest, error) {
	var req PartitionRequest
	if err := decodeJSON(r, maxRequestJSON, "partition request", &req); err != nil {
		return req, err
	}
	var err error
	switch {
	case len(req.Groups) > 0:
		err = checkName(req.Name)
	case req.Name == "":
		err = errors.New("empty; give the partition a name")
	}
	if err != nil {
		return req, &UserError{fmt.Errorf("partition request: name: %w", err)}
	}
	return req, nil
}

// checkName checks a partition's name as the policy file spells names:
// 1 to 64 letters, digits and _ . - :, other than . and ..
func checkName(s string) error {
	if s == "" {
		return errors.New("empty; give the partition a name")
	}
	if len(s) > 64 {
		return fmt.Errorf("%d bytes; at most 64", len(s))
	}
	if s == "." || s == ".." {
		return fmt.Errorf("%q is not a name: a URL cannot carry . or .. (DELETE /v1/partitions/%s would never reach it)", s, s)
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case r == '_', r == '.', r == '-', r == ':':
		default:
			return fmt.Errorf("%q: a name is letters, digits and any of \"_.-:\"", s)
		}
	}
	return nil
}

// needType checks a mutating request's Content-Type against the route's
// ("" allows none). A web page can send only text/plain, form and multipart
// bodies without asking first (CORS), and the API accepts none of them.
func needType(r *http.Request, types ...string) error {
	ct := r.Header.Get("Content-Type")
	mt := ""
	if ct != "" {
		var err error
		if mt, _, err = mime.ParseMediaType(ct); err != nil {
			return &typeError{ct, types}
		}
	}
	for _, t := range types {
		if mt == t {
			return nil
		}
	}
	return &typeError{ct, types}
}

type typeError struct {
	got  string
	want []string
}

func (e *typeError) Error() string {
	var want []string
	for _, t := range e.want {
		if t == "" {
			t = "none"
		}
		want = append(want, t)
	}
	return fmt.Sprintf("Content-Type %s: want %s", yamlfile.Quote(e.got), strings.Join(want, " or "))
}
