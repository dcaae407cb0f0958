package filter

import (
	"flag"
	"reflect"
	"strings"
	"testing"
)

func ruleFlags(t *testing.T, args ...string) *Flags {
	t.Helper()
	var f Flags
	fs := flag.NewFlagSet("rule", flag.ContinueOnError)
	fs.SetOutput(discard{})
	f.RegisterImpairments(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatalf("%q: %v", args, err)
	}
	return &f
}

// TestFlagsRuleRoundTrip: the YAML Flags.Rule writes reads back (ParseRule)
// into the rule the same flags give a policy, impairment for impairment.
func TestFlagsRuleRoundTrip(t *testing.T) {
	p := mustParse(t, "groups: {w: [a, b]}\nrules: []\n")
	for _, args := range [][]string{
		{"--loss", "a->b=5%"},
		{"--loss", "a->b=0.123456789"},
		{"--loss", "b->c=gemodel:1%:30%:90%:0.1%"},
		{"--loss", "gemodel:2%"},
		{"--delay", "a<->b=20ms±5ms,normal,reorder", "--reorder", "a<->b=25%,gap=5"},
		{"--delay", "a->b=1.5s"},
		{"--dup", "w->c=1%,copies=3", "--corrupt", "w->c=0.5%,bits=7,skip=transport"},
		{"--rate", "c->a=10Mbit,burst=3000B,queue=64KiB", "--mtu", "c->a=1400"},
		{"--rate", "1234567bit"},
		// Every link, with options: the option's "=" is no LINK's.
		{"--delay", "20ms±5ms,normal,reorder", "--reorder", "25%,gap=5"},
		{"--dup", "1%,copies=2", "--corrupt", "1%,bits=3,skip=ip"},
		{"--rate", "10Mbit,burst=3000B,queue=64KiB", "--mtu", "1400"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			f := ruleFlags(t, args...)
			text, err := f.Rule("r")
			if err != nil {
				t.Fatal(err)
			}
			got, err := p.ParseRule(text, "flags.yaml", "r")
			if err != nil {
				t.Fatalf("the rule Flags.Rule wrote does not parse: %v\n%s", err, text)
			}
			spec := &Spec{Groups: map[string][]string{"w": {"a", "b"}}}
			if err := f.addTo(spec, abc); err != nil {
				t.Fatal(err)
			}
			want := spec.Rules[0]
			want.Name = "r"
			for _, rs := range []*RuleSpec{got, &want} {
				rs.At, rs.NameAt, rs.Match.Description = Pos{}, Pos{}, ""
			}
			if !reflect.DeepEqual(*got, want) {
				t.Errorf("the flags wrote\n%s\nwhich reads as %+v\nwant %+v", text, *got, want)
			}
		})
	}
}

func TestFlagsRuleRefuses(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "no impairment flags"},
		{[]string{"--loss", "a->b=5%", "--delay", "b->a=1ms"}, `--delay "b->a=1ms": one rule's flags name one link, and the first named a->b`},
		{[]string{"--loss", "5%", "--delay", "b->a=1ms"}, "the first named none (every link)"},
		{[]string{"--dup", "1%,copies=2", "--delay", "a->b=1ms"}, "the first named none (every link)"},
		{[]string{"--dup", "a->b=1%,copies=2", "--delay", "1ms,normal"}, `--delay "1ms,normal": one rule's flags name one link, and the first named a->b`},
		{[]string{"--loss", "a->b=150%"}, "more than 100%"},
		{[]string{"--reorder", "a->b=5%"}, ""}, // a reorder without delay is refused by the hub, which compiles the rule
	} {
		_, err := ruleFlags(t, tc.args...).Rule("r")
		if tc.want == "" {
			if err != nil {
				t.Errorf("%q: %v", tc.args, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want an error with %q", tc.args, err, tc.want)
		}
	}
	var f Flags
	f.SetSeed(3)
	if _, err := f.Rule("r"); err == nil || !strings.Contains(err.Error(), "--seed") {
		t.Errorf("with --seed: %v", err)
	}
	fs := flag.NewFlagSet("rule", flag.ContinueOnError)
	fs.SetOutput(discard{})
	(&Flags{}).RegisterImpairments(fs)
	if fs.Lookup("partition") != nil || fs.Lookup("down") != nil || fs.Lookup("seed") != nil || fs.Lookup("loss") == nil {
		t.Error("RegisterImpairments registers the wrong flags")
	}
}
