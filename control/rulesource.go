package control

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"

	"github.com/spf13/pflag"

	"l2hub/filter"
	"l2hub/internal/yamlfile"
)

// RuleSource is how `l2hub ctl rule add|update` is given one rule: as a
// policy file writes one (--file FILE, - for standard input), or with the
// quick flags serve takes for one link (--loss 'a->b=5%').
type RuleSource struct {
	file   string
	faults filter.Flags
}

// Register adds --file and the quick impairment flags to fs.
func (s *RuleSource) Register(fs *pflag.FlagSet) {
	fs.StringVarP(&s.file, "file", "f", "", "the rule, as a policy file writes one (YAML), from `FILE` (- for standard input)")
	quick := flag.NewFlagSet("rule", flag.ContinueOnError)
	s.faults.RegisterImpairments(quick)
	fs.AddGoFlagSet(quick)
}

// Read is the source of rule name, at most filter.MaxRuleBytes (and one
// more, so the hub refuses a longer one); stdin is read for --file -.
func (s *RuleSource) Read(stdin io.Reader, name string) ([]byte, error) {
	return s.ReadContext(context.Background(), stdin, name)
}

// ReadContext is Read that returns once ctx ends, with its cause, though
// the read blocks (a terminal or pipe no one writes to, a FIFO). The read
// is abandoned, not stopped: it goes on consuming stdin, or waiting in
// open, until it returns (see ReadContext).
func (s *RuleSource) ReadContext(ctx context.Context, stdin io.Reader, name string) ([]byte, error) {
	flags := s.faults.Given()
	switch {
	case s.file != "" && flags:
		return nil, errors.New("give the rule with --file or with quick flags, not both")
	case s.file == "-":
		return ReadContext(ctx, func() ([]byte, error) { return io.ReadAll(io.LimitReader(stdin, filter.MaxRuleBytes+1)) })
	case s.file != "":
		return ReadContext(ctx, func() ([]byte, error) {
			f, err := os.Open(s.file)
			if err != nil {
				return nil, err
			}
			defer f.Close()
			return io.ReadAll(io.LimitReader(f, filter.MaxRuleBytes+1))
		})
	case flags:
		src, err := s.faults.Rule(name)
		if err != nil {
			return nil, fmt.Errorf("rule %s: %w", name, err)
		}
		return src, nil
	}
	return nil, fmt.Errorf("rule %s: give the rule with --file FILE (- for standard input) or quick flags (--loss 'a->b=5%%', --delay ..., see --help)", name)
}

// Where rewrites the hub's answer to a rule edit so that its positions
// point at what the user wrote. The hub names the rule's text as RuleFile
// does (rule x:3:11: match.link: ...; rule "a b":1:7: name: ...): from
// --file, that text is the file, so the position is the file's
// (x.yaml:3:11: ...); from the quick flags, it is YAML the flags were
// turned into, whose lines the user never saw, so the position goes (rule
// x, from the flags: match.link: ...). Any other error is returned as it
// is.
func (s *RuleSource) Where(err error, name string) error {
	var ce *Error
	if !errors.As(err, &ce) {
		return err
	}
	file := RuleFile(name)
	prefix := file + ":"
	lines := strings.Split(ce.Message, "\n")
	for i, l := range lines {
		rest, ok := strings.CutPrefix(l, prefix)
		if !ok {
			continue
		}
		switch {
		case s.file == "-":
			lines[i] = "standard input:" + rest
		case s.file != "":
			lines[i] = s.file + ":" + rest
		default:
			if m := linecol.FindStringSubmatch(rest); m != nil {
				rest = " " + m[1]
			}
			lines[i] = file + ", from the flags:" + rest
		}
	}
	out := *ce
	out.Message = strings.Join(lines, "\n")
	return &out
}

// RuleFile is how the hub names a rule edit's text, the file of its parse
// errors: "rule NAME", the name as it is, or quoted when it is empty or
// holds what a name may not (a space, a quote, a newline from a URL, a
// character outside ASCII), so that each error stays one line and names
// it unmistakably ("rule \"a b\"").
func RuleFile(name string) string {
	if name == "" || strings.ContainsFunc(name, func(r rune) bool { return r <= ' ' || r > '~' || r == '"' }) {
		return "rule " + yamlfile.Quote(name)
	}
	return "rule " + yamlfile.Shown(name)
}

// linecol is the line:col a position puts after the file's name.
var linecol = regexp.MustCompile(`^\d+:\d+: (.*)$`)
