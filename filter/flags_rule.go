package filter

import (
	"errors"
	"flag"
	"fmt"
	"strconv"
	"time"

	"go.yaml.in/yaml/v3"
)

// RegisterImpairments defines the impairment flags alone on fs (--loss,
// --delay, --reorder, --dup, --corrupt, --rate, --mtu): what one rule can
// hold, for Rule.
func (f *Flags) RegisterImpairments(fs *flag.FlagSet) {
	for _, k := range flagKinds {
		if k.name != "partition" && k.name != "down" {
			fs.Var(kindValue{f, k.name}, k.name, k.usage)
		}
	}
}

// Rule writes the impairment flags as one rule named name, in the policy
// file's syntax (YAML), for the control API's rule edits (l2hub ctl rule
// add NAME --loss 'a->b=5%' --delay 'a->b=20ms'). Every flag must name the
// same LINK, or none (the rule then matches every link); the values are
// checked here, the port and group names by the hub the rule is sent to.
func (f *Flags) Rule(name string) ([]byte, error) {
	if f.seedSet {
		return nil, errors.New("--seed is the policy's, not a rule's")
	}
	if len(f.entries) == 0 {
		return nil, errors.New("no impairment flags")
	}
	link := ""
	for i, e := range f.entries {
		if e.kind == "partition" || e.kind == "down" {
			return nil, fmt.Errorf("--%s is not part of a rule", e.kind)
		}
		l, _ := flagLink(e.value)
		if i > 0 && l != link {
			return nil, fmt.Errorf("--%s %s: one rule's flags name one link, and the first named %s", e.kind, quote(e.value), linkWords(link))
		}
		link = l
	}
	spec := &Spec{Name: "flags", Groups: map[string][]string{}}
	if err := f.addTo(spec, nil); err != nil {
		return nil, err
	}
	return yaml.Marshal(yamlRuleOf(name, link, &spec.Rules[0]))
}

func linkWords(l string) string {
	if l == "*" {
		return "none (every link)"
	}
	return l
}

// yamlRule is a rule as the policy file writes it, for Flags.Rule: the
// keys in the file's order, every value as text the file's parser reads
// back exactly.
type yamlRule struct {
	Name      string         `yaml:"name"`
	Match     *yamlMatch     `yaml:"match,omitempty"`
	MTU       int            `yaml:"mtu,omitempty"`
	Drop      bool           `yaml:"drop,omitempty"`
	Loss      *yamlLoss      `yaml:"loss,omitempty"`
	Duplicate *yamlDuplicate `yaml:"duplicate,omitempty"`
	Corrupt   *yamlCorrupt   `yaml:"corrupt,omitempty"`
	Rate      *yamlRate      `yaml:"rate,omitempty"`
	Reorder   *yamlReorder   `yaml:"reorder,omitempty"`
	Delay     *yamlDelay     `yaml:"delay,omitempty"`
}

type yamlMatch struct {
	Link string `yaml:"link"`
}

type yamlLoss struct {
	Probability string       `yaml:"probability,omitempty"`
	GEModel     *yamlGEModel `yaml:"gemodel,omitempty"`
}

type yamlGEModel struct {
	P        string `yaml:"p"`
	R        string `yaml:"r,omitempty"`
	BadLoss  string `yaml:"1-h,omitempty"`
	GoodLoss string `yaml:"1-k,omitempty"`
}

type yamlDuplicate struct {
	Probability string `yaml:"probability"`
	Copies      int    `yaml:"copies,omitempty"`
}

type yamlCorrupt struct {
	Probability string `yaml:"probability"`
	Bits        int    `yaml:"bits,omitempty"`
	Skip        string `yaml:"skip,omitempty"`
}

type yamlRate struct {
	Rate  string `yaml:"rate"`
	Burst string `yaml:"burst,omitempty"`
	Queue string `yaml:"queue,omitempty"`
}

type yamlReorder struct {
	Probability string `yaml:"probability"`
	Gap         int64  `yaml:"gap,omitempty"`
}

type yamlDelay struct {
	Fixed        string `yaml:"fixed"`
	Jitter       string `yaml:"jitter,omitempty"`
	Distribution string `yaml:"distribution,omitempty"`
	Order        string `yaml:"order,omitempty"`
}

// yamlRuleOf writes rs, which the flags made for link ("*": every link).
func yamlRuleOf(name, link string, rs *RuleSpec) yamlRule {
	prob := func(p float64) string { return strconv.FormatFloat(p, 'g', -1, 64) }
	optProb := func(p *float64) string {
		if p == nil {
			return ""
		}
		return prob(*p)
	}
	dur := func(d time.Duration) string { return d.String() }
	y := yamlRule{Name: name, MTU: rs.MTU, Drop: rs.Drop}
	if link != "*" {
		y.Match = &yamlMatch{Link: link}
	}
	if l := rs.Loss; l != nil {
		y.Loss = &yamlLoss{Probability: prob(l.Probability)}
		if g := l.GE; g != nil {
			y.Loss = &yamlLoss{GEModel: &yamlGEModel{P: prob(g.P), R: optProb(g.R), BadLoss: optProb(g.BadLoss), GoodLoss: optProb(g.GoodLoss)}}
		}
	}
	if d := rs.Duplicate; d != nil {
		y.Duplicate = &yamlDuplicate{Probability: prob(d.Probability), Copies: d.Copies}
	}
	if c := rs.Corrupt; c != nil {
		y.Corrupt = &yamlCorrupt{Probability: prob(c.Probability), Bits: c.Bits, Skip: c.Skip}
	}
	if r := rs.Rate; r != nil {
		y.Rate = &yamlRate{Rate: formatRate(r.BitsPerSecond)}
		if r.Burst > 0 {
			y.Rate.Burst = strconv.FormatInt(r.Burst, 10) + "B"
		}
		if r.Queue != nil {
			y.Rate.Queue = strconv.FormatInt(*r.Queue, 10) + "B"
		}
	}
	if r := rs.Reorder; r != nil {
		y.Reorder = &yamlReorder{Probability: prob(r.Probability), Gap: r.Gap}
	}
	if d := rs.Delay; d != nil {
		y.Delay = &yamlDelay{Fixed: dur(d.Fixed)}
		if d.Jitter > 0 {
			y.Delay.Jitter = dur(d.Jitter)
		}
		if d.Normal {
			y.Delay.Distribution = "normal"
		}
		if d.Reorder {
			y.Delay.Order = "reorder"
		}
	}
	return y
}
