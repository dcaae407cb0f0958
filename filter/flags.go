package filter

import (
	"flag"
	"fmt"
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
//	--down  PORT@FROM[-TO][/EVERY]
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
	{"rate", "rate limit: [LINK=]10Mbit[,burst=1514B][,queue=64KiB] (repeatable)"},
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
		return fmt.Errorf("%q is not an unsigned 64-bit integer", v)
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
	p := newPolicy("flags", ports)
	if errs := f.apply(p); len(errs) > 0 {
		return nil, errs
	}
	p.text = f.String()
	return p, nil
}

// Load compiles the policy file at path (none when path is "") and appends
// the flags' rules, partitions and schedules; --seed overrides the file's.
func (f *Flags) Load(path string, ports []string) (*Policy, error) {
	if path == "" {
		return f.Policy(ports)
	}
	p, err := Load(path, ports)
	if err != nil {
		return nil, err
	}
	if !f.Given() {
		return p, nil
	}
	if errs := f.apply(p); len(errs) > 0 {
		return nil, errs
	}
	if len(f.entries) > 0 { // --seed alone changes no rule: the file keeps its name
		p.name = path + " + flags"
	}
	p.text += "\n# flags: " + f.String() + "\n"
	return p, nil
}

// ParseFlags compiles a policy from command-line arguments holding only
// these flags (tests, and commands that parse them separately).
func ParseFlags(args []string, ports []string) (*Policy, error) {
	var f Flags
	fs := flag.NewFlagSet("policy", flag.ContinueOnError)
	fs.SetOutput(discard{})
	f.Register(fs)
	if err := fs.Parse(args); err != nil {
		return nil, ErrorList{{File: "flags", Msg: err.Error()}}
	}
	if fs.NArg() > 0 {
		return nil, ErrorList{{File: "flags", Msg: fmt.Sprintf("unexpected argument %q", fs.Arg(0))}}
	}
	return f.Policy(ports)
}

type discard struct{}

func (discard) Write(b []byte) (int, error) { return len(b), nil }

func (f *Flags) apply(p *Policy) ErrorList {
	var errs ErrorList
	fail := func(e flagEntry, err error) {
		if len(errs) < maxErrors {
			errs = append(errs, &FieldError{File: "--" + e.kind, Path: strconv.Quote(e.value), Msg: err.Error()})
		}
	}
	if f.seedSet {
		p.seed = f.seed
	}
	byLink := map[string]*rule{}
	var order []*rule
	for _, e := range f.entries {
		switch e.kind {
		case "partition":
			if err := p.flagPartition(e.value); err != nil {
				fail(e, err)
			}
			continue
		case "down":
			if err := p.flagDown(e.value); err != nil {
				fail(e, err)
			}
			continue
		}
		link, val, ok := strings.Cut(e.value, "=")
		if !ok {
			link, val = "*", e.value
		}
		link = strings.TrimSpace(link)
		r := byLink[link]
		if r == nil {
			r = newRule(link, 0)
			if link != "*" {
				ls, err := p.parseLink(link)
				if err != nil {
					fail(e, err)
					continue
				}
				r.m.addLinks(ls.pairs())
				r.matchDesc = "link=" + link
			}
			byLink[link] = r
			order = append(order, r)
		}
		if err := flagImpairment(r, e.kind, val); err != nil {
			fail(e, err)
		}
	}
	for _, r := range order {
		err := r.finish()
		if err == nil {
			err = p.addRule(r)
		}
		if err != nil && len(errs) < maxErrors {
			errs = append(errs, &FieldError{File: "flags", Path: "rule " + r.name, Msg: err.Error()})
		}
	}
	return errs
}

// flagOptions splits "VALUE,key=v,word" into the value and its options.
func flagOptions(s string) (string, map[string]string, error) {
	parts := strings.Split(s, ",")
	opts := map[string]string{}
	for _, o := range parts[1:] {
		k, v, _ := strings.Cut(strings.TrimSpace(o), "=")
		if _, dup := opts[k]; dup {
			return "", nil, fmt.Errorf("option %q given twice", k)
		}
		opts[k] = v
	}
	return strings.TrimSpace(parts[0]), opts, nil
}

func flagImpairment(r *rule, kind, s string) error {
	val, opts, err := flagOptions(s)
	if err != nil {
		return err
	}
	take := func(key string) (string, bool) {
		v, ok := opts[key]
		delete(opts, key)
		return v, ok
	}
	twice := fmt.Errorf("--%s given twice for %s", kind, r.name)
	switch kind {
	case "loss":
		if r.loss.model != lossNone {
			return twice
		}
		if ge, ok := strings.CutPrefix(val, "gemodel:"); ok {
			xs := strings.Split(ge, ":")
			if len(xs) > 4 {
				return fmt.Errorf("gemodel takes at most 4 values (p:r:1-h:1-k)")
			}
			vals := []float64{0, -1, 1, 0}
			for i, x := range xs {
				if vals[i], err = parseProbability(x); err != nil {
					return fmt.Errorf("gemodel %s: %w", [...]string{"p", "r", "1-h", "1-k"}[i], err)
				}
			}
			if vals[1] < 0 {
				vals[1] = 1 - vals[0]
			}
			r.loss = lossCfg{model: lossGE, p: vals[0], r: vals[1], bad: vals[2], good: vals[3]}
			break
		}
		p, err := parseProbability(val)
		if err != nil {
			return err
		}
		r.loss = lossCfg{model: lossRandom, p: p}
	case "delay":
		if r.delay != nil {
			return twice
		}
		fixed, jitter, err := parseDelay(val)
		if err != nil {
			return err
		}
		dc := &delayCfg{fixed: fixed, jitter: jitter}
		for _, word := range []string{"normal", "uniform", "reorder", "fifo"} {
			if v, ok := take(word); ok {
				if v != "" {
					return fmt.Errorf("option %q takes no value", word)
				}
				switch word {
				case "normal":
					dc.normal = true
				case "reorder":
					dc.reorder = true
				}
			}
		}
		r.delay = dc
	case "reorder":
		if r.reorder != nil {
			return twice
		}
		p, err := parseProbability(val)
		if err != nil {
			return err
		}
		ro := &reorderCfg{p: p, gap: 1}
		if v, ok := take("gap"); ok {
			if ro.gap, err = flagInt(v, 1, maxGap); err != nil {
				return fmt.Errorf("gap: %w", err)
			}
		}
		r.reorder = ro
	case "dup":
		if r.dup != nil {
			return twice
		}
		p, err := parseProbability(val)
		if err != nil {
			return err
		}
		dc := &dupCfg{p: p, copies: 1}
		if v, ok := take("copies"); ok {
			c, err := flagInt(v, 1, maxCopies-1)
			if err != nil {
				return fmt.Errorf("copies: %w", err)
			}
			dc.copies = int(c)
		}
		r.dup = dc
	case "corrupt":
		if r.corrupt != nil {
			return twice
		}
		p, err := parseProbability(val)
		if err != nil {
			return err
		}
		cc := &corruptCfg{p: p, bits: 1}
		if v, ok := take("bits"); ok {
			b, err := flagInt(v, 1, maxCorruptBits)
			if err != nil {
				return fmt.Errorf("bits: %w", err)
			}
			cc.bits = int(b)
		}
		if v, ok := take("skip"); ok {
			i := indexOf(skipNames[:], v)
			if i < 0 {
				return fmt.Errorf("skip: %q is not one of %s", v, strings.Join(skipNames[:], ", "))
			}
			cc.skip = skipLevel(i)
		}
		r.corrupt = cc
	case "rate":
		if r.rate != nil {
			return twice
		}
		bps, err := parseRate(val)
		if err != nil {
			return err
		}
		burst, queue := int64(defaultBurst), int64(defaultQueue)
		if v, ok := take("burst"); ok {
			if burst, err = flagSize(v, 64, maxRateBytes); err != nil {
				return fmt.Errorf("burst: %w", err)
			}
		}
		if v, ok := take("queue"); ok {
			if queue, err = flagSize(v, 0, maxRateBytes); err != nil {
				return fmt.Errorf("queue: %w", err)
			}
		}
		r.setRate(bps, burst, queue)
	case "mtu":
		if r.mtu != 0 {
			return twice
		}
		m, err := flagSize(val, 68, 65535)
		if err != nil {
			return err
		}
		r.mtu = int(m)
	default:
		return fmt.Errorf("unknown impairment %q", kind)
	}
	for k := range opts {
		return fmt.Errorf("unknown option %q for --%s", k, kind)
	}
	return nil
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
		return 0, fmt.Errorf("%q is not an integer", s)
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
	if v < lo || v > hi {
		return 0, fmt.Errorf("%d bytes is outside [%d,%d]", v, lo, hi)
	}
	return v, nil
}

// flagPartition reads GROUPS[@FROM-TO|@FROM|@FROM+DURATION]; without a time
// the partition holds from the start until healed.
func (p *Policy) flagPartition(s string) error {
	spec, when, timed := strings.Cut(s, "@")
	gs, err := p.parseGroups(spec)
	if err != nil {
		return err
	}
	pt := &partition{groups: gs, side: sides(gs)}
	pt.tg.hasStart = true
	if timed {
		if from, dur, ok := strings.Cut(when, "+"); ok {
			if pt.tg.start, err = parseDuration(from); err != nil {
				return err
			}
			d, err := parseDuration(dur)
			if err != nil {
				return err
			}
			if d == 0 {
				return fmt.Errorf("duration must be positive")
			}
			pt.tg.end, pt.tg.hasEnd = pt.tg.start+d, true
		} else if strings.Contains(when, "-") {
			from, to, err := parseTimeRange(when)
			if err != nil {
				return err
			}
			pt.tg.start = from
			if to >= 0 {
				pt.tg.end, pt.tg.hasEnd = to, true
			}
		} else if pt.tg.start, err = parseDuration(when); err != nil {
			return err
		}
	}
	name := pt.spec()
	for i := 2; p.partition(name) != nil; i++ {
		name = pt.spec() + "#" + strconv.Itoa(i)
	}
	if len(p.partitions) >= maxPartitions {
		return fmt.Errorf("more than %d partitions", maxPartitions)
	}
	pt.name = name
	pt.schedule = partitionSchedule(&pt.tg, nil, nil, 0)
	p.partitions = append(p.partitions, pt)
	return nil
}

// flagDown reads PORT@FROM[-TO][/EVERY].
func (p *Policy) flagDown(s string) error {
	port, when, ok := strings.Cut(s, "@")
	if !ok {
		return fmt.Errorf("%q: write PORT@5s-6s", s)
	}
	port = strings.TrimSpace(port)
	if _, isGroup := p.groups[port]; isGroup {
		return fmt.Errorf("a schedule moves one port, not group %q", port)
	}
	if _, err := p.expand(port); err != nil {
		return err
	}
	var every, downFor time.Duration
	var err error
	if w, e, rep := strings.Cut(when, "/"); rep {
		if every, err = parseDuration(e); err != nil {
			return err
		}
		when = w
	}
	var at time.Duration
	if strings.Contains(when, "-") {
		from, to, err := parseTimeRange(when)
		if err != nil {
			return err
		}
		at = from
		if to >= 0 {
			downFor = to - from
		}
	} else if at, err = parseDuration(when); err != nil {
		return err
	}
	if every > 0 && (downFor == 0 || downFor >= every) {
		return fmt.Errorf("with /EVERY the down time must be positive and shorter than EVERY")
	}
	return p.addSchedule("down:"+port, port, at, downFor, every, 0)
}
