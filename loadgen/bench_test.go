package loadgen

import (
	"bytes"
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"l2hub/hub"
	"l2hub/transport"
)

func TestFrameRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name   string
		dst    [6]byte
		sender int
		seq    uint64
		sent   int64
	}{
		{"unicast-first", MAC(1), 0, 0, 0},
		{"broadcast-late", BroadcastMAC, 31, 1 << 40, int64(time.Hour)},
		{"max-sender", MAC(0), MaxPorts - 1, math.MaxUint64, math.MaxInt64},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := make([]byte, 64)
			putHeader(b, tc.dst, tc.sender, kindData)
			stamp(b, tc.seq, tc.sent)
			h, ok := parseHeader(b)
			want := header{dst: tc.dst, kind: kindData, sender: tc.sender, seq: tc.seq, sent: tc.sent}
			if !ok || h != want {
				t.Errorf("got parseHeader = %+v, %v, want %+v, true", h, ok, want)
			}
			if src := [6]byte(b[6:12]); src != MAC(tc.sender) {
				t.Errorf("got source MAC %x, want %x", src, MAC(tc.sender))
			}
		})
	}
}

func TestParseHeaderRejects(t *testing.T) {
	good := make([]byte, HeaderLen)
	putHeader(good, MAC(1), 0, kindData)
	for _, tc := range []struct {
		name  string
		frame func() []byte
	}{
		{"short", func() []byte { return good[:HeaderLen-1] }},
		{"other-ethertype", func() []byte { b := slices.Clone(good); b[12] = 0x08; b[13] = 0; return b }},
		{"bad-magic", func() []byte { b := slices.Clone(good); b[14] = 'x'; return b }},
		{"empty", func() []byte { return nil }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if h, ok := parseHeader(tc.frame()); ok {
				t.Errorf("got parseHeader = %+v, true, want false", h)
			}
		})
	}
}

func FuzzParseHeader(f *testing.F) {
	good := make([]byte, 64)
	putHeader(good, MAC(3), 2, kindData)
	stamp(good, 7, 99)
	f.Add(good)
	f.Add(good[:HeaderLen])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, ok := parseHeader(b)
		if !ok {
			return
		}
		// Whatever parses writes back to the same header bytes.
		out := make([]byte, HeaderLen)
		putHeader(out, h.dst, h.sender, h.kind)
		stamp(out, h.seq, h.sent)
		if h.sender < MaxPorts && [6]byte(b[6:12]) == MAC(h.sender) && !bytes.Equal(out[:18], b[:18]) {
			t.Errorf("got header bytes %x, want %x", out[:18], b[:18])
		}
	})
}

func TestScenarioValidate(t *testing.T) {
	ok := Scenario{Transport: "tcp", Size: 64, Ports: 2, Duration: time.Millisecond}
	for _, tc := range []struct {
		name string
		edit func(*Scenario)
		bad  bool
	}{
		{"valid", func(*Scenario) {}, false},
		{"frame-too-short", func(s *Scenario) { s.Size = HeaderLen - 1 }, true},
		{"one-port", func(s *Scenario) { s.Ports = 1 }, true},
		{"too-many-ports", func(s *Scenario) { s.Ports = MaxPorts + 2 }, true},
		{"odd-unicast", func(s *Scenario) { s.Ports = 3 }, true},
		{"odd-broadcast", func(s *Scenario) { s.Ports, s.Pattern = 3, Broadcast }, false},
		{"no-duration", func(s *Scenario) { s.Duration = 0 }, true},
		{"negative-rate", func(s *Scenario) { s.Rate = -1 }, true},
		{"negative-window", func(s *Scenario) { s.Window = -1 }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc := ok
			tc.edit(&sc)
			err := sc.Validate()
			if (err != nil) != tc.bad || (err != nil && !errors.Is(err, ErrScenario)) {
				t.Errorf("got Validate() = %v, want error: %v (wrapping ErrScenario)", err, tc.bad)
			}
		})
	}
}

func TestHistogramQuantiles(t *testing.T) {
	for _, tc := range []struct {
		name    string
		samples []time.Duration
		q       float64
		want    time.Duration
	}{
		{"empty", nil, 0.5, 0},
		{"single", []time.Duration{42}, 0.99, 42},
		{"exact-small-median", []time.Duration{10, 20, 30, 40, 50}, 0.5, 30},
		{"nearest-rank-p99-of-100", seq(1, 100), 0.99, 99},
		{"nearest-rank-p50-of-100", seq(1, 100), 0.5, 50},
		{"min", seq(1, 100), 0, 1},
		{"max", seq(1, 100), 1, 100},
		{"negative-is-zero", []time.Duration{-5, -1}, 1, 0},
		{"clamped-to-max", []time.Duration{time.Millisecond + 1}, 0.5, time.Millisecond + 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var h Histogram
			for _, s := range tc.samples {
				h.Record(s)
			}
			if got := h.Quantile(tc.q); got != tc.want {
				t.Errorf("got Quantile(%v) = %v, want %v", tc.q, got, tc.want)
			}
		})
	}
}

func seq(from, to int) []time.Duration {
	var out []time.Duration
	for i := from; i <= to; i++ {
		out = append(out, time.Duration(i))
	}
	return out
}

// TestHistogramAgainstSort checks every reported percentile against the
// exact nearest-rank value of a seeded sample, within the bucket precision.
func TestHistogramAgainstSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var h, a, b Histogram
	var all []time.Duration
	for i := range 100000 {
		// Log-uniform from 100ns to 100ms, like latencies.
		d := time.Duration(100 * math.Pow(10, 6*rng.Float64()))
		all = append(all, d)
		h.Record(d)
		if i%2 == 0 {
			a.Record(d)
		} else {
			b.Record(d)
		}
	}
	a.Merge(&b)
	slices.Sort(all)
	for _, q := range []float64{0.01, 0.5, 0.9, 0.99, 0.999, 1} {
		rank := int(math.Ceil(q * float64(len(all))))
		want := all[rank-1]
		for name, hh := range map[string]*Histogram{"direct": &h, "merged": &a} {
			got := hh.Quantile(q)
			if rel := math.Abs(float64(got-want)) / float64(want); rel > 1.0/256 {
				t.Errorf("%s: got Quantile(%v) = %v, want %v within 1/256 (off by %.4f)", name, q, got, want, rel)
			}
		}
	}
	if h.Count() != uint64(len(all)) || a.Count() != h.Count() {
		t.Errorf("got counts %d and %d, want %d", h.Count(), a.Count(), len(all))
	}
	if h.Min() != all[0] || h.Max() != all[len(all)-1] {
		t.Errorf("got min %v max %v, want %v and %v", h.Min(), h.Max(), all[0], all[len(all)-1])
	}
}

func TestBucketRangeCoversBucketOf(t *testing.T) {
	for _, v := range []int64{0, 1, 127, 128, 255, 256, 257, 1000, 123456789, 1 << 39, 1<<40 + 5} {
		b := bucketOf(v)
		lo, hi := bucketRange(b)
		if b < histBuckets-1 && (v < lo || v > hi) {
			t.Errorf("got bucket %d = [%d, %d] for %d, want it to hold the value", b, lo, hi, v)
		}
	}
}

func TestParseStatm(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want uint64
		bad  bool
	}{
		{"1000 250 30 10 0 200 0\n", 250 * 4096, false},
		{"1 2", 2 * 4096, false},
		{"1", 0, true},
		{"1 x 3", 0, true},
	} {
		got, err := parseStatm([]byte(tc.in), 4096)
		if got != tc.want || (err != nil) != tc.bad {
			t.Errorf("got parseStatm(%q) = %d, %v, want %d, error %v", tc.in, got, err, tc.want, tc.bad)
		}
	}
}

// pipeTarget connects VM pairs with in-memory pipes; mangle, if set, wraps
// each VM's end so a test can lose or reorder frames on the way.
type pipeTarget struct {
	mangle func(vm int, p VM) VM
	// drain makes Close wait until every frame put into a pipe has been
	// read, so that a run's counts do not depend on how long the machine
	// took: Run's own drain gives up after a quiet spell, and a stalled
	// machine can leave frames in the pipes that would count as lost.
	drain bool
}

func (pipeTarget) Name() string { return "pipe" }

func (t pipeTarget) Open(_ context.Context, sc Scenario) (*Net, error) {
	n := &Net{}
	var fl flight
	for range sc.Ports / 2 {
		a, b := transport.PipeWithCapacity(256)
		n.Ports = append(n.Ports, a, b)
	}
	for i, p := range n.Ports {
		if t.drain {
			p = &inFlight{VM: p, fl: &fl}
		}
		if t.mangle != nil {
			p = t.mangle(i, p)
		}
		n.Ports[i] = p
	}
	n.Close = func() error {
		for t.drain && !fl.empty() {
			time.Sleep(time.Millisecond)
		}
		return closeAll(n.Ports)
	}
	return n, nil
}

// flight counts the frames in the pipes: written and not yet read.
type flight struct{ writing, written, read atomic.Int64 }

func (f *flight) empty() bool {
	return f.writing.Load() == 0 && f.written.Load() == f.read.Load()
}

type inFlight struct {
	VM
	fl *flight
}

func (p *inFlight) WriteFrame(f []byte) error {
	p.fl.writing.Add(1)
	defer p.fl.writing.Add(-1)
	err := p.VM.WriteFrame(f)
	if err == nil {
		p.fl.written.Add(1)
	}
	return err
}

func (p *inFlight) ReadFrame(b []byte) (int, error) {
	n, err := p.VM.ReadFrame(b)
	var fe *hub.FrameError
	if err == nil || errors.As(err, &fe) {
		p.fl.read.Add(1)
	}
	return n, err
}

// mangler drops or holds back data frames on their way out.
type mangler struct {
	VM
	mu      sync.Mutex
	n       int // data frames written so far
	drop    func(n int) bool
	swap    bool   // send data frames in swapped pairs: 1 0 3 2 ...
	held    []byte // the frame waiting for its pair
	dropped int
}

func (m *mangler) WriteFrame(f []byte) error {
	h, ok := parseHeader(f)
	if !ok || h.kind != kindData {
		return m.VM.WriteFrame(f)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.n++
	if m.drop != nil && m.drop(m.n) {
		m.dropped++
		return nil
	}
	if m.swap {
		if m.held == nil {
			m.held = slices.Clone(f)
			return nil
		}
		if err := m.VM.WriteFrame(f); err != nil {
			return err
		}
		held := m.held
		m.held = nil
		return m.VM.WriteFrame(held)
	}
	return m.VM.WriteFrame(f)
}

func TestRunCountsOverPipes(t *testing.T) {
	for _, tc := range []struct {
		name    string
		ports   int
		pattern Pattern
		window  int
		drop    func(n int) bool
		swap    bool
	}{
		{name: "lossless-pair", ports: 2, pattern: Unicast},
		{name: "lossless-four-pairs", ports: 8, pattern: Unicast},
		{name: "every-tenth-lost", ports: 2, pattern: Unicast, drop: func(n int) bool { return n%10 == 0 }},
		{name: "reordered-pairs", ports: 2, pattern: Unicast, swap: true},
		{name: "broadcast-pair", ports: 2, pattern: Broadcast},
		{name: "windowed", ports: 4, pattern: Unicast, window: 8},
		{name: "windowed-with-loss", ports: 2, pattern: Unicast, window: 8, drop: func(n int) bool { return n%7 == 0 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ms []*mangler
			target := pipeTarget{drain: true, mangle: func(vm int, p VM) VM {
				m := &mangler{VM: p, drop: tc.drop, swap: tc.swap}
				ms = append(ms, m)
				return m
			}}
			sc := Scenario{Kind: "test", Transport: "pipe", Size: 128, Ports: tc.ports, Pattern: tc.pattern,
				Duration: 30 * time.Millisecond, Window: tc.window}
			// A sender that first runs after its 30ms (a stalled machine)
			// sends nothing, and the run shows nothing; one that sends a
			// single frame delivers none when the mangler holds it back
			// (swap) or drops it: run it again.
			var res Result
			for attempt := 1; res.Received == 0; attempt++ {
				if attempt > 20 {
					t.Fatalf("got no frames received in %d runs: %+v", attempt-1, res)
				}
				ms = nil
				var err error
				if res, err = Run(context.Background(), sc, target); err != nil {
					t.Fatal(err)
				}
			}
			var dropped, held uint64
			for _, m := range ms {
				dropped += uint64(m.dropped)
				if m.held != nil {
					held++
				}
			}
			if res.Expected != res.Sent {
				t.Errorf("got %d expected deliveries, want %d (every frame has one receiver)", res.Expected, res.Sent)
			}
			if want := dropped + held; res.Lost != want {
				t.Errorf("got %d lost, want %d (dropped %d, held back %d)", res.Lost, want, dropped, held)
			}
			if res.Received+res.Lost != res.Expected {
				t.Errorf("got received %d + lost %d, want %d", res.Received, res.Lost, res.Expected)
			}
			wantLate := uint64(0)
			if tc.swap {
				wantLate = res.Received / 2
			}
			if res.Late != wantLate {
				t.Errorf("got %d late frames, want %d", res.Late, wantLate)
			}
			if res.Unwanted != 0 || res.Echoes != 0 || res.Foreign != 0 {
				t.Errorf("got unwanted %d, echoes %d, foreign %d, want none", res.Unwanted, res.Echoes, res.Foreign)
			}
			if got := res.LatencyP50; got <= 0 || got > res.LatencyMax {
				t.Errorf("got p50 %v with max %v, want 0 < p50 <= max", got, res.LatencyMax)
			}
		})
	}
}

// TestRunWindowBoundsInFlight checks that no sender gets far more frames
// out than its window past what its partner has read.
func TestRunWindowBoundsInFlight(t *testing.T) {
	const window = 4
	var mu sync.Mutex
	written := map[int]int{} // by VM: data frames written
	worst := 0
	target := pipeTarget{mangle: func(vm int, p VM) VM {
		return &countingIO{VM: p, onWrite: func() {
			mu.Lock()
			defer mu.Unlock()
			written[vm]++
		}, onRead: func(h header) {
			if h.kind != kindData {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			worst = max(worst, written[h.sender]-int(h.seq+1))
		}}
	}}
	sc := Scenario{Kind: "test", Transport: "pipe", Size: 64, Ports: 2, Duration: 20 * time.Millisecond, Window: window}
	if _, err := Run(context.Background(), sc, target); err != nil {
		t.Fatal(err)
	}
	// The window allows window-1 frames beyond the one being read; a
	// window timeout on a very slow machine may add one more window. A
	// sender ignoring the window would run up to the pipe's 256 frames.
	if worst > 2*window {
		t.Errorf("got up to %d frames in flight beyond the one read, want at most %d", worst, 2*window)
	}
}

type countingIO struct {
	VM
	onWrite func()
	onRead  func(header)
}

func (c *countingIO) WriteFrame(f []byte) error {
	if h, ok := parseHeader(f); ok && h.kind == kindHello {
		return c.VM.WriteFrame(f)
	}
	c.onWrite()
	return c.VM.WriteFrame(f)
}

func (c *countingIO) ReadFrame(b []byte) (int, error) {
	n, err := c.VM.ReadFrame(b)
	if err == nil {
		if h, ok := parseHeader(b[:n]); ok {
			c.onRead(h)
		}
	}
	return n, err
}

func TestRunWarmupFailsWithoutPath(t *testing.T) {
	target := pipeTarget{mangle: func(vm int, p VM) VM { return blackhole{p} }}
	sc := Scenario{Kind: "test", Transport: "pipe", Size: 64, Ports: 2, Duration: time.Millisecond}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := Run(ctx, sc, target)
	if !errors.Is(err, ErrWarmup) && !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v from a target that carries nothing, want a warm-up failure", err)
	}
}

// blackhole swallows everything written to it.
type blackhole struct{ VM }

func (blackhole) WriteFrame([]byte) error { return nil }

func TestDirectPairsOverLoopback(t *testing.T) {
	for _, tr := range []string{"tcp", "unix", "udp"} {
		t.Run(tr, func(t *testing.T) {
			sc := Scenario{Kind: "test", Transport: tr, Size: 64, Ports: 4, Duration: 20 * time.Millisecond, Window: 16}
			res, err := Run(context.Background(), sc, Direct{})
			if err != nil {
				t.Fatal(err)
			}
			if res.Received == 0 || res.Foreign != 0 {
				t.Errorf("got %d received, %d foreign, want some and none", res.Received, res.Foreign)
			}
		})
	}
	t.Run("broadcast-needs-two", func(t *testing.T) {
		_, err := Direct{}.Open(context.Background(), Scenario{Transport: "tcp", Ports: 4, Pattern: Broadcast})
		if !errors.Is(err, ErrUnsupported) {
			t.Errorf("got %v, want ErrUnsupported", err)
		}
	})
}

func TestMcastGroup(t *testing.T) {
	sc := Scenario{Kind: "test", Transport: "mcast", Size: 64, Ports: 2, Pattern: Broadcast, Duration: 20 * time.Millisecond, Window: 16}
	res, err := Run(context.Background(), sc, Mcast{})
	if errors.Is(err, ErrUnsupported) || errors.Is(err, ErrWarmup) {
		t.Skipf("multicast on loopback is not available here: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	// Every member hears its own frames: QEMU's mcast back end loops them.
	if res.Echoes == 0 || res.Received == 0 {
		t.Errorf("got %d echoes and %d received, want both", res.Echoes, res.Received)
	}
}

func TestSuiteRelatesToDirect(t *testing.T) {
	var progress strings.Builder
	s := &Suite{
		Sizes: []int{64}, Ports: []int{2}, Patterns: []Pattern{Unicast}, Duration: 20 * time.Millisecond, Window: 16,
		Targets: []Target{pipeTarget{}}, Progress: &progress,
	}
	rep, names := runSuite(t, s)
	for _, r := range rep.Results {
		if r.Err != "" {
			t.Errorf("%s: %s", r.Name, r.Err)
		}
	}
	want := []string{"throughput/direct/tcp/unicast/2p/64B", "throughput/pipe/tcp/unicast/2p/64B"}
	if !slices.Equal(names, want) {
		t.Fatalf("got scenarios %q, want %q", names, want)
	}
	pipe := rep.Results[1]
	if pipe.Baseline != want[0] || pipe.Ratio <= 0 {
		t.Errorf("got baseline %q ratio %v, want %q and a positive ratio", pipe.Baseline, pipe.Ratio, want[0])
	}
	rep.Evaluate("pipe", "none", "tcp")
	measured := map[string]bool{}
	for _, c := range rep.Checks {
		measured[c.Target] = c.Measured
	}
	if !measured["throughput pipe unicast 2 ports 64B >= 0.9x direct"] || measured["throughput none unicast 2 ports 64B >= 0.8x direct"] {
		t.Errorf("got checks %+v, want the pipe's measured and the missing target's not", rep.Checks)
	}
	var table bytes.Buffer
	if err := rep.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	for _, w := range append(want, "VS DIRECT", "Targets") {
		if !strings.Contains(table.String(), w) {
			t.Errorf("got table without %q:\n%s", w, table.String())
		}
	}
	if !strings.Contains(progress.String(), want[1]) {
		t.Errorf("got progress %q, want a line for %s", progress.String(), want[1])
	}
}

func TestSuiteFilter(t *testing.T) {
	s := &Suite{
		Sizes: []int{64, 128}, Ports: []int{2}, Patterns: []Pattern{Unicast}, Duration: 10 * time.Millisecond, Window: 16,
		Targets: []Target{pipeTarget{}}, Filter: regexp.MustCompile(`pipe/.*/128B`),
	}
	_, names := runSuite(t, s)
	// The baseline of the selected group runs too; the 64-byte group not at all.
	want := []string{"throughput/direct/tcp/unicast/2p/128B", "throughput/pipe/tcp/unicast/2p/128B"}
	if !slices.Equal(names, want) {
		t.Errorf("got scenarios %q, want %q", names, want)
	}
}

func TestFormatting(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{siRate(283489), "283k"},
		{siRate(1_210_000), "1.21M"},
		{siRate(2500), "2.5k"},
		{siRate(12), "12"},
		{fmtDur(0), "0"},
		{fmtDur(750), "750ns"},
		{fmtDur(12345 * time.Nanosecond), "12.3µs"},
		{fmtDur(-4560 * time.Microsecond), "-4.56ms"},
		{fmtLoss(0), "0"},
		{fmtLoss(0.00001), "<0.01%"},
		{fmtLoss(0.2485), "24.85%"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}
