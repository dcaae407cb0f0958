package filter

import (
	"cmp"
	"errors"
	"flag"
	"fmt"
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
			s.Schedules[i].Pos, s.Schedules[i].NameAt, s.Schedules[i].PortAt = Pos{}, Pos{}, Pos{}
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
		// NameAt set and Name empty: no front end reported it, Compile does.
		{"rule-with-empty-name", Spec{Rules: []RuleSpec{{Drop: true, At: at("rules[0]"), NameAt: at("rules[0].name")}}},
			`code: rules[0].name: rule name "" must be`},
		{"rule-name-twice", Spec{Rules: []RuleSpec{{Name: "r"}, {Name: "r", NameAt: at("rules[1].name")}}},
			`code: rules[1].name: rule name "r" is used twice`},
		{"protocol-zero", Spec{Rules: []RuleSpec{{Name: "r", Match: MatchSpec{Protocols: []uint8{17, 0}}, At: at("rules[0]")}}},
			"code: rules[0]: match.protocol: 0 is IPv6's hop-by-hop header"},
		{"reorder-without-delay", Spec{Rules: []RuleSpec{{Name: "r", Reorder: &ReorderSpec{Probability: 1}, At: at("rules[0]")}}},
			"code: rules[0]: reorder needs a delay"},
		{"trigger-on-no-rule", Spec{Partitions: []PartitionSpec{{Name: "p", Groups: [][]string{{"a"}, {"b"}},
			StartTrigger: &TriggerSpec{Rule: "nope", Matches: 1, RuleAt: at("partitions[0].start.rule")}}}},
			`code: partitions[0].start.rule: no rule named "nope"`},
		{"partition-in-one-group", Spec{Partitions: []PartitionSpec{{Name: "p", Groups: [][]string{{"a", "b"}}, Start: &start, At: at("partitions[0]")}}},
			"code: partitions[0]: a partition needs at least two groups"},
		{"partition-port-twice-in-a-group", Spec{Partitions: []PartitionSpec{{Name: "p", Groups: [][]string{{"a", "a"}, {"b"}}, Start: &start, At: at("partitions[0]")}}},
			`code: partitions[0]: "a" is listed twice in group "a,a"`},
		// A name or port given empty: no front end said why, Compile does.
		{"schedule-with-empty-name", Spec{Schedules: []ScheduleSpec{{Port: "a", Pos: at("schedules[0]"), NameAt: at("schedules[0].name")}}},
			`code: schedules[0].name: "" is not a valid schedule name`},
		{"schedule-with-empty-port", Spec{Schedules: []ScheduleSpec{{Name: "s", Pos: at("schedules[0]"), PortAt: at("schedules[0].port")}}},
			`code: schedules[0].port: "" is not a port name`},
		{"partition-with-empty-name", Spec{Partitions: []PartitionSpec{{Groups: [][]string{{"a"}, {"b"}}, Start: &start, At: at("partitions[0]"), NameAt: at("partitions[0].name")}}},
			`code: partitions[0].name: "" is not a valid partition name`},
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

// TestCompileRefusesSizesOutOfRange: a Spec built in Go gets the mtu,
// burst, queue and rate ranges the front ends check as they parse (a zero
// rate is refused, not a division by zero); 0 (unset mtu or burst) and the
// bounds themselves are accepted.
func TestCompileRefusesSizesOutOfRange(t *testing.T) {
	queue := func(n int64) *int64 { return &n }
	mtuRange := fmt.Sprintf("outside [%d,%d]", minMTU, maxMTU)
	burstRange := fmt.Sprintf("outside [%d,%d]", minBurst, maxRateBytes)
	for _, tc := range []struct {
		name string
		rs   RuleSpec
		want string // "" means accepted
	}{
		{"mtu-40", RuleSpec{MTU: 40}, "mtu: 40 bytes is " + mtuRange},
		{"mtu-negative", RuleSpec{MTU: -1}, "mtu: -1 bytes is " + mtuRange},
		{"mtu-above-ip", RuleSpec{MTU: maxMTU + 1}, mtuRange},
		{"burst-10", RuleSpec{Rate: &RateSpec{BitsPerSecond: 1e6, Burst: 10}}, "rate: burst: 10 bytes is " + burstRange},
		{"burst-negative", RuleSpec{Rate: &RateSpec{BitsPerSecond: 1e6, Burst: -5}}, burstRange},
		{"burst-too-large", RuleSpec{Rate: &RateSpec{BitsPerSecond: 1e6, Burst: maxRateBytes + 1}}, burstRange},
		{"queue-negative", RuleSpec{Rate: &RateSpec{BitsPerSecond: 1e6, Queue: queue(-1)}},
			fmt.Sprintf("rate: queue: -1 bytes is outside [0,%d]", maxRateBytes)},
		{"rate-zero", RuleSpec{Rate: &RateSpec{}}, fmt.Sprintf("rate: 0 bit/s is outside [%d,%d]", uint64(minRate), uint64(maxRate))},
		{"rate-above-max", RuleSpec{Rate: &RateSpec{BitsPerSecond: maxRate + 1}}, "bit/s is outside"},
		{"mtu-bounds", RuleSpec{MTU: minMTU}, ""},
		{"mtu-max", RuleSpec{MTU: maxMTU}, ""},
		{"burst-min-queue-0", RuleSpec{Rate: &RateSpec{BitsPerSecond: 1e6, Burst: minBurst, Queue: queue(0)}}, ""},
		{"defaults", RuleSpec{Rate: &RateSpec{BitsPerSecond: 1e6}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs := tc.rs
			rs.Name, rs.At = "x", Pos{File: "code", Path: "rules[0]"}
			p, err := Compile(&Spec{Name: "code", Rules: []RuleSpec{rs}}, abc)
			if tc.want == "" {
				if err != nil {
					t.Errorf("got Compile = %v, want it accepted", err)
				}
				return
			}
			var list ErrorList
			if !errors.As(err, &list) || len(list) != 1 || !strings.Contains(list[0].Error(), "code: rules[0]: ") ||
				!strings.Contains(list[0].Error(), tc.want) {
				t.Errorf("got Compile = %v, %v; want one error at rules[0] containing %q", p, err, tc.want)
			}
		})
	}
}

// TestSizeLimitsReportedOnce: a burst or an mtu out of range, in a policy
// file or a flag, is one error, at its line:col or flag, naming the range
// (Compile's own check does not report it again).
func TestSizeLimitsReportedOnce(t *testing.T) {
	burstRange := fmt.Sprintf("10 bytes is outside [%d,%d]", minBurst, maxRateBytes)
	mtuRange := fmt.Sprintf("40 bytes is outside [%d,%d]", minMTU, maxMTU)
	for _, tc := range []struct {
		name, src string
		want      string
	}{
		{"burst", "rules:\n  - name: x\n    rate: {rate: 10Mbit, burst: 10B}\n", "p.yaml:3:33: rules[0].rate.burst: " + burstRange},
		{"mtu", "rules:\n  - name: x\n    mtu: 40\n", "p.yaml:3:10: rules[0].mtu: " + mtuRange},
	} {
		t.Run("yaml-"+tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.src), "p.yaml", abc)
			var list ErrorList
			if !errors.As(err, &list) || len(list) != 1 || list[0].Error() != tc.want {
				t.Errorf("got Parse(%q) error\n%v\nwant the one error %q", tc.src, err, tc.want)
			}
		})
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"burst", []string{"--rate", "a->b=10Mbit,burst=10B"}, `--rate: "a->b=10Mbit,burst=10B": burst: ` + burstRange},
		{"mtu", []string{"--mtu", "a->b=40"}, `--mtu: "a->b=40": ` + mtuRange},
	} {
		t.Run("flag-"+tc.name, func(t *testing.T) {
			_, err := ParseFlags(tc.args, abc)
			var list ErrorList
			if !errors.As(err, &list) || len(list) != 1 || list[0].Error() != tc.want {
				t.Errorf("got ParseFlags(%q) error\n%v\nwant the one error %q", tc.args, err, tc.want)
			}
		})
	}
}

// TestFrontEndsShareTimeChecks: a partition's hold and a schedule's
// period are checked in one place each (parseHold, Compile), so the file
// and the flags say the same thing, once, each at its own position; and
// --partition GROUPS@FROM+DURATION writes the file's start and duration.
func TestFrontEndsShareTimeChecks(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		args      []string
		msg       string
		yamlAt    string
		flagMsg   string // the flag's, when not msg
	}{
		{"hold-zero", "partitions:\n  - {name: p, groups: a|b, start: 1s, duration: 0s}\n",
			[]string{"--partition", "a|b@1s+0s"}, "duration must be positive", "p.yaml:2:49: partitions[0].duration: ", ""},
		{"down-longer-than-period", "schedules:\n  - {name: s, port: a, at: 1s, down_for: 3s, every: 2s}\n",
			[]string{"--down", "a@1s-4s/2s"}, "down 3s every 2s: the time down must be positive and shorter than the period", "p.yaml:2:5: schedules[0]: ", ""},
		{"down-for-nothing", "schedules:\n  - {name: s, port: a, at: 1s, every: 2s}\n",
			// The flag's grammar has a repeat only after FROM-TO, and says so.
			[]string{"--down", "a@1s/2s"}, "down 0s every 2s: the time down must be positive and shorter than the period", "p.yaml:2:5: schedules[0]: ",
			"a repeat needs FROM-TO (e.g. a@1s-1.2s/2s)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var list ErrorList
			_, err := Parse([]byte(tc.src), "p.yaml", abc)
			if want := tc.yamlAt + tc.msg; !errors.As(err, &list) || len(list) != 1 || list[0].Error() != want {
				t.Errorf("got Parse(%q) error\n%v\nwant the one error %q", tc.src, err, want)
			}
			_, err = ParseFlags(tc.args, abc)
			if want := fmt.Sprintf("%s: %q: %s", tc.args[0], tc.args[1], cmp.Or(tc.flagMsg, tc.msg)); !errors.As(err, &list) || len(list) != 1 || list[0].Error() != want {
				t.Errorf("got ParseFlags(%q) error\n%v\nwant the one error %q", tc.args, err, want)
			}
		})
	}

	file, err := ParseSpec([]byte("partitions:\n  - {name: split, groups: a|b, start: 1s, duration: 2s}\n"), "p.yaml", abc)
	if err != nil {
		t.Fatal(err)
	}
	var f Flags
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	f.Register(fs)
	if err := fs.Parse([]string{"--partition", "a|b@1s+2s"}); err != nil {
		t.Fatal(err)
	}
	flags := &Spec{Groups: map[string][]string{}}
	if err := f.addTo(flags, abc); err != nil {
		t.Fatal(err)
	}
	got, want := flags.Partitions[0], file.Partitions[0]
	got.Name = "split" // a file names its partitions; a flag's is named after its groups
	got.At, got.NameAt, got.GroupsAt = Pos{}, Pos{}, Pos{}
	want.At, want.NameAt, want.GroupsAt = Pos{}, Pos{}, Pos{}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got --partition a|b@1s+2s = %+v, want the file's %+v", got, want)
	}
}

// TestCompileRefusesCountsOutOfRange: copies, corrupt bits and a reorder
// gap past what the front ends allow are refused in a Spec built in Go
// too; a corrupt rule of 100 bits would otherwise index past the 64 it
// draws, on the data path.
func TestCompileRefusesCountsOutOfRange(t *testing.T) {
	for name, rs := range map[string]RuleSpec{
		"copies":   {Name: "x", Duplicate: &DuplicateSpec{Probability: 1, Copies: maxCopies}},
		"bits":     {Name: "x", Corrupt: &CorruptSpec{Probability: 1, Bits: maxCorruptBits + 1}},
		"neg-bits": {Name: "x", Corrupt: &CorruptSpec{Probability: 1, Bits: -1}},
		"gap":      {Name: "x", Reorder: &ReorderSpec{Probability: 1, Gap: maxGap + 1}},
	} {
		_, err := Compile(&Spec{Name: "go", Rules: []RuleSpec{rs}}, []string{"a", "b"})
		if err == nil || !strings.Contains(err.Error(), "is outside 1..") {
			t.Errorf("%s: Compile = %v, want the count refused", name, err)
		}
	}
	ok := RuleSpec{Name: "x", Duplicate: &DuplicateSpec{Probability: 1, Copies: maxCopies - 1},
		Corrupt: &CorruptSpec{Probability: 1, Bits: maxCorruptBits}}
	if _, err := Compile(&Spec{Name: "go", Rules: []RuleSpec{ok}}, []string{"a", "b"}); err != nil {
		t.Errorf("counts at their bounds: %v, want them accepted", err)
	}
}
