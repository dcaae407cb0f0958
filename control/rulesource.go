package control

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/spf13/pflag"

	"l2hub/filter"
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
	flags := s.faults.Given()
	switch {
	case s.file != "" && flags:
		return nil, errors.New("give the rule with --file or with quick flags, not both")
	case s.file == "-":
		return io.ReadAll(io.LimitReader(stdin, filter.MaxRuleBytes+1))
	case s.file != "":
		f, err := os.Open(s.file)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		return io.ReadAll(io.LimitReader(f, filter.MaxRuleBytes+1))
	case flags:
		src, err := s.faults.Rule(name)
		if err != nil {
			return nil, fmt.Errorf("rule %s: %w", name, err)
		}
		return src, nil
	}
	return nil, fmt.Errorf("rule %s: give the rule with --file FILE (- for standard input) or quick flags (--loss 'a->b=5%%', --delay ..., see --help)", name)
}
