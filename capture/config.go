package capture

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"l2hub/hub"
	"l2hub/internal/wallclock"
)

// Format is a capture file format.
type Format uint8

const (
	FormatPcapng   Format = iota // pcapng, nanosecond timestamps (the default)
	FormatPcap                   // classic pcap, microsecond timestamps, as QEMU's filter-dump writes
	FormatPcapNano               // classic pcap, nanosecond timestamps (magic 0xa1b23c4d)
)

func (f Format) String() string {
	switch f {
	case FormatPcapng:
		return "pcapng"
	case FormatPcap:
		return "pcap"
	case FormatPcapNano:
		return "pcap-ns"
	}
	return fmt.Sprintf("format(%d)", uint8(f))
}

// ParseFormat parses "pcapng", "pcap" or "pcap-ns".
func ParseFormat(s string) (Format, error) {
	for _, f := range []Format{FormatPcapng, FormatPcap, FormatPcapNano} {
		if s == f.String() {
			return f, nil
		}
	}
	return 0, fmt.Errorf("capture format %q: want pcapng, pcap or pcap-ns", s)
}

// FormatForPath picks classic pcap for a path ending in ".pcap" and pcapng
// otherwise.
func FormatForPath(path string) Format {
	if strings.EqualFold(filepath.Ext(path), ".pcap") {
		return FormatPcap
	}
	return FormatPcapng
}

// Points selects the capture points a Sink records.
type Points uint8

const (
	PointsBoth    Points = iota // ingress and egress (the default)
	PointsIngress               // what the peers sent, before any policy
	PointsEgress                // what each peer was given
)

func (p Points) String() string {
	switch p {
	case PointsBoth:
		return "both"
	case PointsIngress:
		return "ingress"
	case PointsEgress:
		return "egress"
	}
	return fmt.Sprintf("points(%d)", uint8(p))
}

// ParsePoints parses "both", "ingress" or "egress".
func ParsePoints(s string) (Points, error) {
	for _, p := range []Points{PointsBoth, PointsIngress, PointsEgress} {
		if s == p.String() {
			return p, nil
		}
	}
	return 0, fmt.Errorf("capture points %q: want both, ingress or egress", s)
}

func (p Points) has(d hub.Direction) bool {
	switch p {
	case PointsIngress:
		return d == hub.Ingress
	case PointsEgress:
		return d == hub.Egress
	}
	return true
}

// Overflow says what Observe does when the writer has fallen QueueBytes
// behind.
type Overflow uint8

const (
	// OverflowDrop drops the event and counts it (Stats.QueueFull), and the
	// next record kept says how many are missing before it (GapPrefix).
	// The hub loop never waits for the disk; this is the default for live
	// hubs.
	OverflowDrop Overflow = iota
	// OverflowBlock makes Observe wait until the writer has caught up, so
	// nothing is lost: for offline replay, where determinism matters more
	// than the loop's latency.
	OverflowBlock
)

func (o Overflow) String() string {
	if o == OverflowBlock {
		return "block"
	}
	return "drop"
}

// Limits and defaults.
const (
	// DefaultSnaplen keeps every frame whole: it is more than the largest
	// frame the hub takes by default (hub.DefaultMaxFrame), as tcpdump's
	// and Wireshark's own default is.
	DefaultSnaplen = MaxSnaplen
	// MaxSnaplen is Wireshark's own limit for Ethernet.
	MaxSnaplen           = 262144
	DefaultQueueBytes    = 8 << 20
	DefaultBatchBytes    = 256 << 10
	DefaultFlushInterval = 50 * time.Millisecond
	// DefaultRetryInterval is how often a file that failed (a full disk) is
	// tried again.
	DefaultRetryInterval = time.Second
	// DefaultCloseTimeout is how long Close waits for a file or stream
	// that takes nothing: ample for a disk or a Wireshark that reads, and
	// short enough that a reader which stopped reading does not hold up
	// the hub's exit.
	DefaultCloseTimeout = 5 * time.Second
	// MaxComment bounds a packet comment; longer ones are cut and end in "...".
	MaxComment = 16 << 10
)

// Config describes a Sink.
type Config struct {
	// Path names the capture file. With PerPort it is the base of each
	// port's name; with rotation, the first file of each sequence (see
	// PortPath and RotatedPath).
	Path   string
	Format Format
	Points Points
	// Snaplen truncates recorded frames (0 means DefaultSnaplen). The
	// original length is kept in each record.
	Snaplen int
	// PerPort writes one file per port instead of one for the segment, as
	// QEMU's filter-dump does per netdev.
	PerPort bool
	// RotateBytes starts a new file before one would exceed this size;
	// RotatePackets after this many packets. Zero disables each.
	RotateBytes   int64
	RotatePackets int64
	// Overflow chooses between dropping and waiting when the writer is
	// QueueBytes behind (0 means DefaultQueueBytes).
	Overflow   Overflow
	QueueBytes int
	// BatchBytes bounds the blocks written at once (0 means
	// DefaultBatchBytes), in write(2)s of at most 64 KiB that each end
	// where a block ends; a single block larger than either is written on
	// its own.
	BatchBytes int
	// FlushInterval bounds how long a frame waits in memory when traffic is
	// too light to fill a batch (0 means DefaultFlushInterval). It is the
	// most a kill -9 can lose, besides frames still in the queue.
	FlushInterval time.Duration
	// RetryInterval is how often a sequence whose file failed (a full
	// disk, a quota) tries to go on in its next numbered file (0 means
	// DefaultRetryInterval; negative never retries). Frames in between are
	// dropped and counted as write errors.
	RetryInterval time.Duration
	// CloseTimeout bounds how long Close waits for a file or stream that
	// takes nothing, such as a pipe whose reader stopped reading (0 means
	// DefaultCloseTimeout): Close waits for as long as the writer makes
	// progress, and gives up once a whole CloseTimeout passes in which it
	// wrote nothing.
	CloseTimeout time.Duration
	// Clock times the flushes, retries and CloseTimeout (nil means the
	// wall clock). It
	// decides when bytes reach the disk, never which bytes: a test gives a
	// virtual one to step through a full disk's retries. Not the clock of a
	// virtual-time run that drains its timers (replay): the flush timer
	// re-arms for as long as the capture is open.
	Clock hub.Clock
	// Meta goes into every pcapng section header's comment.
	Meta Meta
	// Hardware and OS fill the pcapng shb_hardware and shb_os options. They
	// are empty unless the caller asks: a capture does not record the host.
	Hardware, OS string
	// Logger receives write failures (once per file) and a summary of what
	// was dropped. Nil discards.
	Logger *slog.Logger
	// Create opens a file for writing; nil means os.Create. Tests use it to
	// write into memory or into a failing writer.
	Create func(path string) (io.WriteCloser, error)
	// Remove deletes a file that a retry created but could not write a
	// header into; nil means os.Remove.
	Remove func(path string) error
	// createNew creates a file that must not exist yet (O_EXCL: not
	// through a symlink someone put there): the per-port probe's. Create
	// when Create was given.
	createNew func(path string) (io.WriteCloser, error)
	// Cancel, once closed, ends Open's wait for a named pipe's reader
	// (serve closes it on its first signal): Open then fails. Nil waits
	// for as long as it takes.
	Cancel <-chan struct{}

	stream bool // Path is standard output, a named pipe or a device (set by normalize)
}

// Stdout as a Config.Path writes the capture to standard output, as a
// stream that a live Wireshark reads (wireshark -k -i -). A named pipe
// (mkfifo) as the path is a stream too: opening it waits for a reader;
// and so is a character device (/dev/null, a terminal), which files
// numbered beside it would not be. A stream is one file: not per port, not rotated; a SetMeta starts a new
// pcapng section in it (a classic pcap stream just goes on), and a reader that goes away ends the capture
// (logged and counted, but no error of Close's: closing a live viewer is
// how one stops watching), with no retry.
const Stdout = "-"

// WritesStdout reports whether writing path writes where standard output
// goes: Stdout, or another name of the file or pipe it is (/dev/stdout,
// /proc/self/fd/1, the file the shell sent it to). A terminal is not:
// what is written there is not kept (and a character device is a stream
// anyway).
func WritesStdout(path string) bool {
	if path == Stdout {
		return true
	}
	if path == "" {
		return false
	}
	out, err := os.Stdout.Stat()
	if err != nil || out.Mode()&fs.ModeCharDevice != 0 {
		return false
	}
	fi, err := os.Stat(path)
	return err == nil && os.SameFile(fi, out)
}

// isStream reports whether path names a stream rather than a file:
// standard output, a named pipe, or a character device.
func isStream(path string) bool {
	if path == Stdout {
		return true
	}
	fi, err := os.Stat(path)
	return err == nil && fi.Mode()&(fs.ModeNamedPipe|fs.ModeCharDevice) != 0
}

func (c Config) normalize() (Config, error) {
	if c.Path == "" {
		return c, fmt.Errorf("capture: no path")
	}
	if c.stream = isStream(c.Path); c.stream {
		if c.PerPort || c.RotateBytes != 0 || c.RotatePackets != 0 {
			return c, fmt.Errorf("capture to %s: a stream, so neither per port nor rotated", streamName(c.Path))
		}
		if c.RetryInterval == 0 {
			c.RetryInterval = -1 // a reader that went away does not come back
		}
		if c.Create == nil {
			cancel, log := c.Cancel, c.Logger
			c.Create = func(path string) (io.WriteCloser, error) { return openStream(path, cancel, log) }
		}
	}
	if c.Format > FormatPcapNano {
		return c, fmt.Errorf("capture %s: unknown format %d", c.Path, c.Format)
	}
	if c.Points > PointsEgress {
		return c, fmt.Errorf("capture %s: unknown capture points %d", c.Path, c.Points)
	}
	if c.Overflow > OverflowBlock {
		return c, fmt.Errorf("capture %s: unknown overflow mode %d", c.Path, c.Overflow)
	}
	switch {
	case c.Snaplen == 0:
		c.Snaplen = DefaultSnaplen
	case c.Snaplen < 0 || c.Snaplen > MaxSnaplen:
		return c, fmt.Errorf("capture %s: snaplen %d is outside [1,%d]", c.Path, c.Snaplen, MaxSnaplen)
	}
	if c.RotateBytes < 0 || c.RotatePackets < 0 {
		return c, fmt.Errorf("capture %s: negative rotation limit", c.Path)
	}
	if c.FlushInterval < 0 {
		return c, fmt.Errorf("capture %s: negative flush interval", c.Path)
	}
	if c.FlushInterval == 0 {
		c.FlushInterval = DefaultFlushInterval
	}
	if c.RetryInterval == 0 {
		c.RetryInterval = DefaultRetryInterval
	}
	switch {
	case c.CloseTimeout < 0:
		return c, fmt.Errorf("capture %s: negative close timeout", c.Path)
	case c.CloseTimeout == 0:
		c.CloseTimeout = DefaultCloseTimeout
	}
	if c.Clock == nil {
		c.Clock = wallclock.Clock{}
	}
	if c.QueueBytes < 0 || c.BatchBytes < 0 {
		return c, fmt.Errorf("capture %s: negative queue or batch size", c.Path)
	}
	if c.QueueBytes == 0 {
		c.QueueBytes = DefaultQueueBytes
	}
	if c.BatchBytes == 0 {
		c.BatchBytes = DefaultBatchBytes
	}
	if err := c.Meta.validate(); err != nil {
		return c, fmt.Errorf("capture %s: %w", c.Path, err)
	}
	for _, s := range []string{c.Hardware, c.OS} {
		if len(s) > 1024 {
			return c, fmt.Errorf("capture %s: hardware or OS text longer than 1024 bytes", c.Path)
		}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Create == nil {
		c.Create = func(path string) (io.WriteCloser, error) { return os.Create(path) }
		c.createNew = func(path string) (io.WriteCloser, error) {
			return os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		}
	}
	if c.createNew == nil {
		c.createNew = c.Create
	}
	if c.Remove == nil {
		c.Remove = os.Remove
	}
	return c, nil
}

// PortPath returns the file a per-port Sink writes for port: the port's
// name, with anything but letters, digits, '.', '_' and '-' replaced by '_',
// inserted before path's extension: PortPath("run.pcap", "vm0") is
// "run-vm0.pcap".
func PortPath(path, port string) string {
	ext := filepath.Ext(path)
	return strings.TrimSuffix(path, ext) + "-" + sanitize(port) + ext
}

// RotatedPath returns the name of the n-th file of a rotated sequence: n = 0
// is path itself, then "run-0001.pcapng", "run-0002.pcapng" and so on (more
// digits past 9999). Sorted by name, part n >= 1 lists before part 0.
func RotatedPath(path string, n int) string {
	if n == 0 || path == Stdout {
		// (A named pipe never rotates either: its sections share the pipe.)
		return path
	}
	ext := filepath.Ext(path)
	return fmt.Sprintf("%s-%04d%s", strings.TrimSuffix(path, ext), n, ext)
}

// RotatedPart returns n when path is named as part n >= 1 of the rotated
// sequence that starts with base (RotatedPath), in any directory.
func RotatedPart(base, path string) (int, bool) {
	if base == "" || base == Stdout {
		return 0, false
	}
	ext := filepath.Ext(base)
	stem := strings.TrimSuffix(filepath.Base(base), ext) + "-"
	name := filepath.Base(path)
	if !strings.HasPrefix(name, stem) || !strings.HasSuffix(name, ext) {
		return 0, false
	}
	digits := strings.TrimSuffix(strings.TrimPrefix(name, stem), ext)
	n, err := strconv.Atoi(digits)
	if err != nil || n < 1 || len(digits) < 4 || RotatedPath(filepath.Base(base), n) != name {
		return 0, false
	}
	return n, true
}

func sanitize(name string) string {
	if name == "" {
		return "_"
	}
	b := []byte(name)
	for i, c := range b {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == '-':
		default:
			b[i] = '_'
		}
	}
	return string(b)
}

func streamName(path string) string {
	if path == Stdout {
		return "standard output (-)"
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode()&fs.ModeCharDevice != 0 {
		return "the device " + path
	}
	return "the named pipe " + path
}

// openStream opens standard output (which closing leaves open) or a named
// pipe for writing; the latter waits until a reader opens it, as writing
// into a pipe does. Where the system allows (Linux), either is a file the
// runtime's poller waits on, so that Close can give a write that a reader
// never takes a deadline: os.OpenFile makes a named pipe one, and
// standard output is opened again when it is a pipe (pollablePipe).
func openStream(path string, cancel <-chan struct{}, log *slog.Logger) (io.WriteCloser, error) {
	if path == Stdout {
		return stdoutStream(os.Stdout), nil
	}
	return openFIFO(path, cancel, log)
}

// openFIFO opens a named pipe for writing: at once when it has a reader,
// else after saying that it waits for one, until one comes or cancel is
// closed.
func openFIFO(path string, cancel <-chan struct{}, log *slog.Logger) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0)
	if !errors.Is(err, syscall.ENXIO) { // ENXIO: no reader yet
		return f, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log.Info("capture: waiting for a reader on the named pipe (start Wireshark on it; Ctrl-C stops)", "pipe", path)
	type result struct {
		f   *os.File
		err error
	}
	opened := make(chan result, 1)
	go func() {
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		opened <- result{f, err}
	}()
	select {
	case r := <-opened:
		return r.f, r.err
	case <-cancel:
	}
	// Be the reader the pending open waits for, so that it returns.
	if rd, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0); err == nil {
		if r := <-opened; r.f != nil {
			r.f.Close()
		}
		rd.Close()
	}
	return nil, fmt.Errorf("stopped while waiting for a reader on the named pipe %s", path)
}

// stdoutStream returns f, standard output, as a capture stream: the same
// pipe opened again as a file of the capture's own when it can be (which
// closing closes, leaving f open), else f (which closing leaves open).
func stdoutStream(f *os.File) io.WriteCloser {
	if p := pollablePipe(f); p != nil {
		return p
	}
	return unclosed{f}
}

// unclosed is a file that the capture writes and does not close.
type unclosed struct{ f *os.File }

func (u unclosed) Write(p []byte) (int, error) { return u.f.Write(p) }
func (unclosed) Close() error                  { return nil }
