package report

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"l2hub/hub"
)

var start = time.Date(2026, 12, 6, 8, 39, 35, 0, time.UTC)

func TestConsoleStamps(t *testing.T) {
	tests := []struct {
		name   string
		log    string
		offset *time.Duration
		want   []string // "port-relative time|text|class"
	}{
		{"e2e-harness", "# qemu-system-x86_64 -m 128M\n# t0=2026-12-06T08:39:37.5Z\n  2.351 GUEST: up ip=10.42.0.10/24\n  8.438 GUEST: nexus FAIL node-a: timeout\n  8.467 # exit: exit status 0\n",
			nil, []string{"4.851s|GUEST: up ip=10.42.0.10/24|", "10.938s|GUEST: nexus FAIL node-a: timeout|fail", "10.967s|# exit: exit status 0|"}},
		{"lab-run-counts-from-the-capture's-start", "  0.500 discovery ok\n 12.000 session ok\n",
			nil, []string{"0.500s|discovery ok|ok", "12.000s|session ok|ok"}},
		{"offset-wins-over-t0", "# t0=2026-12-06T08:40:00Z\n1.0 booted\n",
			ptr(2 * time.Second), []string{"3.000s|booted|"}},
		{"dmesg-brackets", "[    7.791373] reboot: Power down\n",
			nil, []string{"7.791s|reboot: Power down|"}},
		{"absolute-rfc3339", "2026-12-06T08:39:36.250Z GUEST: up\n2026-12-06 08:39:37,000 error: disk\n2026-12-06T10:39:38+02:00 tz\n",
			ptr(time.Hour), []string{"1.250s|GUEST: up|", "2.000s|error: disk|fail", "3.000s|tz|"}},
		{"lines-without-stamps-are-not-markers", "kernel: hello\n\n  3.5\n  4.0 x\n", nil, []string{"4.000s|x|"}},
		{"year-one-is-a-date-not-zero", "0001-01-01T00:00:00Z first day\n", nil, []string{"-9223372036.855s|first day|"}},
		{"whole-numbers-are-text-not-stamps", "64 bytes from 10.0.0.2: seq=0 ttl=64 time=1.2 ms\n200 OK\n3 packets transmitted\n" +
			"[  12] bracketed whole seconds\n  2.5 with a fraction\n[ 3.25 unclosed\n4.5] unopened\n7. no digits after the point\n",
			nil, []string{"12.000s|bracketed whole seconds|", "2.500s|with a fraction|"}},
		{"control-characters-and-escapes-removed", "  1.0 \x1b[31mred\x1b[0m\tand\x00tab\r\n", nil, []string{"1.000s|[31mred[0m andtab|"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log, err := parseConsole(strings.NewReader(tt.log), nil, Limits{}.withDefaults())
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, m := range log.place(0, "x.log", start, tt.offset) {
				got = append(got, fmtDur(m.Time)+"|"+m.Text+"|"+m.Class)
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got markers\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestConsoleMatch(t *testing.T) {
	log, err := parseConsole(strings.NewReader("  1.0 GUEST: up\n  1.5 random noise\n  2.0 GUEST: done ok\n"), regexp.MustCompile(`^GUEST:`), Limits{}.withDefaults())
	if err != nil {
		t.Fatal(err)
	}
	if len(log.lines) != 2 || log.lines[0].line != 1 || log.lines[1].line != 3 {
		t.Errorf("got %+v, want lines 1 and 3", log.lines)
	}
}

func TestConsoleLimits(t *testing.T) {
	lim := Limits{MaxLineBytes: 64, MaxMarkers: 3, MaxConsoleBytes: 4096}.withDefaults()
	t.Run("long-line-is-cut", func(t *testing.T) {
		lim := lim
		lim.MaxConsoleBytes = 1 << 20
		log, err := parseConsole(strings.NewReader("  1.0 "+strings.Repeat("x", 100000)+"\n  2.0 next\n"), nil, lim)
		if err != nil {
			t.Fatal(err)
		}
		if len(log.lines) != 2 || len(log.lines[0].text) > 64 || log.lines[1].text != "next" {
			t.Errorf("got %d lines, first %d bytes, second %q, want the first cut to 64 bytes and the next read", len(log.lines), len(log.lines[0].text), log.lines[1].text)
		}
	})
	t.Run("markers-are-counted-past-the-limit", func(t *testing.T) {
		log, err := parseConsole(strings.NewReader(strings.Repeat("  1.0 x\n", 10)), nil, lim)
		if err != nil {
			t.Fatal(err)
		}
		if len(log.lines) != 3 || log.more != 7 {
			t.Errorf("got %d lines and %d more, want 3 and 7", len(log.lines), log.more)
		}
	})
	t.Run("file-too-large", func(t *testing.T) {
		_, err := parseConsole(strings.NewReader(strings.Repeat("  1.0 x\n", 1000)), nil, lim)
		if err == nil || !strings.Contains(err.Error(), "4096") {
			t.Errorf("got %v, want an error naming the 4096-byte limit", err)
		}
	})
	t.Run("bad-t0", func(t *testing.T) {
		_, err := parseConsole(strings.NewReader("# t0=yesterday\n"), nil, lim)
		if err == nil || !strings.Contains(err.Error(), "line 1") {
			t.Errorf("got %v, want an error naming line 1", err)
		}
	})
}

func TestConsoleOnUnknownPort(t *testing.T) {
	_, err := Build(Options{Capture: failingRun, Consoles: []Console{{Port: "c", Path: "testdata/failing-run-node-a.log"}}})
	if err == nil || !strings.Contains(err.Error(), `port "c"`) || !strings.Contains(err.Error(), "ports: a, b") {
		t.Errorf("got %v, want an error naming port c and the ports there are", err)
	}
	_, err = Build(Options{Capture: failingRun, Consoles: []Console{{Port: "a", Path: "testdata/no-such.log"}}})
	if err == nil || !strings.Contains(err.Error(), "no-such.log") {
		t.Errorf("got %v, want an error naming the log", err)
	}
}

func TestParseConsole(t *testing.T) {
	c, err := ParseConsole("a=logs/a.log,offset=1.5s,match=GUEST:,x")
	if err != nil {
		t.Fatal(err)
	}
	if c.Port != "a" || c.Path != "logs/a.log" || c.Offset == nil || *c.Offset != 1500*time.Millisecond ||
		c.Match == nil || c.Match.String() != "GUEST:,x" {
		t.Errorf("ParseConsole = %+v", c)
	}
	if c, err := ParseConsole("b=b.log"); err != nil || c.Offset != nil || c.Match != nil || c.Path != "b.log" {
		t.Errorf("ParseConsole(b=b.log) = %+v, %v", c, err)
	}
	// A port name with '=' in it doubles it; the log's name keeps its own.
	for spec, want := range map[string][2]string{
		"k==v=a.log":               {"k=v", "a.log"},
		"k===a.log":                {"k=", "a.log"},
		"a=run=1/a.log":            {"a", "run=1/a.log"},
		"x====y=a=b.log,offset=1s": {"x==y", "a=b.log"},
	} {
		if c, err := ParseConsole(spec); err != nil || c.Port != want[0] || c.Path != want[1] {
			t.Errorf("ParseConsole(%q) = port %q, log %q, %v; want %q", spec, c.Port, c.Path, err, want)
		}
	}
	for spec, want := range map[string]string{
		"a==x.log": "want NAME=LOG",
		"a.log":    "want NAME=LOG", "=a.log": "want NAME=LOG", "a=": "no log file",
		"a=x.log,color=red": `unknown option "color"`, "a=x.log,offset=soon": "offset",
		"a=x.log,match=(": "match",
	} {
		if _, err := ParseConsole(spec); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseConsole(%q) = %v, want an error saying %q", spec, err, want)
		}
	}
}

// A date and time with no zone is read as UTC, and a warning says so; a
// log whose markers lie far outside the capture (a local time read as
// UTC, a clock never set) is warned about too, as it stretches the run's
// time axis: an hour off makes a 5 s run an hour long.
func TestConsoleClockWarnings(t *testing.T) {
	path, s := openRun(t) // the hub starts at t0: 1970-01-01T00:16:40Z
	frame := udpFrame("a", "b", 37020, 1, 0)
	s.Observe(&hub.Event{Time: t0, Port: 0, PortName: "a", Dir: hub.Ingress, Frame: frame})
	s.Observe(&hub.Event{Time: t0.Add(5 * time.Second), Port: 1, PortName: "b", Dir: hub.Egress, Frame: frame})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	const noZone, outside = "with no time zone, read as UTC", "far outside"
	options := map[string]string{"relative-with-an-offset": ",offset=-1h"} // after the log's path
	for _, tc := range []struct {
		name, log string
		want      []string // warnings that must be there
		not       []string // nor these
	}{
		{"no-zone", "1970-01-01 00:16:41.000 GUEST: up\n1970-01-01T00:16:42 GUEST: ok\n",
			[]string{"console a.log: 2 lines carry a date and time with no time zone, read as UTC; a log written in local time is drawn off by its UTC offset"}, []string{outside}},
		{"utc", "1970-01-01T00:16:41Z GUEST: up\n", nil, []string{noZone, outside}},
		{"an-offset", "1970-01-01T01:16:41+01:00 GUEST: up\n", nil, []string{noZone, outside}},
		{"a-little-after-the-last-frame", "1970-01-01T00:16:55Z GUEST: down\n", nil, []string{outside}},
		{"local-time-an-hour-ahead", "1970-01-01 01:16:41.000 GUEST: up\n1970-01-01 01:16:42.000 GUEST: ok\n", []string{
			"console a.log: 2 lines carry a date and time with no time zone",
			"console a.log: 2 lines stamped up to 59m57s after the capture's last frame (the farthest: line 2), far outside its 5s: is the log's clock or time zone off?",
		}, nil},
		{"an-hour-early", "1970-01-01T00:00:00Z GUEST: up\n1969-12-31T23:16:41Z GUEST: boot\n", []string{
			"console a.log: 2 lines stamped up to 59m59s before the capture's start (the farthest: line 2), far outside its 5s: is the log's clock or time zone off?",
		}, []string{noZone}},
		// Relative stamps without t0 count from the capture's start: no
		// clock placed them, so none is asked about.
		{"relative-long-after", "  0.001 GUEST: up\n 90.000 GUEST: still waiting for peer\n", []string{
			"console a.log: 1 line stamped up to 1m25s after the capture's last frame (the farthest: line 2), far outside its 5s: the time axis stretches to cover it",
		}, []string{"clock", "t0", "offset"}},
		{"relative-after-t0", "# t0=1970-01-01T00:16:40Z\n  0.001 GUEST: up\n 90.000 GUEST: still waiting for peer\n", []string{
			"console a.log: 1 line stamped up to 1m25s after the capture's last frame (the farthest: line 3), far outside its 5s: is the log's # t0= line right? The time axis stretches to cover it",
		}, []string{"clock"}},
		{"relative-with-an-offset", "  0.001 GUEST: up\n  1.000 GUEST: ok\n", []string{
			"console a.log: 2 lines stamped up to 59m59.999s before the capture's start (the farthest: line 1), far outside its 5s: is its offset= right?",
		}, []string{"clock"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log := writeTemp(t, "a.log", []byte(tc.log))
			c, err := ParseConsole("a=" + log + options[tc.name])
			if err != nil {
				t.Fatal(err)
			}
			m := build(t, Options{Capture: path, Consoles: []Console{c}})
			for _, want := range tc.want {
				if !hasWarning(m, want) {
					t.Errorf("got warnings %q, want one saying %q", m.Warnings, want)
				}
			}
			for _, not := range tc.not {
				if hasWarning(m, not) {
					t.Errorf("got warnings %q, want none saying %q", m.Warnings, not)
				}
			}
		})
	}
}

// TestCleanText: bidirectional controls, which would reorder what a name or comment shows, are dropped, and max bytes are kept whole.
func TestCleanText(t *testing.T) {
	long := strings.Repeat("x", 64)
	for _, tc := range []struct{ name, in, want string }{
		{"right-to-left-override", "a\u202eb", "ab"},
		{"left-to-right-embedding", "a\u202ab", "ab"},
		{"left-to-right-isolate", "a\u2066b", "ab"},
		{"pop-directional-isolate", "a\u2069b", "ab"},
		{"right-to-left-mark", "a\u200fb", "ab"},
		{"control-and-line-separator", "a\x1b[2Jb\u2028c", "a[2Jbc"},
		{"tab-as-a-space", "a\tb", "a b"},
		{"exactly-max-kept", long, long},
		{"one-past-max-cut", long + "y", long + "…"},
		{"cut-on-a-rune-boundary", strings.Repeat("x", 63) + "é", strings.Repeat("x", 63) + "…"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := cleanText(tc.in, 64); got != tc.want {
				t.Errorf("got cleanText(%q, 64) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}
