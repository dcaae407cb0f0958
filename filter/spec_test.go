package filter

import (
	"errors"
	"flag"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestSpecDefaults: an impairment's unset values take their defaults in
// Compile, the one place they are written: gap 1, one copy, one bit, no
// skip, one full-size frame of burst and a 64 KiB queue, netem's
// Gilbert-Elliott r = 1-p, 1-h = 1, 1-k = 0.
func TestSpecDefaults(t *testing.T) {
	spec := &Spec{Name: "code", Rules: []RuleSpec{
		{Name: "r", Delay: &DelaySpec{Fixed: 10 * time.Millisecond}, Reorder: &ReorderSpec{Probability: 0.25}},
		{Name: "d", Duplicate: &DuplicateSpec{Probability: 0.01}, Corrupt: &CorruptSpec{Probability: 0.01}},
		{Name: "q", Rate: &RateSpec{BitsPerSecond: 10e6}, Loss: &LossSpec{GE: &GEModelSpec{P: 0.01}}},
	}}
	p, err := Compile(spec, abc)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range p.Describe(0).Rules {
		got = append(got, r.Name+": "+strings.Join(r.Actions, ", "))
	}
	want := []string{
		"r: reorder 25% gap 1, delay 10ms fifo",
		"d: duplicate 1% copies 1, corrupt 1% bits 1 skip none",
		"q: loss gemodel p=1% r=99% 1-h=100% 1-k=0%, rate 10Mbit burst 1514B queue 65536B",
	}
	if !slices.Equal(got, want) {
		t.Errorf("got rules\n%q\nwant\n%q", got, want)
	}
}

// TestFrontEndsProduceOneSpec: the policy file and the quick flags write
// the same policy as the same spec (positions aside).
func TestFrontEndsProduceOneSpec(t *testing.T) {
	file, err := ParseSpec([]byte(`seed: 9
rules:
  - name: a->b
    match: {link: a->b}
    loss: {gemodel: {p: 1%, r: 30%}}
    delay: {fixed: 10ms, jitter: 2ms, distribution: normal}
    reorder: {probability: 25%, gap: 3}
    duplicate: {probability: 2%, copies: 2}
    corrupt: {probability: 1%, bits: 3, skip: transport}
    rate: {rate: 10Mbit, burst: 3000B, queue: 0B}
    mtu: 1400
partitions:
  - {name: split, groups: a|b, start: 5s, end: 8s}
schedules:
  - {name: "down:c", port: c, at: 2s, down_for: 500ms, every: 10s}
`), "p.yaml", abc)
	if err != nil {
		t.Fatal(err)
	}
	var f Flags
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	f.Register(fs)
	if err := fs.Parse([]string{"--seed", "9", "--loss", "a->b=gemodel:1%:30%", "--delay", "a->b=10ms±2ms,normal",
		"--reorder", "a->b=25%,gap=3", "--dup", "a->b=2%,copies=2", "--corrupt", "a->b=1%,bits=3,skip=transport",
		"--rate", "a->b=10Mbit,burst=3000B,queue=0B", "--mtu", "a->b=1400", "--partition", "a|b@5s-8s", "--down", "c@2s-2.5s/10s"}); err != nil {
		t.Fatal(err)
	}
	flags := &Spec{Groups: map[string][]string{}}
	if err := f.addTo(flags, abc); err != nil {
		t.Fatal(err)
	}
	file.Partitions[0].Name = "a|b" // a file names its partitions; a flag's is named after its groups
	for _, s := range []*Spec{file, flags} {
		for i := range s.Rules {
			s.Rules[i].At, s.Rules[i].NameAt = Pos{}, Pos{}
		}
		for i := range s.Partitions {
			s.Partitions[i].At, s.Partitions[i].NameAt, s.Partitions[i].GroupsAt = Pos{}, Pos{}, Pos{}
		}
		for i := range s.Schedules {
			s.Schedules[i].Pos, s.Schedules[i].PortAt = Pos{}, Pos{}
		}
	}
	if file.Seed != flags.Seed || !reflect.DeepEqual(file.Rules, flags.Rules) ||
		!reflect.DeepEqual(file.Partitions, flags.Partitions) || !reflect.DeepEqual(file.Schedules, flags.Schedules) {
		t.Errorf("got from the file\n%+v\nand from the flags\n%+v\nwant the same spec", *file, *flags)
	}
}

// TestCompileChecksASpecBuiltInCode: Compile refuses what the front ends
// would have refused where it was written: unknown ports, a missing name,
// a name used twice, a trigger on no rule, a schedule without its time.
func TestCompileChecksASpecBuiltInCode(t *testing.T) {
	at := func(path string) Pos { return Pos{File: "code", Path: path} }
	start := time.Second
	for _, tc := range []struct {
		name string
		spec Spec
		want string
	}{
		{"unknown-port", Spec{Rules: []RuleSpec{{Name: "r", Match: MatchSpec{From: []string{"q"}}, At: at("rules[0]")}}},
			`code: rules[0]: port "q" does not exist`},
		{"rule-without-name", Spec{Rules: []RuleSpec{{At: at("rules[0]")}}}, "code: rules[0]: rule has no name"},
		{"rule-name-twice", Spec{Rules: []RuleSpec{{Name: "r"}, {Name: "r", NameAt: at("rules[1].name")}}},
			`code: rules[1].name: rule name "r" is used twice`},
		{"reorder-without-delay", Spec{Rules: []RuleSpec{{Name: "r", Reorder: &ReorderSpec{Probability: 1}, At: at("rules[0]")}}},
			"code: rules[0]: reorder needs a delay"},
		{"trigger-on-no-rule", Spec{Partitions: []PartitionSpec{{Name: "p", Groups: [][]string{{"a"}, {"b"}},
			StartTrigger: &TriggerSpec{Rule: "nope", Matches: 1, RuleAt: at("partitions[0].start.rule")}}}},
			`code: partitions[0].start.rule: no rule named "nope"`},
		{"partition-in-one-group", Spec{Partitions: []PartitionSpec{{Name: "p", Groups: [][]string{{"a", "b"}}, Start: &start, At: at("partitions[0]")}}},
			"code: partitions[0]: a partition needs at least two groups"},
		{"schedule-without-at", Spec{Schedules: []ScheduleSpec{{Name: "s", Port: "a", Pos: at("schedules[0]")}}},
			"code: schedules[0]: schedule has no at"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Compile(&tc.spec, abc)
			if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got Compile = %v, %v; want an ErrInvalid containing %q", p, err, tc.want)
			}
		})
	}
}

// TestCompileRefusesProbabilitiesOutOfRange: a Spec built in Go, which no
// front end checked, gets the range check the YAML and flags give.
func TestCompileRefusesProbabilitiesOutOfRange(t *testing.T) {
	bad, r := 1.5, -0.1
	for name, rs := range map[string]RuleSpec{
		"loss":      {Name: "x", Loss: &LossSpec{Probability: 1.5}},
		"nan":       {Name: "x", Loss: &LossSpec{Probability: math.NaN()}},
		"gemodel":   {Name: "x", Loss: &LossSpec{GE: &GEModelSpec{P: 0.1, R: &r}}},
		"gemodel-h": {Name: "x", Loss: &LossSpec{GE: &GEModelSpec{P: 0.1, BadLoss: &bad}}},
		"reorder":   {Name: "x", Reorder: &ReorderSpec{Probability: 2}},
		"duplicate": {Name: "x", Duplicate: &DuplicateSpec{Probability: -1}},
		"corrupt":   {Name: "x", Corrupt: &CorruptSpec{Probability: 1.01}},
	} {
		_, err := Compile(&Spec{Name: "go", Rules: []RuleSpec{rs}}, []string{"a", "b"})
		if err == nil || !strings.Contains(err.Error(), "outside 0..1") {
			t.Errorf("%s: Compile = %v, want the probability refused", name, err)
		}
	}
	ok := RuleSpec{Name: "x", Loss: &LossSpec{Probability: 1}, Duplicate: &DuplicateSpec{Probability: 0}}
	if _, err := Compile(&Spec{Name: "go", Rules: []RuleSpec{ok}}, []string{"a", "b"}); err != nil {
		t.Errorf("probabilities 1 and 0: %v, want them accepted", err)
	}
}
