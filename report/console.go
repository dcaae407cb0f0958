package report

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Console is one VM's console log, to be drawn as markers on a lifeline.
//
// A line is a marker when it starts with a time stamp:
//
//	  2.391 GUEST: nexus announce ok        seconds since the log's zero, with a fraction
//	[   2.391] GUEST: ...                   the same, in brackets (dmesg's form; [  12] too)
//	2026-01-02T15:04:05.123Z GUEST: ...     a date and time (RFC 3339; no zone means UTC,
//	                                        and a warning says so: a log in local time
//	                                        would be drawn off by its UTC offset)
//
// A whole number without brackets is not a stamp: "64 bytes from ...",
// "200 OK" and "3 packets transmitted" are lines of text.
//
// Relative stamps count from the log's zero: the time its "# t0=<RFC 3339>"
// line gives (the e2e harness writes one), else the capture's start (a lab
// run starts its hub and its clock together), moved by Offset when set.
// Lines without a stamp, and "#" lines, are not markers.
type Console struct {
	Port string // the lifeline: the hub port the VM is on
	Path string // the log file
	// Offset, when set, puts the log's zero this long after the capture's
	// start, whatever the log's own t0 line says.
	Offset *time.Duration
	// Match, when set, keeps only the lines it matches (RE2: linear time
	// whatever the line).
	Match *regexp.Regexp
}

// Marker is one console line on its VM's lifeline, or a change made
// through the control API on the hub's line (Port -1, Class "control",
// Line the capture's record that notes it, Log "capture").
type Marker struct {
	Port  int           // index into Model.Ports; -1 for the hub
	Time  time.Duration // since Model.Start
	Text  string        // the line after its stamp, cleaned and cut
	Class string        // "fail", "ok" or "" (how the page colours it)
	Line  int           // line number in the log, from 1
	Log   string        // the log's file name (no directory)
}

// consoleLog is a parsed log before it is placed on the capture's clock.
type consoleLog struct {
	t0      time.Time // from "# t0=", zero if none
	lines   []stampedLine
	skipped int // lines without a stamp (or over the limits)
	more    int // stamped lines beyond Limits.MaxMarkers
	// plain counts the lines of text without a stamp (not "#" lines, not
	// blank ones), stamped those with one; dmesg counts the stamped ones
	// in the kernel's bracketed form ("[    3.889950] ..."), which count
	// from the guest's boot, not from the hub's start.
	plain, stamped, dmesg int
	// zoneless counts the lines Match keeps that are stamped with a date
	// and time but no zone, read as UTC: those past MaxMarkers, and those
	// later left out as more than a day off, too.
	zoneless int
}

type stampedLine struct {
	rel   time.Duration // relative stamp
	abs   time.Time     // absolute stamp, when isAbs (rel unused)
	isAbs bool          // abs may be the zero Time: 0001-01-01T00:00:00Z
	// zoneless: an absolute stamp without Z or an offset, read as UTC
	zoneless bool
	// bracketed: a relative stamp in dmesg's form, "[    2.391]"
	bracketed bool
	text      string
	line      int
}

var (
	// relStamp: seconds with a fraction ("2.391"), or in brackets
	// ("[    2.391]", "[  12]"). A bare whole number is no stamp: a console
	// is full of lines that start with one ("64 bytes from ...", "200 OK").
	relStamp = regexp.MustCompile(`^\s*(?:([0-9]{1,9}\.[0-9]{1,9})|\[\s*([0-9]{1,9}(?:\.[0-9]{1,9})?)\])\s(.*)$`)
	absStamp = regexp.MustCompile(`^\s*\[?([0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(?:[.,][0-9]{1,9})?(?:Z|[+-][0-9]{2}:?[0-9]{2})?)\]?\s(.*)$`)
	failWord = regexp.MustCompile(`(?i)\b(fail(ed|ure)?|error|panic|fatal|timed? ?out)\b`)
	okWord   = regexp.MustCompile(`(?i)\b(ok|pass(ed)?|success)\b`)
)

// absLayouts are the date-time forms absStamp accepts, after ',' became '.';
// the last has no zone.
var absLayouts = []string{
	"2006-01-02T15:04:05.999999999Z07:00",
	"2006-01-02T15:04:05.999999999Z0700",
	"2006-01-02T15:04:05.999999999",
}

// readConsole parses one log, within lim.
func readConsole(c Console, lim Limits) (*consoleLog, error) {
	f, err := os.Open(c.Path)
	if err != nil {
		return nil, fmt.Errorf("%w %s: %w", ErrConsole, c.Path, err)
	}
	defer f.Close()
	log, err := parseConsole(f, c.Match, lim)
	if err != nil {
		return nil, fmt.Errorf("%w %s: %w", ErrConsole, c.Path, err)
	}
	return log, nil
}

func parseConsole(r io.Reader, match *regexp.Regexp, lim Limits) (*consoleLog, error) {
	log := &consoleLog{}
	cr := &countingReader{r: io.LimitReader(r, lim.MaxConsoleBytes+1)}
	br := bufio.NewReaderSize(cr, 64<<10)
	for n := 1; ; n++ {
		raw, long, err := readLine(br, lim.MaxLineBytes)
		if cr.n > lim.MaxConsoleBytes {
			return nil, fmt.Errorf("longer than %d bytes (Limits.MaxConsoleBytes)", lim.MaxConsoleBytes)
		}
		if err == io.EOF && len(raw) == 0 && long == 0 {
			return log, nil
		}
		if err != nil && err != io.EOF {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		if !utf8.Valid(raw) && !isPrintableLatin(raw) {
			log.skipped++
			continue
		}
		line := strings.TrimRight(strings.ToValidUTF8(string(raw), "\uFFFD"), "\r")
		if t0, ok := strings.CutPrefix(strings.TrimSpace(line), "# t0="); ok {
			t, perr := time.Parse(time.RFC3339Nano, strings.TrimSpace(t0))
			if perr != nil {
				return nil, fmt.Errorf("line %d: t0 %q: want an RFC 3339 time", n, t0)
			}
			log.t0 = t
			continue
		}
		sl, ok := parseStamp(line)
		if !ok || strings.HasPrefix(line, "#") {
			log.skipped++
			if !strings.HasPrefix(line, "#") && strings.TrimSpace(line) != "" {
				log.plain++
			}
			continue
		}
		log.stamped++
		sl.line = n
		sl.text = cleanText(sl.text, maxMarkerText)
		if sl.text == "" || match != nil && !match.MatchString(sl.text) {
			continue
		}
		if sl.bracketed { // only a line that would be drawn needs offset=
			log.dmesg++
		}
		if sl.zoneless {
			log.zoneless++
		}
		if len(log.lines) >= lim.MaxMarkers {
			log.more++
			continue
		}
		log.lines = append(log.lines, sl)
		if err == io.EOF {
			return log, nil
		}
	}
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// readLine returns the next line without its newline, keeping at most max
// bytes of it; long counts the bytes dropped.
func readLine(br *bufio.Reader, max int) (line []byte, long int64, err error) {
	for {
		frag, err := br.ReadSlice('\n')
		keep := min(len(frag), max-len(line))
		line = append(line, frag[:keep]...)
		long += int64(len(frag) - keep)
		if err == bufio.ErrBufferFull {
			continue
		}
		if n := len(line); n > 0 && line[n-1] == '\n' {
			line = line[:n-1]
		} else if long > 0 {
			long-- // the newline was among the dropped bytes
		}
		return line, long, err
	}
}

// isPrintableLatin accepts a line in a legacy 8-bit encoding that is mostly
// text (a serial console's noise is not).
func isPrintableLatin(b []byte) bool {
	bad := 0
	for _, c := range b {
		if c < 0x20 && c != '\t' && c != '\r' && c != 0x1b {
			bad++
		}
	}
	return bad*8 < len(b)
}

func parseStamp(line string) (stampedLine, bool) {
	if m := absStamp.FindStringSubmatch(line); m != nil {
		s := strings.Replace(strings.Replace(m[1], " ", "T", 1), ",", ".", 1)
		for i, layout := range absLayouts {
			if t, err := time.Parse(layout, s); err == nil {
				return stampedLine{abs: t.UTC(), isAbs: true, zoneless: i == len(absLayouts)-1, text: m[2]}, true
			}
		}
		return stampedLine{}, false
	}
	if m := relStamp.FindStringSubmatch(line); m != nil {
		whole, frac, _ := strings.Cut(m[1]+m[2], ".")
		w, _ := strconv.ParseInt(whole, 10, 64) // at most 9 digits: no overflow
		ns := int64(0)
		if frac != "" {
			ns, _ = strconv.ParseInt((frac + "000000000")[:9], 10, 64)
		}
		return stampedLine{rel: time.Duration(w)*time.Second + time.Duration(ns), text: m[3], bracketed: m[2] != ""}, true
	}
	return stampedLine{}, false
}

const maxMarkerText = 400

// cleanText makes untrusted text safe to show as one line: control
// characters (escape sequences, NULs) removed, tabs as spaces, cut to max
// bytes on a rune boundary with "…".
func cleanText(s string, max int) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\t':
			b.WriteByte(' ')
		case r == utf8.RuneError, unicode.IsControl(r), r == '\u2028', r == '\u2029', unicode.Is(unicode.Bidi_Control, r):
		default:
			if b.Len()+utf8.RuneLen(r) > max {
				b.WriteString("…")
				return strings.TrimSpace(b.String())
			}
			b.WriteRune(r)
		}
	}
	return strings.TrimSpace(b.String())
}

// classify says how a marker reads: a failure, a success, or neither.
func classify(text string) string {
	switch {
	case failWord.MatchString(text):
		return "fail"
	case okWord.MatchString(text):
		return "ok"
	}
	return ""
}

// askPlacement is the question a warning about line n's place asks of
// what placed it: the log's clock, its t0 line or the offset. A relative
// stamp with neither t0 nor offset counts from the capture's start, and
// no question applies: "".
func (log *consoleLog) askPlacement(n int, offset *time.Duration) string {
	i := slices.IndexFunc(log.lines, func(l stampedLine) bool { return l.line == n })
	switch {
	case i >= 0 && log.lines[i].isAbs:
		return "is the log's clock or time zone off?"
	case offset != nil:
		return "is its offset= right?"
	case !log.t0.IsZero():
		return "is the log's # t0= line right?"
	}
	return ""
}

// place puts a parsed log's lines on the capture's clock.
func (log *consoleLog) place(port int, name string, start time.Time, offset *time.Duration) []Marker {
	zero := start
	if !log.t0.IsZero() {
		zero = log.t0
	}
	if offset != nil {
		zero = start.Add(*offset)
	}
	out := make([]Marker, 0, len(log.lines))
	for _, l := range log.lines {
		at := zero.Add(l.rel)
		if l.isAbs {
			at = l.abs
		}
		out = append(out, Marker{Port: port, Time: at.Sub(start), Text: l.text, Class: classify(l.text), Line: l.line, Log: name})
	}
	return out
}

// ParseConsole reads a console as l2hub report --console gives it:
// NAME=LOG[,offset=DUR][,match=REGEX]. match comes last and takes the rest,
// commas included. NAME ends at the first single '='; a port name that
// holds '=' doubles it ("k==v=a.log" is port "k=v"), so a log's name may
// hold any '=' but cannot start with one (write "./=a.log").
func ParseConsole(spec string) (Console, error) {
	var c Console
	var name strings.Builder
	rest, ok := "", false
	for i := 0; i < len(spec); i++ {
		if spec[i] != '=' {
			name.WriteByte(spec[i])
			continue
		}
		if i+1 < len(spec) && spec[i+1] == '=' {
			name.WriteByte('=')
			i++
			continue
		}
		rest, ok = spec[i+1:], true
		break
	}
	if !ok || name.Len() == 0 {
		return c, fmt.Errorf("want NAME=LOG (a '=' in NAME doubled: k==v=a.log)")
	}
	c.Port = name.String()
	var opts []string
	if i := strings.Index(rest, ",match="); i >= 0 {
		re, err := regexp.Compile(rest[i+len(",match="):])
		if err != nil {
			return c, fmt.Errorf("match: %w", err)
		}
		c.Match, rest = re, rest[:i]
	}
	parts := strings.Split(rest, ",")
	c.Path, opts = parts[0], parts[1:]
	if c.Path == "" {
		return c, fmt.Errorf("no log file after %s=", c.Port)
	}
	for _, o := range opts {
		k, v, _ := strings.Cut(o, "=")
		switch k {
		case "offset":
			d, err := time.ParseDuration(v)
			if err != nil {
				return c, fmt.Errorf("offset: %w", err)
			}
			c.Offset = &d
		default:
			return c, fmt.Errorf("unknown option %q (known: offset, match)", k)
		}
	}
	return c, nil
}
