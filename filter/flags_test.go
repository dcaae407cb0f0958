package filter

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"l2hub/hub"
)

func TestFlagsCompile(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want []string // rule name: actions
	}{
		{"loss", []string{"--loss", "a->b=5%"}, []string{"a->b: loss 5%"}},
		{"loss-all-links", []string{"--loss", "0.5%"}, []string{"*: loss 0.5%"}},
		{"gemodel", []string{"--loss", "a->b=gemodel:1%:30%"}, []string{"a->b: loss gemodel p=1% r=30% 1-h=100% 1-k=0%"}},
		{"delay-both", []string{"--delay", "a<->b=20ms±5ms"}, []string{"a<->b: delay 20ms±5ms uniform fifo"}},
		{"delay-options", []string{"--delay", "a->b=20ms+-5ms,normal,reorder"}, []string{"a->b: delay 20ms±5ms normal reorder"}},
		// Spaces around a LINK's arrow: the rule is named as if there were none.
		{"link-with-spaces", []string{"--delay", "a -> b=10ms", "--reorder", "a->b=25%", "--loss", " b <-> c =1%"},
			[]string{"a->b: reorder 25% gap 1, delay 10ms fifo", "b<->c: loss 1%"}},
		{"same-link-one-rule", []string{"--delay", "a->b=10ms", "--reorder", "a->b=25%,gap=5", "--loss", "b->a=1%"},
			[]string{"a->b: reorder 25% gap 5, delay 10ms fifo", "b->a: loss 1%"}},
		{"dup", []string{"--dup", "a->b=1%,copies=2"}, []string{"a->b: duplicate 1% copies 2"}},
		{"corrupt", []string{"--corrupt", "b->a=1%,bits=3,skip=transport"}, []string{"b->a: corrupt 1% bits 3 skip transport"}},
		{"rate", []string{"--rate", "a->b=10Mbit,burst=3000B,queue=1MiB"}, []string{"a->b: rate 10Mbit burst 3000B queue 1048576B"}},
		{"mtu", []string{"--mtu", "a<->c=1400"}, []string{"a<->c: mtu 1400"}},
		// Without LINK, with options: an "=" after the first comma is an
		// option's, not the end of a LINK.
		{"gemodel-all-links", []string{"--loss", "gemodel:1%:30%"}, []string{"*: loss gemodel p=1% r=30% 1-h=100% 1-k=0%"}},
		{"delay-all-links-options", []string{"--delay", "20ms±5ms,normal,reorder"}, []string{"*: delay 20ms±5ms normal reorder"}},
		{"reorder-all-links", []string{"--reorder", "25%,gap=5", "--delay", "10ms"}, []string{"*: reorder 25% gap 5, delay 10ms fifo"}},
		{"dup-all-links", []string{"--dup", "1%,copies=2"}, []string{"*: duplicate 1% copies 2"}},
		{"dup-all-links-no-option", []string{"--dup", "1%"}, []string{"*: duplicate 1% copies 1"}},
		{"corrupt-all-links", []string{"--corrupt", "1%,bits=3"}, []string{"*: corrupt 1% bits 3 skip none"}},
		{"corrupt-all-links-skip", []string{"--corrupt", "1%,skip=transport,bits=3"}, []string{"*: corrupt 1% bits 3 skip transport"}},
		{"rate-all-links", []string{"--rate", "10Mbit,burst=3000B"}, []string{"*: rate 10Mbit burst 3000B queue 65536B"}},
		{"rate-all-links-queue", []string{"--rate", "10Mbit,queue=1MiB,burst=3000B"}, []string{"*: rate 10Mbit burst 3000B queue 1048576B"}},
		{"mtu-all-links", []string{"--mtu", "1400"}, []string{"*: mtu 1400"}},
		{"link-and-all-links", []string{"--dup", "a->b=1%,copies=2", "--dup", "5%,copies=3"},
			[]string{"a->b: duplicate 1% copies 2", "*: duplicate 5% copies 3"}},
		{"spaces", []string{"--dup", " a->b = 1% , copies=2"}, []string{"a->b: duplicate 1% copies 2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustFlags(t, tt.args...)
			var got []string
			for _, r := range p.Describe(0).Rules {
				got = append(got, r.Name+": "+strings.Join(r.Actions, ", "))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("ParseFlags(%q) rules = %q, want %q", tt.args, got, tt.want)
			}
		})
	}
}

func TestFlagsErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"bad-probability", []string{"--loss", "a->b=150%"}, `--loss: "a->b=150%": 150% is more than 100%`},
		{"probability-just-over", []string{"--loss", "a->b=100.5%"}, `--loss: "a->b=100.5%": 100.5% is more than 100%`},
		{"unknown-port", []string{"--loss", "a->q=5%"}, `port "q" does not exist`},
		{"bad-link", []string{"--delay", "ab=5ms"}, `"ab" is not a link`},
		{"bad-link-with-option", []string{"--dup", "ab=1%,copies=2"}, `"ab" is not a link`},
		{"option-without-link", []string{"--dup", "1%,copies=0"}, `--dup: "1%,copies=0": copies: 0 is outside [1,15]`},
		{"unknown-option-without-link", []string{"--rate", "10Mbit,burts=3000B"}, `unknown option "burts" for --rate`},
		{"no-value-without-link", []string{"--corrupt", ",bits=3"}, `"" is not a probability`},
		{"twice", []string{"--loss", "a->b=1%", "--loss", "a->b=2%"}, `--loss given twice for a->b`},
		{"option-twice", []string{"--dup", "a->b=1%,copies=2,copies=3"}, `--dup: "a->b=1%,copies=2,copies=3": option "copies" given twice`},
		{"gemodel-five-values", []string{"--loss", "a->b=gemodel:1%:2%:3%:4%:5%"}, `gemodel takes at most 4 values (p:r:1-h:1-k)`},
		{"unknown-option", []string{"--dup", "a->b=1%,copiez=2"}, `unknown option "copiez" for --dup`},
		{"unknown-options-all-named-in-order", []string{"--dup", "a->b=1%,zz=1,copiez=2,yy"}, `unknown options "copiez", "yy", "zz" for --dup`},
		{"delay-too-large", []string{"--delay", "a->b=99999999999999999999h"}, `--delay: "a->b=99999999999999999999h": 99999999999999999999h is longer than 24h`},
		{"size-overflow", []string{"--rate", "a->b=10Mbit,queue=17592186044417MiB"}, `--rate: "a->b=10Mbit,queue=17592186044417MiB": queue: 17592186044417MiB is too large`},
		{"mtu-overflow", []string{"--mtu", "a->b=17592186044417MiB"}, `--mtu: "a->b=17592186044417MiB": 17592186044417MiB is too large`},
		{"reorder-alone", []string{"--reorder", "a->b=5%"}, `rule a->b: reorder needs a delay`},
		{"bad-seed", []string{"--seed", "x"}, `"x" is not an unsigned 64-bit integer`},
		{"bad-partition", []string{"--partition", "a"}, `needs at least two groups`},
		{"partition-port-twice-in-a-group", []string{"--partition", "a,a|b"}, `--partition: "a,a|b": "a" is listed twice in group "a,a"`},
		{"bad-partition-time", []string{"--partition", "a|b@8s-5s"}, `ends before it starts`},
		{"bad-down", []string{"--down", "a"}, `write PORT@5s-6s`},
		{"bad-down-period", []string{"--down", "a@1s-3s/1s"}, `--down: "a@1s-3s/1s": down 2s every 1s: the time down must be positive and shorter than the period`},
		{"down-period-zero", []string{"--down", "b@1s/0"}, `--down: "b@1s/0": repeat period: duration must be positive`},
		{"down-repeat-without-to", []string{"--down", "b@1s/2s"}, `--down: "b@1s/2s": a repeat needs FROM-TO (e.g. b@1s-1.2s/2s)`},
		{"down-repeat-open-to", []string{"--down", "b@1s-/2s"}, `--down: "b@1s-/2s": a repeat needs FROM-TO (e.g. b@1s-1.2s/2s)`},
		{"down-window-period-zero", []string{"--down", "b@1s-1.2s/0"}, `--down: "b@1s-1.2s/0": repeat period: duration must be positive`},
		{"stray-argument", []string{"--loss", "5%", "extra"}, `unexpected argument "extra"`},
		{"unknown-flag", []string{"--lose", "5%"}, `flag provided but not defined: -lose`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParseFlags(tt.args, abc)
			if err == nil {
				t.Fatalf("ParseFlags(%q) = %v, want error", tt.args, p.Describe(0))
			}
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseFlags(%q) error = %q, want ErrInvalid containing %q", tt.args, err, tt.want)
			}
		})
	}
}

func TestFlagsPartitionAndDown(t *testing.T) {
	p := mustFlags(t, "--partition", "a|b,c@5s-8s", "--partition", "a|b@1s+1s", "--partition", "b|c", "--down", "c@2s-2.5s/10s",
		"--partition", "a|b@20s-21s") // the same groups again: named a|b#2
	tests := []struct {
		at       time.Duration
		from, to string
		want     string // note action, "" for through
	}{
		{0, "b", "c", "partition"}, // b|c from the start
		{0, "a", "b", ""},
		{1500 * time.Millisecond, "a", "b", "partition"},
		{6 * time.Second, "a", "c", "partition"},
		{9 * time.Second, "a", "c", ""},
		{12200 * time.Millisecond, "c", "a", "down"},
		{12600 * time.Millisecond, "c", "a", ""},
	}
	for _, tt := range tests {
		d := decide(p, tt.at, link(tt.from, tt.to), plain())
		got := ""
		if d.Drop {
			got = d.Notes[0].Action
		}
		if got != tt.want {
			t.Errorf("at %v %s->%s: got %q (%v), want %q", tt.at, tt.from, tt.to, got, d.Notes, tt.want)
		}
	}
	names := []string{}
	for _, pt := range p.Describe(0).Partitions {
		names = append(names, pt.Name)
	}
	if want := []string{"a|b,c", "a|b", "b|c", "a|b#2"}; !slices.Equal(names, want) {
		t.Errorf("partition names %q, want %q", names, want)
	}
}

func TestFlagsMatchFile(t *testing.T) {
	// --loss a->b=5% decides exactly like the file rule of the same name.
	fromFlags := mustFlags(t, "--seed", "42", "--loss", "a->b=5%")
	fromFile := mustParse(t, "seed: 42\nrules:\n  - {name: a->b, match: {link: a->b}, loss: 5%}\n")
	for i := range 2000 {
		now := time.Duration(i) * time.Millisecond
		a := decide(fromFlags, now, link("a", "b"), plain())
		b := decide(fromFile, now, link("a", "b"), plain())
		if a.Drop != b.Drop {
			t.Fatalf("frame %d: flags drop %v, file drop %v", i, a.Drop, b.Drop)
		}
	}
}

func TestFlagsLoadWithFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.yaml")
	if err := os.WriteFile(path, []byte("seed: 1\nrules:\n  - {name: f, delay: 1ms}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var f Flags
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	f.Register(fs)
	if f.Given() {
		t.Error("Given() before parsing = true")
	}
	if err := fs.Parse([]string{"--seed", "7", "--loss", "a->b=1%"}); err != nil {
		t.Fatal(err)
	}
	p, err := f.Load(path, abc)
	if err != nil {
		t.Fatal(err)
	}
	d := p.Describe(0)
	if d.Seed != 7 || len(d.Rules) != 2 || d.Rules[0].Name != "f" || d.Rules[1].Name != "a->b" {
		t.Errorf("got %v, want seed 7, rules f then a->b", d)
	}
	if !strings.Contains(d.Text, `--loss "a->b=1%"`) {
		t.Errorf("text %q does not show the flags", d.Text)
	}
	if p.Name() != path+" + flags" {
		t.Errorf("name %q, want the file's + flags", p.Name())
	}

	// --seed alone adds no rule: the policy keeps the file's name, and its
	// text still records the seed.
	var seedOnly Flags
	fs = flag.NewFlagSet("t", flag.ContinueOnError)
	seedOnly.Register(fs)
	if err := fs.Parse([]string{"--seed", "9"}); err != nil {
		t.Fatal(err)
	}
	if p, err = seedOnly.Load(path, abc); err != nil {
		t.Fatal(err)
	}
	if d := p.Describe(0); p.Name() != path || d.Seed != 9 || !strings.Contains(d.Text, "--seed 9") {
		t.Errorf("seed only: name %q seed %d text %q, want %q, 9 and the seed recorded", p.Name(), d.Seed, d.Text, path)
	}
}

// TestFlagsRuleNamedInFile: a file rule named after a LINK (as POLICY.md
// suggests for parity) and a flag on that LINK would make two rules of
// one name; the error says so, and how to settle it.
func TestFlagsRuleNamedInFile(t *testing.T) {
	var f Flags
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	f.Register(fs)
	if err := fs.Parse([]string{"--loss", "a->b=5%", "--delay", "a -> b=1ms", "--loss", "b->a=1%"}); err != nil {
		t.Fatal(err)
	}
	_, err := f.Parse([]byte("rules:\n  - {name: a->b, match: {link: a->b}, loss: 5%}\n"), "p.yaml", abc)
	var list ErrorList
	if !errors.As(err, &list) || len(list) != 2 {
		t.Fatalf("got error %v, want two, one per flag on a->b", err)
	}
	want := `--loss: "a->b=5%": the policy file has a rule named "a->b" (p.yaml:2:12), the name of this flag's rule: rename the file's rule, or write the impairment in it`
	if got := list[0].Error(); got != want {
		t.Errorf("got error %q, want %q", got, want)
	}
	if got := list[1].Error(); !strings.HasPrefix(got, `--delay: "a -> b=1ms": the policy file has a rule named "a->b" (p.yaml:2:12),`) {
		t.Errorf("got error %q, want the --delay flag's", got)
	}
}

// TestFlagsParseIsLoadOfKeptText: a policy file read once (ReadPolicy)
// compiles from its text as Load compiles the file, flags and all, with
// the same name and hash, after the file is gone.
func TestFlagsParseIsLoadOfKeptText(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.yaml")
	if err := os.WriteFile(path, []byte("seed: 1\nrules:\n  - {name: f, delay: 1ms}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{nil, {"--seed", "7"}, {"--seed", "7", "--loss", "a->b=1%"}} {
		var f Flags
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		f.Register(fs)
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		loaded, err := f.Load(path, abc)
		if err != nil {
			t.Fatal(err)
		}
		data, err := ReadPolicy(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(path, path+".gone"); err != nil {
			t.Fatal(err)
		}
		parsed, err := f.Parse(data, path, abc)
		if err != nil {
			t.Fatalf("%q: Parse of the kept text: %v", args, err)
		}
		if parsed.Name() != loaded.Name() || parsed.Hash() != loaded.Hash() || parsed.Seed() != loaded.Seed() {
			t.Errorf("%q: got Parse name %q hash %s seed %d, want Load's %q %s %d", args,
				parsed.Name(), parsed.Hash(), parsed.Seed(), loaded.Name(), loaded.Hash(), loaded.Seed())
		}
		if err := os.Rename(path+".gone", path); err != nil {
			t.Fatal(err)
		}
	}
}

// TestFlagsHelpShowsTheDefaults: the --rate help's burst and queue are
// the ones Compile gives a --rate without them (read back from Describe),
// not numbers typed into the help.
func TestFlagsHelpShowsTheDefaults(t *testing.T) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	new(Flags).Register(fs)
	usage := fs.Lookup("rate").Usage
	m := regexp.MustCompile(`burst=([^\]]+)\]\[,queue=([^\]]+)\]`).FindStringSubmatch(usage)
	if m == nil {
		t.Fatalf("got --rate usage %q, want burst=SIZE and queue=SIZE in it", usage)
	}
	var help [2]int64
	for i, s := range m[1:] {
		n, err := parseSize(s)
		if err != nil {
			t.Fatalf("--rate usage %q: %v", usage, err)
		}
		help[i] = n
	}
	var got [2]int64
	action := mustFlags(t, "--rate", "10Mbit").Describe(0).Rules[0].Actions[0]
	if _, err := fmt.Sscanf(action, "rate 10Mbit burst %dB queue %dB", &got[0], &got[1]); err != nil {
		t.Fatalf("Describe action %q: %v", action, err)
	}
	if help != got {
		t.Errorf("got --rate usage %q (burst, queue %v), want the compiled defaults %v", usage, help, got)
	}
}

// TestPolicyDocStatesTheLimits: POLICY.md gives the defaults and ranges
// of burst, queue and mtu the code has.
func TestPolicyDocStatesTheLimits(t *testing.T) {
	doc, err := os.ReadFile("POLICY.md")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(strings.Fields(string(doc)), " ")
	for _, want := range []string{
		fmt.Sprintf("(default %s, %s-%s)", formatSize(defaultBurst), formatSize(minBurst), formatSize(maxRateBytes)),
		fmt.Sprintf("(default %s, 0-%s;", formatSize(defaultQueue), formatSize(maxRateBytes)),
		fmt.Sprintf("(%d-%d)", minMTU, maxMTU),
	} {
		if !strings.Contains(text, want) {
			t.Errorf("POLICY.md does not say %q", want)
		}
	}
}

// TestPolicyExampleFlagsDecideAsTheFile: POLICY.md's example file, its
// loss rule named as the doc says (a->b), and the flags the doc gives
// for it decide alike on every frame of traffic without announces (which
// the file's announce rule would drop before its loss rule counts them),
// and their notes differ only in the partition's name.
func TestPolicyExampleFlagsDecideAsTheFile(t *testing.T) {
	doc, err := os.ReadFile("POLICY.md")
	if err != nil {
		t.Fatal(err)
	}
	example, _, _ := strings.Cut(string(doc)[strings.Index(string(doc), "## The example"):], "## How a frame")
	_, yml, _ := strings.Cut(example, "```yaml\n")
	yml, _, _ = strings.Cut(yml, "```")
	m := regexp.MustCompile("`(--seed [^`]*)`").FindStringSubmatch(example)
	if yml == "" || m == nil || !strings.Contains(example, "Name the file's rule `a->b`") {
		t.Fatalf("POLICY.md's example has no file, flags or renaming advice:\n%s", example)
	}
	var args []string
	for _, a := range strings.Fields(m[1]) {
		args = append(args, strings.Trim(a, "'"))
	}
	renamed := strings.Replace(yml, "name: loss-a-b", "name: a->b", 1)
	if renamed == yml {
		t.Fatalf("POLICY.md's example file has no rule loss-a-b:\n%s", yml)
	}
	file, flags := mustParse(t, renamed), mustFlags(t, args...)
	drops := 0
	for i := range 2000 {
		f := udpFrame(macA, macB, ipA, ipB, 1000, 2000, []byte(fmt.Sprintf("x%04d", i)))
		at := time.Duration(i) * 5 * time.Millisecond // through the partition at 5s-8s
		for _, l := range []hub.Link{link("a", "b"), {From: 1, To: 0, FromName: "b", ToName: "a"}} {
			want := strings.ReplaceAll(formatDecision(decide(file, at, l, f)), "rule split:", "rule a|b:")
			if got := formatDecision(decide(flags, at, l, f)); got != want {
				t.Fatalf("frame %d on %s: flags %q, file %q", i, l, got, want)
			}
			if strings.HasPrefix(want, "drop") {
				drops++
			}
		}
	}
	if drops < 100 {
		t.Errorf("%d drops in 4000 decisions: the example's loss and partition did not show", drops)
	}
}
