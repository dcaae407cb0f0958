package filter

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Value parsers shared by the YAML and flag front ends. Each returns a plain
// message; the caller adds the file, line, column and field path.

// parseProbability reads "5%", "0.05", "1" or "0" into [0,1].
func parseProbability(s string) (float64, error) {
	s = strings.TrimSpace(s)
	scale := 1.0
	if t, ok := strings.CutSuffix(s, "%"); ok {
		s, scale = strings.TrimSpace(t), 100
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("%s is not a probability (write 5%% or 0.05)", quote(s))
	}
	// Errors echo the number as written: v*100 after v/100 is not always
	// the number the user wrote (100.5% would read 100.49999999999999%).
	v /= scale
	switch {
	case v > 1 && scale == 100:
		return 0, fmt.Errorf("%s%% is more than 100%%", shown(s))
	case v >= 2 && v <= 100: // likely a percentage without its sign
		return 0, fmt.Errorf("%s is more than 1 (100%%); for %s percent, write %s%%", shown(s), shown(s), shown(s))
	case v > 1:
		return 0, fmt.Errorf("%s is more than 1 (100%%)", shown(s))
	case v < 0 && scale == 100:
		return 0, fmt.Errorf("%s%% is negative", shown(s))
	case v < 0:
		return 0, fmt.Errorf("%s is negative (a probability is 0 to 1, or 0%% to 100%%)", shown(s))
	}
	return v, nil
}

// maxDuration bounds every time value in a policy (delays, windows,
// schedules): a day is far beyond any test, and keeps sums from overflowing.
const maxDuration = 24 * time.Hour

// parseDuration reads a non-negative Go duration ("20ms", "1.5s"); a bare 0
// is allowed, other bare numbers need a unit.
func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "0" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	switch {
	case err == nil:
	case durationSyntax.MatchString(s) && strings.HasPrefix(s, "-"):
		return 0, fmt.Errorf("%s is negative", shown(s))
	case durationSyntax.MatchString(s): // well written, but past time.Duration's 292 years
		return 0, fmt.Errorf("%s is longer than %s, the most a policy's times may be", shown(s), maxDurationText)
	default:
		if _, nerr := strconv.ParseFloat(s, 64); nerr == nil {
			return 0, fmt.Errorf("%s needs a unit (e.g. %sms)", quote(s), shown(s))
		}
		return 0, fmt.Errorf("%s is not a duration (write 20ms, 1.5s)", quote(s))
	}
	if d < 0 {
		return 0, fmt.Errorf("%s is negative", d)
	}
	if d > maxDuration {
		return 0, fmt.Errorf("%s is longer than %s, the most a policy's times may be", d, maxDurationText)
	}
	return d, nil
}

// maxDurationText is maxDuration as a user writes it.
var maxDurationText = strings.TrimSuffix(maxDuration.String(), "0m0s")

// durationSyntax is what time.ParseDuration reads, whatever the size of
// the numbers: a value it refuses that matches is out of its range.
var durationSyntax = regexp.MustCompile(`^[-+]?(?:(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:ns|us|µs|μs|ms|s|m|h))+$`)

// parseHold reads how long a partition holds once started: a duration,
// and a positive one (a Spec's 0 means none).
func parseHold(s string) (time.Duration, error) {
	d, err := parseDuration(s)
	if err == nil && d == 0 {
		err = errors.New("duration must be positive")
	}
	return d, err
}

// parseDelay reads "20ms", "20ms±5ms" or "20ms+-5ms" into fixed and jitter.
func parseDelay(s string) (fixed, jitter time.Duration, err error) {
	s = strings.TrimSpace(s)
	a, b, ok := strings.Cut(s, "±")
	if !ok {
		a, b, ok = strings.Cut(s, "+-")
	}
	if fixed, err = parseDuration(a); err != nil {
		return 0, 0, err
	}
	if ok {
		if jitter, err = parseDuration(b); err != nil {
			return 0, 0, fmt.Errorf("jitter: %w", err)
		}
	}
	return fixed, jitter, nil
}

// Rates are bits per second with SI prefixes, as tc writes them ("10Mbit").
// "Mbps" is refused: tc reads it as megabytes, most people as megabits.
const (
	minRate = 1_000             // 1 kbit/s
	maxRate = 1_000_000_000_000 // 1 Tbit/s
)

func parseRate(s string) (uint64, error) {
	t := strings.TrimSpace(s)
	low := strings.ToLower(t)
	low = strings.TrimSuffix(low, "/s")
	if strings.HasSuffix(low, "bps") {
		return 0, fmt.Errorf("%s is ambiguous: write bits per second, e.g. 10Mbit", quote(s))
	}
	num, ok := strings.CutSuffix(low, "bit")
	if !ok {
		return 0, fmt.Errorf("%s is not a rate (write 10Mbit, 512kbit, 1Gbit)", quote(s))
	}
	mult := 1.0
	switch {
	case strings.HasSuffix(num, "k"):
		mult, num = 1e3, num[:len(num)-1]
	case strings.HasSuffix(num, "m"):
		mult, num = 1e6, num[:len(num)-1]
	case strings.HasSuffix(num, "g"):
		mult, num = 1e9, num[:len(num)-1]
	case strings.HasSuffix(num, "t"):
		mult, num = 1e12, num[:len(num)-1]
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("%s is not a rate (write 10Mbit, 512kbit, 1Gbit)", quote(s))
	}
	v *= mult
	if v < minRate || v > maxRate {
		return 0, fmt.Errorf("%s is outside [1kbit, 1Tbit]", shown(t))
	}
	return uint64(math.Round(v)), nil
}

// parseSize reads bytes: "1500", "1500B", "64KB" (1000), "64KiB" (1024),
// "1MB", "1MiB".
func parseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"KB", 1000}, {"MB", 1000_000}, {"B", 1}}
	num, mult := t, int64(1)
	for _, u := range units {
		if n, ok := strings.CutSuffix(t, u.suffix); ok {
			num, mult = strings.TrimSpace(n), u.mult
			break
		}
	}
	v, err := strconv.ParseInt(num, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s is not a size (write 1500, 1500B, 64KiB)", quote(s))
	}
	if v < 0 {
		return 0, fmt.Errorf("%s is negative", shown(t))
	}
	if v > math.MaxInt32/mult {
		return 0, fmt.Errorf("%s is too large", shown(t))
	}
	return v * mult, nil
}

// parseIntRange reads "N", "N-M", "N-" (open) or "-M" into [lo, hi]; hi < 0
// means unbounded. parse reads one bound.
func parseIntRange(s string, parse func(string) (int64, error)) (lo, hi int64, err error) {
	s = strings.TrimSpace(s)
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		v, err := parse(s)
		return v, v, err
	}
	lo, hi = 0, -1
	if a = strings.TrimSpace(a); a != "" {
		if lo, err = parse(a); err != nil {
			return 0, 0, err
		}
	}
	if b = strings.TrimSpace(b); b != "" {
		if hi, err = parse(b); err != nil {
			return 0, 0, err
		}
		if hi < lo {
			return 0, 0, fmt.Errorf("range %s ends before it starts", quote(s))
		}
	}
	if a == "" && b == "" {
		return 0, 0, fmt.Errorf("range %s has no bounds", quote(s))
	}
	return lo, hi, nil
}

func parseCount(s string) (int64, error) {
	v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("%s is not a non-negative integer", quote(s))
	}
	return v, nil
}

// parseTimeRange reads "5s-8s" or "5s-" (open) into [from, to); to < 0 means
// never.
func parseTimeRange(s string) (from, to time.Duration, err error) {
	s = strings.TrimSpace(s)
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return 0, 0, fmt.Errorf("%s is not a time window (write 5s-8s or 5s-)", quote(s))
	}
	if from, err = parseDuration(a); err != nil {
		return 0, 0, err
	}
	to = -1
	if strings.TrimSpace(b) != "" {
		if to, err = parseDuration(b); err != nil {
			return 0, 0, err
		}
		if to <= from {
			return 0, 0, fmt.Errorf("time window %s ends before it starts", quote(s))
		}
	}
	return from, to, nil
}

// parsePrefix reads an IPv4 or IPv6 address or CIDR. A CIDR with bits set
// past its length means its network, as an interface's address does
// (10.42.0.1/24, the form a tap port's ip= takes): it always matched so,
// and policies write it.
func parsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%s is not an address or CIDR", quote(s))
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("%s is not an address or CIDR", quote(s))
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// parseMAC reads six colon- or dash-separated hex octets.
func parseMAC(s string) ([6]byte, error) {
	var m [6]byte
	t := strings.ReplaceAll(strings.TrimSpace(s), "-", ":")
	parts := strings.Split(t, ":")
	if len(parts) != 6 {
		return m, fmt.Errorf("%s is not a MAC address (write 52:54:00:12:34:56)", quote(s))
	}
	for i, p := range parts {
		v, err := strconv.ParseUint(p, 16, 8)
		if err != nil || len(p) > 2 {
			return m, fmt.Errorf("%s is not a MAC address (write 52:54:00:12:34:56)", quote(s))
		}
		m[i] = byte(v)
	}
	return m, nil
}

var etherTypeNames = map[string]uint16{
	"ipv4": 0x0800, "arp": 0x0806, "ipv6": 0x86dd, "lldp": 0x88cc,
}

// parseEtherType reads the EtherType a frame carries after its VLAN tags
// (what packet.Parse reports). The tag types themselves are refused: the
// parser steps over them, so they would never match; vlan and qinq are
// criteria of their own.
func parseEtherType(s string) (uint16, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	if v, ok := etherTypeNames[t]; ok {
		return v, nil
	}
	v, err := strconv.ParseUint(t, 0, 16)
	if err == nil && (v == 0x8100 || v == 0x88a8) {
		t = "vlan"
	}
	if t == "vlan" || t == "qinq" {
		return 0, fmt.Errorf("%s is a VLAN tag: ethertype is the type after the tags; write vlan: true (an 802.1Q or 802.1ad tag) or qinq: true (two tags)", quote(s))
	}
	if err != nil {
		return 0, fmt.Errorf("%s is not an EtherType (ipv4, arp, ipv6, lldp, or a number such as 0x88cc)", quote(s))
	}
	return uint16(v), nil
}

var protocolNames = map[string]uint8{"icmp": 1, "igmp": 2, "tcp": 6, "udp": 17, "icmpv6": 58}

func parseProtocol(s string) (uint8, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	if v, ok := protocolNames[t]; ok {
		return v, nil
	}
	v, err := strconv.ParseUint(t, 0, 8)
	if err != nil {
		return 0, fmt.Errorf("%s is not an IP protocol (tcp, udp, icmp, or 1-255)", quote(s))
	}
	if v == 0 {
		return 0, errProtocolZero
	}
	return uint8(v), nil
}

// errProtocolZero refuses protocol 0, which no frame's upper layer is.
var errProtocolZero = errors.New("0 is IPv6's hop-by-hop header, which protocol looks past to the upper-layer protocol, and means nothing in IPv4: it would match only frames whose upper layer could not be found")

func parsePort(s string) (int64, error) {
	v, err := strconv.ParseUint(strings.TrimSpace(s), 10, 16)
	if err != nil {
		return 0, fmt.Errorf("%s is not a port number (0-65535)", quote(s))
	}
	return int64(v), nil
}

// TCP flag bits, as in the TCP header's 13th byte.
var tcpFlagBits = map[string]uint8{
	"fin": 0x01, "syn": 0x02, "rst": 0x04, "psh": 0x08, "ack": 0x10, "urg": 0x20, "ece": 0x40, "cwr": 0x80,
}

// parseTCPFlags reads "syn !ack" (also comma- or plus-separated): listed
// flags must be set, "!"-prefixed flags clear, the rest are ignored.
func parseTCPFlags(s string) (mask, value uint8, err error) {
	fields := strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return r == ' ' || r == ',' || r == '+' })
	if len(fields) == 0 {
		return 0, 0, errors.New("no TCP flags given (write e.g. \"syn !ack\")")
	}
	for _, f := range fields {
		neg := strings.HasPrefix(f, "!")
		bit, ok := tcpFlagBits[strings.TrimPrefix(f, "!")]
		if !ok {
			return 0, 0, fmt.Errorf("%s is not a TCP flag (fin syn rst psh ack urg ece cwr, ! to negate)", quote(f))
		}
		if mask&bit != 0 {
			return 0, 0, fmt.Errorf("TCP flag %s given twice", quote(strings.TrimPrefix(f, "!")))
		}
		mask |= bit
		if !neg {
			value |= bit
		}
	}
	return mask, value, nil
}

// portName checks the spelling of a port or group name: what QEMU ids and
// hub port names use, with nothing that collides with the link syntax.
func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '.':
		case r == '-' || r == ':':
		default:
			return false
		}
	}
	return !strings.Contains(s, "->") && !strings.HasPrefix(s, "-") && !dotName(s)
}

// dotName reports whether s is . or .., which no name may be: a URL path
// cannot carry them (the control API's /v1/rules/.. is /v1/).
func dotName(s string) bool { return s == "." || s == ".." }

func formatFloat(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// formatSize writes n bytes as parseSize reads them, in the largest binary
// unit that divides it: 64KiB, 64MiB, 1514B.
func formatSize(n int64) string {
	switch {
	case n != 0 && n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + "MiB"
	case n != 0 && n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + "KiB"
	}
	return strconv.FormatInt(n, 10) + "B"
}

func formatUint(v uint64) string { return strconv.FormatUint(v, 10) }

// formatPct renders a probability as a percentage: 0.05 -> "5%".
func formatPct(p float64) string { return strconv.FormatFloat(p*100, 'g', 6, 64) + "%" }

// validRuleName accepts printable ASCII without spaces or quotes, so a rule
// name reads plainly in notes, counters and metric labels, other than .
// and .. (dotName).
func validRuleName(s string) bool {
	if s == "" || len(s) > 64 || dotName(s) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c > '~' || c == '"' || c == '\'' || c == '\\' {
			return false
		}
	}
	return true
}
