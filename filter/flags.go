package filter

import (
	"flag"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Flags are quick-test impairments given on the command line, compiled into
// the same Policy a file gives. Register them on the command's FlagSet, then
// call Policy (flags alone) or Load (a file, with the flags' rules after its
// own).
//
//	--seed N
//	--loss  [LINK=]P | gemodel:P[:R[:1-H[:1-K]]]
//	--delay [LINK=]D[±J][,normal][,reorder]
//	--reorder [LINK=]P[,gap=N]       (needs --delay on the same LINK)
//	--dup   [LINK=]P[,copies=N]
//	--corrupt [LINK=]P[,bits=N][,skip=ethernet|ip|transport]
//	--rate  [LINK=]RATE[,burst=SIZE][,queue=SIZE]
//	--mtu   [LINK=]SIZE
//	--partition GROUPS[@FROM-TO | @FROM | @FROM+DURATION]
//	--down  PORT@FROM[-TO[/EVERY]]
//
// LINK is a->b or a<->b; without it the flag applies to every link. All
// impairment flags naming the same LINK form one rule, named after LINK
// ("a->b", "*" for all links), so --delay and --reorder combine as in netem.
type Flags struct {
	seed    uint64
	seedSet bool
	entries []flagEntry
}

type flagEntry struct {
	kind, value string
}

// flagKinds are the impairment flags, in the order Register defines them.
var flagKinds = []struct{ name, usage string }{
	{"loss", "drop frames: [LINK=]5% or [LINK=]gemodel:P:R:1-H:1-K (repeatable)"},
	{"delay", "delay frames: [LINK=]20ms±5ms[,normal][,reorder] (repeatable)"},
	{"reorder", "netem reorder: [LINK=]25%[,gap=5], with --delay on LINK (repeatable)"},
	{"dup", "duplicate frames: [LINK=]1%[,copies=N] (repeatable)"},
	{"corrupt", "flip bits: [LINK=]1%[,bits=N][,skip=transport] (repeatable)"},
	{"rate", "rate limit: [LINK=]10Mbit[,burst=" + formatSize(defaultBurst) + "][,queue=" + formatSize(defaultQueue) +
		"] (defaults shown; repeatable)"},
	{"mtu", "drop frames above an L3 size: [LINK=]1400 (repeatable)"},
	{"partition", "partition port groups: a|b[@5s-8s] (repeatable)"},
	{"down", "take a port's link down: PORT@5s-6s, or PORT@2s-2.5s/5s to repeat (repeatable)"},
}

type kindValue struct {
	f    *Flags
	kind string
}

func (k kindValue) String() string { return "" }

// Type names the value in help output (pflag shows it as the placeholder).
func (k kindValue) Type() string { return "spec" }

func (k kindValue) Set(s string) error {
	if len(k.f.entries) >= maxRules {
		return fmt.Errorf("more than %d fault flags", maxRules)
	}
	k.f.entries = append(k.f.entries, flagEntry{kind: k.kind, value: s})
	return nil
}

type seedValue struct{ f *Flags }

func (s seedValue) String() string { return "" }

func (s seedValue) Set(v string) error {
	n, err := strconv.ParseUint(v, 0, 64)
	if err != nil {
		return fmt.Errorf("%s is not an unsigned 64-bit integer", quote(v))
	}
	s.f.seed, s.f.seedSet = n, true
	return nil
}

// Register defines --seed and the impairment flags on fs.
func (f *Flags) Register(fs *flag.FlagSet) {
	fs.Var(seedValue{f}, "seed", "seed for every random draw of the policy (default: the file's, or 0)")
	for _, k := range flagKinds {
		fs.Var(kindValue{f, k.name}, k.name, k.usage)
	}
}

// Given reports whether any of the flags was set.
func (f *Flags) Given() bool { return f.seedSet || len(f.entries) > 0 }

// SeedGiven reports whether --seed was set.
func (f *Flags) SeedGiven() bool { return f.seedSet }

// SetSeed sets the seed as --seed does (replay takes a capture's).
func (f *Flags) SetSeed(seed uint64) { f.seed, f.seedSet = seed, true }

// ClearSeed forgets --seed, as if it had not been given (replay compares
// the texts of equal policies, with and without it).
func (f *Flags) ClearSeed() { f.seed, f.seedSet = 0, false }

// String renders the flags as given, for Describe.
func (f *Flags) String() string {
	var parts []string
	if f.seedSet {
		parts = append(parts, "--seed "+strconv.FormatUint(f.seed, 10))
	}
	for _, e := range f.entries {
		parts = append(parts, "--"+e.kind+" "+strconv.Quote(e.value))
	}
	return strings.Join(parts, " ")
}

// Policy compiles the flags alone. ports are as for Load.
func (f *Flags) Policy(ports []string) (*Policy, error) {
	spec := &Spec{Name: "flags", Text: f.String(), Groups: map[string][]string{}}
	if err := f.addTo(spec, ports); err != nil {
		return nil, err
	}
	return Compile(spec, ports)
}

// Load compiles the policy file at path (none when path is "") and appends
// the flags' rules, partitions and schedules; --seed overrides the file's.
func (f *Flags) Load(path string, ports []string) (*Policy, error) {
	if path == "" {
		return f.Policy(ports)
	}
	data, err := ReadPolicy(path)
	if err != nil {
		return nil, err
	}
	return f.Parse(data, path, ports)
}

// Parse is Load of a policy file's text, read already (ReadPolicy): path
// names the file, as Load names it, in errors and in the policy's name.
// A file that cannot be read twice (a pipe, <(…)) is read once and
// compiled from its text as often as needed.
func (f *Flags) Parse(data []byte, path string, ports []string) (*Policy, error) {
	spec, err := ParseSpec(data, path, ports)
	if err != nil {
		return nil, err
	}
	file, err := Compile(spec, ports) // the file's own problems first
	if err != nil || !f.Given() {
		return file, err
	}
	if err := f.addTo(spec, ports); err != nil {
		return nil, err
	}
	if len(f.entries) > 0 { // --seed alone changes no rule: the file keeps its name
		spec.Name = path + " + flags"
	}
	spec.Text += "\n# flags: " + f.String() + "\n"
	return Compile(spec, ports)
}

// ParseFlags compiles a policy from command-line arguments holding only
// these flags (tests, and commands that parse them separately).
func ParseFlags(args []string, ports []string) (*Policy, error) {
	var f Flags
	fs := flag.NewFlagSet("policy", flag.ContinueOnError)
	fs.SetOutput(discard{})
	f.Register(fs)
	if err := fs.Parse(args); err != nil {
		return nil, ErrorList{{File: "flags", Msg: err.Error(), Kind: ErrInvalid}}
	}
	if fs.NArg() > 0 {
		return nil, ErrorList{{File: "flags", Msg: fmt.Sprintf("unexpected argument %s", quote(fs.Arg(0))), Kind: ErrInvalid}}
	}
	return f.Policy(ports)
}

type discard struct{}

func (discard) Write(b []byte) (int, error) { return len(b), nil }

// addTo is the flags' front end: it adds their rules (one per link, every
// impairment flag naming it), partitions and schedules to spec, names
// resolved against ports and spec's groups. Values are checked here and
// reported by flag; Compile checks the rest.
func (f *Flags) addTo(spec *Spec, ports []string) error {
	errs := newErrors("flags")
	fail := func(e flagEntry, err error) {
		errs.Add(&FieldError{File: "--" + e.kind, Path: quote(e.value), Msg: err.Error()})
	}
	sc := newScope(ports)
	for name, g := range spec.Groups {
		sc.groups[name] = g
	}
	if f.seedSet {
		spec.Seed = f.seed
	}
	byLink := map[string]int{} // rule index in spec.Rules
	for _, e := range f.entries {
		switch e.kind {
		case "partition":
			ps, err := flagPartition(&sc, spec, e.value)
			if err != nil {
				fail(e, err)
				continue
			}
			ps.At = Pos{File: "--" + e.kind, Path: quote(e.value)}
			spec.Partitions = append(spec.Partitions, ps)
			continue
		case "down":
			ss, err := flagDown(&sc, e.value)
			if err != nil {
				fail(e, err)
				continue
			}
			ss.Pos = Pos{File: "--" + e.kind, Path: quote(e.value)}
			spec.Schedules = append(spec.Schedules, ss)
			continue
		}
		link, val := flagLink(e.value)
		i, seen := byLink[link]
		if j := slices.IndexFunc(spec.Rules, func(rs RuleSpec) bool { return rs.Name == link }); !seen && j >= 0 {
			// A flag rule is named after its LINK, and its streams are
			// keyed by that name: it cannot be renamed without changing
			// its draws, so the clash is the user's to settle.
			fail(e, fmt.Errorf("the policy file has a rule named %s%s, the name of this flag's rule: rename the file's rule, or write the impairment in it", quote(link), where(spec.Rules[j].NameAt)))
			continue
		}
		if !seen {
			at := Pos{File: "flags", Path: "rule " + link}
			rs := RuleSpec{Name: link, At: at, NameAt: at}
			if link != "*" {
				ls, err := sc.parseLink(link)
				if err != nil {
					fail(e, err)
					continue
				}
				rs.Match = MatchSpec{Links: ls.pairs(), Description: "link=" + link}
			}
			i = len(spec.Rules)
			byLink[link] = i
			spec.Rules = append(spec.Rules, rs)
		}
		if err := flagImpairment(&spec.Rules[i], e.kind, val); err != nil {
			fail(e, err)
		}
	}
	return errs.Err()
}

// flagLink splits an impairment flag's "[LINK=]VALUE[,opt=N...]" into its
// LINK ("*" when none is given) and the rest. A LINK ends at an "=" before
// the first comma: after it, "=" belongs to an option ("1%,copies=2"), and
// no value holds one, so text before such an "=" can only be meant as a
// LINK (and is reported as one when it is not).
func flagLink(s string) (link, rest string) {
	first, _, _ := strings.Cut(s, ",")
	l, _, ok := strings.Cut(first, "=")
	if !ok {
		return "*", s
	}
	return normalLink(strings.TrimSpace(l)), s[len(l)+1:]
}

// normalLink writes a LINK as the rule it names is named: without spaces
// around its arrow ("a -> b" is a->b).
func normalLink(s string) string {
	for _, arrow := range [...]string{"<->", "->"} {
		if a, b, ok := strings.Cut(s, arrow); ok {
			return strings.TrimSpace(a) + arrow + strings.TrimSpace(b)
		}
	}
	return s
}

// flagOptions splits "VALUE,key=v,word" into the value and its options.
func flagOptions(s string) (string, map[string]string, error) {
	parts := strings.Split(s, ",")
	opts := map[string]string{}
	for _, o := range parts[1:] {
		k, v, _ := strings.Cut(strings.TrimSpace(o), "=")
		if _, dup := opts[k]; dup {
			return "", nil, fmt.Errorf("option %s given twice", quote(k))
		}
		opts[k] = v
	}
	return strings.TrimSpace(parts[0]), opts, nil
}

func flagImpairment(r *RuleSpec, kind, s string) error {
	val, opts, err := flagOptions(s)
	if err != nil {
		return err
	}
	take := func(key string) (string, bool) {
		v, ok := opts[key]
		delete(opts, key)
		return v, ok
	}
	twice := fmt.Errorf("--%s given twice for %s", kind, shown(r.Name))
	switch kind {
	case "loss":
		if r.Loss != nil {
			return twice
		}
		if ge, ok := strings.CutPrefix(val, "gemodel:"); ok {
			xs := strings.Split(ge, ":")
			var vals [4]float64
			names := [len(vals)]string{"p", "r", "1-h", "1-k"}
			if len(xs) > len(vals) {
				return fmt.Errorf("gemodel takes at most %d values (%s)", len(vals), strings.Join(names[:], ":"))
			}
			for i, x := range xs {
				if vals[i], err = parseProbability(x); err != nil {
					return fmt.Errorf("gemodel %s: %w", names[i], err)
				}
			}
			g := &GEModelSpec{P: vals[0]}
			for i, dst := range []**float64{&g.R, &g.BadLoss, &g.GoodLoss} {
				if i+1 < len(xs) {
					*dst = &vals[i+1]
				}
			}
			r.Loss = &LossSpec{GE: g}
			break
		}
		p, err := parseProbability(val)
		if err != nil {
			return err
		}
		r.Loss = &LossSpec{Probability: p}
	case "delay":
		if r.Delay != nil {
			return twice
		}
		fixed, jitter, err := parseDelay(val)
		if err != nil {
			return err
		}
		dc := &DelaySpec{Fixed: fixed, Jitter: jitter}
		for _, word := range []string{"normal", "uniform", "reorder", "fifo"} {
			if v, ok := take(word); ok {
				if v != "" {
					return fmt.Errorf("option %s takes no value", quote(word))
				}
				switch word {
				case "normal":
					dc.Normal = true
				case "reorder":
					dc.Reorder = true
				}
			}
		}
		r.Delay = dc
	case "reorder":
		if r.Reorder != nil {
			return twice
		}
		p, err := parseProbability(val)
		if err != nil {
			return err
		}
		ro := &ReorderSpec{Probability: p}
		if v, ok := take("gap"); ok {
			if ro.Gap, err = flagInt(v, 1, maxGap); err != nil {
				return fmt.Errorf("gap: %w", err)
			}
		}
		r.Reorder = ro
	case "dup":
		if r.Duplicate != nil {
			return twice
		}
		p, err := parseProbability(val)
		if err != nil {
			return err
		}
		dc := &DuplicateSpec{Probability: p}
		if v, ok := take("copies"); ok {
			c, err := flagInt(v, 1, maxCopies-1)
			if err != nil {
				return fmt.Errorf("copies: %w", err)
			}
			dc.Copies = int(c)
		}
		r.Duplicate = dc
	case "corrupt":
		if r.Corrupt != nil {
			return twice
		}
		p, err := parseProbability(val)
		if err != nil {
			return err
		}
		cc := &CorruptSpec{Probability: p}
		if v, ok := take("bits"); ok {
			b, err := flagInt(v, 1, maxCorruptBits)
			if err != nil {
				return fmt.Errorf("bits: %w", err)
			}
			cc.Bits = int(b)
		}
		if v, ok := take("skip"); ok {
			if indexOf(skipNames[:], v) < 0 {
				return fmt.Errorf("skip: %s is not one of %s", quote(v), strings.Join(skipNames[:], ", "))
			}
			cc.Skip = v
		}
		r.Corrupt = cc
	case "rate":
		if r.Rate != nil {
			return twice
		}
		bps, err := parseRate(val)
		if err != nil {
			return err
		}
		rs := &RateSpec{BitsPerSecond: bps}
		if v, ok := take("burst"); ok {
			if rs.Burst, err = flagSize(v, minBurst, maxRateBytes); err != nil {
				return fmt.Errorf("burst: %w", err)
			}
		}
		if v, ok := take("queue"); ok {
			q, err := flagSize(v, 0, maxRateBytes)
			if err != nil {
				return fmt.Errorf("queue: %w", err)
			}
			rs.Queue = &q
		}
		r.Rate = rs
	case "mtu":
		if r.MTU != 0 {
			return twice
		}
		m, err := flagSize(val, minMTU, maxMTU)
		if err != nil {
			return err
		}
		r.MTU = int(m)
	default:
		return fmt.Errorf("unknown impairment %s", quote(kind))
	}
	switch unknown := slices.Sorted(maps.Keys(opts)); len(unknown) {
	case 0:
		return nil
	case 1:
		return fmt.Errorf("unknown option %s for --%s", quote(unknown[0]), kind)
	default: // all of them, in an order that does not change from run to run
		for i, k := range unknown {
			unknown[i] = quote(k)
		}
		return fmt.Errorf("unknown options %s for --%s", strings.Join(unknown, ", "), kind)
	}
}

func indexOf(words []string, w string) int {
	for i, x := range words {
		if x == w {
			return i
		}
	}
	return -1
}

func flagInt(s string, lo, hi int64) (int64, error) {
	v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s is not an integer", quote(s))
	}
	if v < lo || v > hi {
		return 0, fmt.Errorf("%d is outside [%d,%d]", v, lo, hi)
	}
	return v, nil
}

func flagSize(s string, lo, hi int64) (int64, error) {
	v, err := parseSize(s)
	if err != nil {
		return 0, err
	}
	if err := checkSize(v, lo, hi); err != nil {
		return 0, err
	}
	return v, nil
}

// flagPartition reads GROUPS[@FROM-TO|@FROM|@FROM+DURATION]; without a time
// the partition holds from the start until healed. It is named after its
// groups ("a|b,c"), with "#2" and on when the spec has that name already.
func flagPartition(sc *scope, spec *Spec, s string) (PartitionSpec, error) {
	groups, when, timed := strings.Cut(s, "@")
	gs, err := sc.parseGroups(groups)
	if err != nil {
		return PartitionSpec{}, err
	}
	ps := PartitionSpec{Groups: gs}
	var start time.Duration
	if timed {
		if from, dur, ok := strings.Cut(when, "+"); ok {
			if start, err = parseDuration(from); err != nil {
				return ps, err
			}
			if ps.Duration, err = parseHold(dur); err != nil {
				return ps, err
			}
		} else if strings.Contains(when, "-") {
			from, to, err := parseTimeRange(when)
			if err != nil {
				return ps, err
			}
			start = from
			if to >= 0 {
				ps.End = &to
			}
		} else if start, err = parseDuration(when); err != nil {
			return ps, err
		}
	}
	ps.Start = &start
	base := (&partition{groups: gs}).spec()
	ps.Name = base
	for i := 2; slices.ContainsFunc(spec.Partitions, func(o PartitionSpec) bool { return o.Name == ps.Name }); i++ {
		ps.Name = base + "#" + strconv.Itoa(i)
	}
	return ps, nil
}

// flagDown reads PORT@FROM[-TO[/EVERY]].
func flagDown(sc *scope, s string) (ScheduleSpec, error) {
	port, when, ok := strings.Cut(s, "@")
	if !ok {
		return ScheduleSpec{}, fmt.Errorf("%s: write PORT@5s-6s", quote(s))
	}
	port = strings.TrimSpace(port)
	if _, isGroup := sc.groups[port]; isGroup {
		return ScheduleSpec{}, fmt.Errorf("a schedule moves one port, not group %s", quote(port))
	}
	if _, err := sc.expand(port); err != nil {
		return ScheduleSpec{}, err
	}
	ss := ScheduleSpec{Name: "down:" + port, Port: port}
	var err error
	if w, e, rep := strings.Cut(when, "/"); rep {
		if ss.Every, err = parseHold(e); err != nil {
			return ss, fmt.Errorf("repeat period: %w", err)
		}
		when = w
	}
	var at time.Duration
	if strings.Contains(when, "-") {
		from, to, err := parseTimeRange(when)
		if err != nil {
			return ss, err
		}
		at = from
		if to >= 0 {
			ss.DownFor = to - from
		}
	} else if at, err = parseDuration(when); err != nil {
		return ss, err
	}
	if ss.Every > 0 && ss.DownFor == 0 {
		// Without TO the port is down for good: there is nothing to repeat.
		return ss, fmt.Errorf("a repeat needs FROM-TO (e.g. %s@1s-1.2s/2s)", port)
	}
	ss.At = &at // Compile checks DownFor against Every
	return ss, nil
}

// where is " (p.yaml:3:11)" for a position in a file, "" for one without
// a line.
func where(at Pos) string {
	if at.Line == 0 {
		return ""
	}
	return fmt.Sprintf(" (%s:%d:%d)", at.File, at.Line, at.Column)
}
