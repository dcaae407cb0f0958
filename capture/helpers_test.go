package capture

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"l2hub/hub"
)

// t0 is the virtual start of every scenario in these tests.
var t0 = hub.DefaultEpoch

// hangGuard bounds a wait for something that must happen, so that a bug
// fails with a message rather than at go test's timeout. It decides no
// pass: a loaded machine may take long.
const hangGuard = 2 * time.Minute

// memFile is an in-memory file that remembers each Write call.
type memFile struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	writes [][]byte
	closed bool
}

func (f *memFile) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return 0, errors.New("write after close")
	}
	f.writes = append(f.writes, bytes.Clone(p))
	return f.buf.Write(p)
}

func (f *memFile) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	return nil
}

func (f *memFile) Bytes() []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return bytes.Clone(f.buf.Bytes())
}

// memFS hands out memFiles by path.
type memFS struct {
	mu    sync.Mutex
	files map[string]*memFile
	order []string
}

func newMemFS() *memFS { return &memFS{files: make(map[string]*memFile)} }

func (fs *memFS) Create(path string) (io.WriteCloser, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	f := &memFile{}
	fs.files[path] = f
	fs.order = append(fs.order, path)
	return f, nil
}

func (fs *memFS) file(t testing.TB, path string) []byte {
	t.Helper()
	fs.mu.Lock()
	f, ok := fs.files[path]
	fs.mu.Unlock()
	if !ok {
		t.Fatalf("no file %s; have %v", path, fs.order)
	}
	return f.Bytes()
}

// testMeta is the run description every test capture carries.
var testMeta = Meta{
	Version:    "v0.0.0-test",
	Seed:       42,
	ConfigHash: "sha256:c0ffee",
	PolicyHash: "sha256:beef",
	Start:      t0,
}

// memConfig returns a Config writing into fs at a fixed path.
func memConfig(fs *memFS) Config {
	return Config{Path: "/mem/run.pcapng", Meta: testMeta, Create: fs.Create, Overflow: OverflowBlock}
}

func mustOpen(t testing.TB, cfg Config) *Sink {
	t.Helper()
	s, err := Open(cfg)
	if err != nil {
		t.Fatalf("Open(%+v) = %v", cfg, err)
	}
	return s
}

func mustClose(t testing.TB, s *Sink) {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
}

// frame returns an Ethernet frame of n bytes (n >= 14) whose bytes after the
// header encode seq, so that frames are told apart.
func frame(n int, src, dst byte, seq int) []byte {
	b := make([]byte, n)
	copy(b[0:6], []byte{0x52, 0x54, 0, 0, 0, dst})
	copy(b[6:12], []byte{0x52, 0x54, 0, 0, 0, src})
	binary.BigEndian.PutUint16(b[12:], 0x88b5) // local experimental ethertype
	for i := 14; i < n; i++ {
		b[i] = byte(seq + i)
	}
	return b
}

type wantPacket struct {
	iface   int
	ifName  string
	dir     Dir
	at      time.Duration
	data    []byte
	origLen int
	comment string
}

// captureScenario captures scenario() in memory with memConfig, changed
// by edit, and returns the file.
func captureScenario(t testing.TB, edit func(*Config)) []byte {
	t.Helper()
	fs := newMemFS()
	cfg := memConfig(fs)
	edit(&cfg)
	s := mustOpen(t, cfg)
	run(s, scenario())
	mustClose(t, s)
	return fs.file(t, cfg.Path)
}

func readAll(t testing.TB, b []byte) ([]Packet, *Reader) {
	t.Helper()
	r, err := NewReader(bytes.NewReader(b), ReadOptions{})
	if err != nil {
		t.Fatalf("NewReader() = %v", err)
	}
	var ps []Packet
	for p, err := range r.All() {
		if err != nil {
			t.Fatalf("after %d packets: %v", len(ps), err)
		}
		ps = append(ps, p.Clone())
	}
	return ps, r
}

func comparePackets(t *testing.T, got []Packet, want []wantPacket) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d packets, want %d", len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.Number != i+1 {
			t.Errorf("packet %d: got Number %d", i+1, g.Number)
		}
		if g.Interface != w.iface || g.IfName != w.ifName {
			t.Errorf("packet %d: got interface %d %q, want %d %q", i+1, g.Interface, g.IfName, w.iface, w.ifName)
		}
		if g.Dir != w.dir {
			t.Errorf("packet %d: got Dir %v, want %v", i+1, g.Dir, w.dir)
		}
		if wt := t0.Add(w.at); !g.Time.Equal(wt) {
			t.Errorf("packet %d: got Time %v, want %v", i+1, g.Time, wt)
		}
		if !bytes.Equal(g.Data, w.data) {
			t.Errorf("packet %d: got Data %x, want %x", i+1, g.Data, w.data)
		}
		if wo := max(w.origLen, len(w.data)); g.OrigLen != wo {
			t.Errorf("packet %d: got OrigLen %d, want %d", i+1, g.OrigLen, wo)
		}
		if g.Comment != w.comment {
			t.Errorf("packet %d: got Comment %q, want %q", i+1, g.Comment, w.comment)
		}
		if g.LinkType != LinkTypeEthernet {
			t.Errorf("packet %d: got LinkType %v, want ETHERNET", i+1, g.LinkType)
		}
	}
}

// logRecorder is a slog.Handler that keeps records.
type logRecorder struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (h *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (h *logRecorder) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.recs = append(h.recs, r.Clone())
	return nil
}
func (h *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *logRecorder) WithGroup(string) slog.Handler      { return h }

func (h *logRecorder) records(level slog.Level) []slog.Record {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []slog.Record
	for _, r := range h.recs {
		if r.Level == level {
			out = append(out, r)
		}
	}
	return out
}

func attr(r slog.Record, key string) string {
	var v string
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == key {
			v = a.Value.String()
			return false
		}
		return true
	})
	return v
}

func tempPath(t *testing.T, name string) string { return filepath.Join(t.TempDir(), name) }
