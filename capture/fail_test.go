package capture

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"l2hub/hub"
)

// fullFile accepts limit bytes, then fails like a full disk, after a
// partial write.
type fullFile struct {
	memFile
	limit int
}

func (f *fullFile) Write(p []byte) (int, error) {
	room := f.limit - len(f.Bytes())
	if len(p) <= room {
		return f.memFile.Write(p)
	}
	n, _ := f.memFile.Write(p[:max(room, 0)])
	return n, syscall.ENOSPC
}

func (f *fullFile) Truncate(n int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.buf.Truncate(int(n))
	return nil
}

func TestWriteFailure(t *testing.T) {
	for _, mode := range []Overflow{OverflowDrop, OverflowBlock} {
		t.Run(mode.String(), func(t *testing.T) {
			ff := &fullFile{limit: 1500}
			logs := &logRecorder{}
			cfg := memConfig(nil)
			cfg.Overflow = mode
			cfg.BatchBytes = 256
			cfg.Logger = slog.New(logs)
			cfg.RetryInterval = -1 // TestResumeAfterFullDisk retries
			cfg.Create = func(string) (io.WriteCloser, error) { return ff, nil }
			s := mustOpen(t, cfg)
			for range 10 {
				run(s, scenario()) // must return although the disk is full
			}
			err := s.Close()
			if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), cfg.Path) {
				t.Errorf("got Close() = %v, want ENOSPC naming %s", err, cfg.Path)
			}
			if s.Err() != err {
				t.Errorf("got Err() = %v, want Close's %v", s.Err(), err)
			}
			errs := logs.records(slog.LevelError)
			if len(errs) != 1 {
				t.Fatalf("got %d error logs, want exactly 1: %v", len(errs), errs)
			}
			if p, e := attr(errs[0], "path"), attr(errs[0], "err"); p != cfg.Path || !strings.Contains(e, "no space left") {
				t.Errorf("got log path=%q err=%q, want path %s and the error", p, e, cfg.Path)
			}
			st := s.Stats()
			if st.WriteError == 0 || st.Written+st.WriteError != st.Observed || st.Observed != 120 {
				t.Errorf("got Stats() = %+v, want written + write-error = observed = 120", st)
			}
			// The partial write was cut off: the file ends on a whole block.
			b := ff.Bytes()
			if _, err := splitBlocks(b); err != nil {
				t.Errorf("file after a full disk: %v", err)
			}
			got, _ := readAll(t, b)
			if uint64(len(got)) != st.Written {
				t.Errorf("got %d packets in the file, want Written = %d", len(got), st.Written)
			}
		})
	}
}

func TestWriteFailureDevFull(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full on this system")
	}
	logs := &logRecorder{}
	// Never retried: a retry would go on in /dev/full-0001.
	s := mustOpen(t, Config{Path: "/dev/full", Logger: slog.New(logs), RetryInterval: -1})
	run(s, scenario())
	err := s.Close()
	if !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("got Close() = %v, want ENOSPC", err)
	}
	if n := len(logs.records(slog.LevelError)); n != 1 {
		t.Errorf("got %d error logs, want 1", n)
	}
	if st := s.Stats(); st.Written != 0 || st.WriteError != st.Observed {
		t.Errorf("got Stats() = %+v, want every frame counted as a write error", st)
	}
}

// TestRotationCreateFailure: the next file of a rotation cannot be
// created; the failure is logged once and later frames are counted.
func TestRotationCreateFailure(t *testing.T) {
	fs := newMemFS()
	logs := &logRecorder{}
	cfg := memConfig(fs)
	cfg.RotatePackets = 2
	cfg.Logger = slog.New(logs)
	cfg.RetryInterval = -1
	cfg.Create = func(path string) (io.WriteCloser, error) {
		if path != cfg.Path {
			return nil, syscall.EACCES
		}
		return fs.Create(path)
	}
	s := mustOpen(t, cfg)
	run(s, scenario())
	if err := s.Close(); !errors.Is(err, syscall.EACCES) || !strings.Contains(err.Error(), RotatedPath(cfg.Path, 1)) {
		t.Errorf("got Close() = %v, want EACCES naming the second file", err)
	}
	if n := len(logs.records(slog.LevelError)); n != 1 {
		t.Errorf("got %d error logs, want 1", n)
	}
	if st := s.Stats(); st.Written != 2 || st.WriteError != st.Observed-2 {
		t.Errorf("got Stats() = %+v, want 2 written and the rest write errors", st)
	}
	if got, _ := readAll(t, fs.file(t, cfg.Path)); len(got) != 2 {
		t.Errorf("got %d packets in the first file, want 2", len(got))
	}
}

func TestCommentMatchesHub(t *testing.T) {
	long := strings.Repeat("x", MaxComment)
	for _, tc := range []struct {
		name    string
		notes   []hub.Note
		dropped bool
	}{
		{"none", nil, false},
		{"dropped-no-notes", nil, true},
		{"one", []hub.Note{{Link: "a->b", Rule: "loss", Action: "drop", Detail: "p=0.1 draw=0.05"}}, true},
		{"bare-action", []hub.Note{{Action: "down"}}, false},
		{"several", []hub.Note{{Link: "a->b", Action: "partition", Detail: "a|b"}, {Rule: "slow", Action: "delay"}, {Link: "a->c", Rule: "flip", Action: "corrupt", Detail: "bit 3"}}, false},
		{"too-long", []hub.Note{{Rule: "r", Action: "drop", Detail: long}}, false},
		{"too-long-utf8", []hub.Note{{Action: "drop", Detail: strings.Repeat("é", MaxComment)}}, false},
		// At the bound and one byte past it ("drop (...)" adds 7 bytes).
		{"max-long", []hub.Note{{Action: "drop", Detail: strings.Repeat("x", MaxComment-len("drop ()"))}}, false},
		{"one-byte-too-long", []hub.Note{{Action: "drop", Detail: strings.Repeat("x", MaxComment+1-len("drop ()"))}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := &hub.Event{Notes: tc.notes, Dropped: tc.dropped}
			want := ev.Comment()
			if tc.dropped {
				want = strings.TrimSuffix("dropped: "+want, ": ")
			}
			if n := commentLen(ev); n != len(want) {
				t.Errorf("got commentLen = %d, want %d", n, len(want))
			}
			if len(want) > MaxComment {
				want = string(cutText([]byte(want), MaxComment))
			}
			got := string(appendComment([]byte("prefix"), ev))
			if got != "prefix"+want {
				t.Errorf("got appendComment = %.80q..., want %.80q...", got, "prefix"+want)
			}
			if cut := commentLen(ev) > MaxComment; len(got)-len("prefix") > MaxComment || strings.HasSuffix(got, "...") != cut {
				t.Errorf("got a comment of %d bytes from %d, want at most %d, ending in \"...\" only when cut", len(got)-len("prefix"), commentLen(ev), MaxComment)
			}
		})
	}
}

// disk is an in-memory file system that can be made full: while it is, a
// write stores what fits of nothing and fails with ENOSPC.
type disk struct {
	memFS
	full atomic.Bool
	// fillOnCreate makes the disk full as the next file is created: a
	// rotation's new file then gets not even its header.
	fillOnCreate atomic.Bool
}

// newDisk returns an empty disk, with room.
func newDisk() *disk { return &disk{memFS: memFS{files: map[string]*memFile{}}} }

// diskConfig is a capture's configuration on d, flushing and retrying
// every millisecond, logging to logs (nil: nowhere).
func diskConfig(d *disk, logs *logRecorder) Config {
	cfg := memConfig(nil)
	cfg.Create, cfg.Remove = d.Create, d.Remove
	cfg.FlushInterval, cfg.RetryInterval = time.Millisecond, time.Millisecond
	if logs != nil {
		cfg.Logger = slog.New(logs)
	}
	return cfg
}

type diskFile struct {
	*memFile
	d *disk
}

func (f diskFile) Write(p []byte) (int, error) {
	if f.d.full.Load() {
		return 0, syscall.ENOSPC
	}
	return f.memFile.Write(p)
}

func (d *disk) Create(path string) (io.WriteCloser, error) {
	if d.fillOnCreate.Swap(false) {
		d.full.Store(true)
	}
	f, _ := d.memFS.Create(path)
	return diskFile{f.(*memFile), d}, nil
}

func (d *disk) Remove(path string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.files[path]; !ok {
		return os.ErrNotExist
	}
	delete(d.files, path)
	return nil
}

// TestResumeAfterFullDisk: once the disk has room again, the capture goes
// on in the next numbered file and says so; attempts while the disk is
// still full leave no file behind.
func TestResumeAfterFullDisk(t *testing.T) {
	d := newDisk()
	logs := &logRecorder{}
	cfg := diskConfig(d, logs)
	s := mustOpen(t, cfg)
	send := portASender(s)
	settled := func(what string, done func(Stats) bool) { t.Helper(); settle(t, s, what, done) }
	send(10)
	settled("10 frames written", func(st Stats) bool { return st.Written == 10 })
	d.full.Store(true)
	send(10)
	settled("10 frames failed", func(st Stats) bool { return st.WriteError == 10 })
	settled("a retry on the full disk", func(Stats) bool { d.mu.Lock(); defer d.mu.Unlock(); return len(d.order) >= 3 })
	d.full.Store(false)
	settled("the capture to resume", func(st Stats) bool { return st.Files == 2 })
	send(10)
	if err := s.Close(); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("Close() = %v, want the full disk's error", err)
	}

	next := RotatedPath(cfg.Path, 1)
	if got := s.Files(); !slices.Equal(got, []string{cfg.Path, next}) {
		t.Errorf("Files() = %v, want %s and %s", got, cfg.Path, next)
	}
	d.mu.Lock()
	left := slices.Sorted(maps.Keys(d.files))
	d.mu.Unlock()
	if want := []string{next, cfg.Path}; !slices.Equal(left, want) { // sorted
		t.Errorf("files on the disk: %v, want only %v (the failed attempts removed)", left, want)
	}
	for _, f := range []struct {
		path        string
		first, part int
	}{{cfg.Path, 0, 0}, {next, 20, 1}} {
		got, r := readAll(t, d.file(t, f.path))
		if len(got) != 10 || !bytes.Equal(got[0].Data, frame(100, 1, 2, f.first)) || !bytes.Equal(got[9].Data, frame(100, 1, 2, f.first+9)) {
			t.Errorf("%s: got %d packets, want frames %d to %d", f.path, len(got), f.first, f.first+9)
		}
		m, err := ParseMeta(r.Section().Comment)
		if err != nil || m.Seed != testMeta.Seed {
			t.Errorf("%s: section header %q, want the run's Meta", f.path, r.Section().Comment)
		}
		// A replay trusts the part: a resumed file that said part 0 would
		// pass for the run's start.
		if m.Part != f.part || m.MetaPart != 0 {
			t.Errorf("%s: header says part=%d meta-part=%d, want part=%d meta-part=0", f.path, m.Part, m.MetaPart, f.part)
		}
	}
	if st := s.Stats(); st.Written != 20 || st.WriteError != 10 || st.Observed != 30 {
		t.Errorf("Stats() = %+v, want 20 written, 10 write errors of 30", st)
	}
	warns := logs.records(slog.LevelWarn)
	if len(warns) != 2 || attr(warns[0], "path") != next || attr(warns[0], "failed") != cfg.Path || attr(warns[0], "missing") != "10" {
		t.Errorf("got warnings %v, want one that names %s, the failed %s and 10 missing frames (then the summary)", warns, next, cfg.Path)
	}
	if n := len(logs.records(slog.LevelError)); n != 1 {
		t.Errorf("got %d error logs, want 1 (the failure)", n)
	}
}

// TestFullDiskAtRotation: a disk that fills as a rotation creates the next
// part leaves that part without its header; it is removed at once rather
// than left empty (an empty part stops a replay of the run's files), never
// counted, and the capture resumes in it, under the same number.
func TestFullDiskAtRotation(t *testing.T) {
	d := newDisk()
	logs := &logRecorder{}
	cfg := diskConfig(d, logs)
	cfg.RotatePackets = 5
	s := mustOpen(t, cfg)
	send := portASender(s)
	settled := func(what string, done func() bool) {
		t.Helper()
		settle(t, s, what, func(Stats) bool { return done() })
	}
	creates := func() int { d.mu.Lock(); defer d.mu.Unlock(); return len(d.order) }
	send(5)
	settled("5 frames written", func() bool { return s.Stats().Written == 5 })
	d.fillOnCreate.Store(true)
	send(1) // rotates
	settled("the frame after the rotation failed", func() bool { return s.Stats().WriteError == 1 })
	settled("a retry on the full disk", func() bool { return creates() >= 3 })
	d.full.Store(false)
	settled("the capture to resume", func() bool { return len(logs.records(slog.LevelWarn)) > 0 })
	send(5)
	if err := s.Close(); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("Close() = %v, want the full disk's error", err)
	}

	next := RotatedPath(cfg.Path, 1)
	d.mu.Lock()
	left := slices.Sorted(maps.Keys(d.files))
	d.mu.Unlock()
	if want := []string{next, cfg.Path}; !slices.Equal(left, want) { // sorted
		t.Errorf("files on the disk: %v, want only %v", left, want)
	}
	if got := s.Files(); !slices.Equal(got, []string{cfg.Path, next}) {
		t.Errorf("Files() = %v, want %s and %s", got, cfg.Path, next)
	}
	if st := s.Stats(); st.Files != 2 || st.Written != 10 || st.WriteError != 1 {
		t.Errorf("Stats() = %+v, want 2 files, 10 frames written and 1 write error", st)
	}
	for _, path := range left {
		if got, _ := readAll(t, d.file(t, path)); len(got) != 5 {
			t.Errorf("%s: got %d packets, want 5", path, len(got))
		}
	}
	got, r := readAll(t, d.file(t, next))
	if m, err := ParseMeta(r.Section().Comment); err != nil || m.Part != 1 {
		t.Errorf("%s: section header %q, want part 1", next, r.Section().Comment)
	}
	if !bytes.Equal(got[0].Data, frame(100, 1, 2, 6)) || !strings.Contains(got[0].Comment, "1 events missing before this one") {
		t.Errorf("%s: first packet %q, want frame 6 saying that frame 5 is missing", next, got[0].Comment)
	}
	// The part never started: no file of that name failed.
	if want := "(could not start run-0001.pcapng: no space left on device)"; !strings.Contains(got[0].Comment, want) {
		t.Errorf("%s: first packet %q, want it to say %q", next, got[0].Comment, want)
	}
	if e := logs.records(slog.LevelError); len(e) != 1 || !strings.Contains(e[0].Message, "could not start") || attr(e[0], "path") != next {
		t.Errorf("got errors %v, want one saying the capture could not start %s", e, next)
	}
	w := logs.records(slog.LevelWarn)
	if len(w) == 0 || attr(w[0], "path") != next {
		t.Fatalf("got warnings %v, want the resume in %s logged", w, next)
	}
	if strings.Contains(w[0].Message, "new file") || !strings.Contains(w[0].Message, "could not start") || attr(w[0], "failed") != "" {
		t.Errorf("got warning %q failed=%q, want the resume in the file it could not start, with no file said failed", w[0].Message, attr(w[0], "failed"))
	}
}

// heldFullFile is a file on a full disk whose writes wait for the test
// before they fail.
type heldFullFile struct {
	memFile
	gate    chan struct{}
	waiting *atomic.Bool
}

func (f *heldFullFile) Write([]byte) (int, error) {
	f.waiting.Store(true)
	<-f.gate
	return 0, syscall.ENOSPC
}

// TestFilesOnlyGrow: Files and Stats.Files (exported as a counter) never
// shrink, not even when the disk fills as a rotation starts a part: a part
// is one of the capture's once its header is written, and the part that
// never got it is removed before it ever was.
func TestFilesOnlyGrow(t *testing.T) {
	d := newDisk()
	gate := make(chan struct{})
	var waiting atomic.Bool
	cfg := memConfig(nil)
	cfg.RotatePackets = 1
	cfg.RetryInterval = -1
	cfg.Remove = d.Remove
	cfg.Create = func(path string) (io.WriteCloser, error) {
		if path == cfg.Path {
			return d.Create(path)
		}
		d.memFS.Create(path) // the file Remove is to remove
		return &heldFullFile{gate: gate, waiting: &waiting}, nil
	}
	s := mustOpen(t, cfg)
	s.PortAdded(hub.PortInfo{ID: 0, Name: "a", Description: "test a"})
	for k := range 2 { // the second starts part 1
		ev := hub.Event{Time: t0.Add(time.Duration(k) * time.Millisecond), Port: 0, PortName: "a", Frame: frame(100, 1, 2, k)}
		s.Observe(&ev)
	}
	for deadline := time.Now().Add(hangGuard); !waiting.Load(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the writer never wrote to part 1: stats %+v", s.Stats())
		}
	}
	files, n := s.Files(), s.Stats().Files // while part 1's first write waits
	close(gate)
	s.Close()
	if got := s.Files(); len(got) < len(files) || !slices.Equal(got[:len(files)], files) {
		t.Errorf("Files() = %v, then %v: want a list that only grows", files, got)
	}
	if got := s.Stats().Files; got < n {
		t.Errorf("Stats().Files = %d, then %d: want a count that only grows", n, got)
	}
	if got := s.Files(); !slices.Equal(got, []string{cfg.Path}) {
		t.Errorf("Files() = %v, want only %s: part 1 never got its header", got, cfg.Path)
	}
	d.mu.Lock()
	left := slices.Sorted(maps.Keys(d.files))
	d.mu.Unlock()
	if !slices.Equal(left, []string{cfg.Path}) {
		t.Errorf("files on the disk: %v, want only %s", left, cfg.Path)
	}
}

// TestFullDiskAtOpen: a capture whose first file cannot take its header
// fails Open, and leaves the path the user named as it is (here a link,
// which must not be removed or replaced by a file), empty.
func TestFullDiskAtOpen(t *testing.T) {
	dir := t.TempDir()
	target, path := filepath.Join(dir, "target.pcapng"), filepath.Join(dir, "run.pcapng")
	if err := os.Symlink(target, path); err != nil {
		t.Skipf("skipping: no symlinks here: %v", err)
	}
	cfg := Config{Path: path, Meta: testMeta, RetryInterval: time.Millisecond}
	cfg.Create = createFull
	s, err := Open(cfg)
	if err == nil {
		s.PortAdded(hub.PortInfo{ID: 0, Name: "a", Description: "test a"})
		ev := hub.Event{Time: t0, Port: 0, PortName: "a", Frame: frame(100, 1, 2, 0)}
		s.Observe(&ev)
		s.Close()
		t.Errorf("Open on a full disk = nil error, want ENOSPC")
	} else if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), path) {
		t.Errorf("Open on a full disk = %v, want ENOSPC naming %s", err, path)
	}
	if fi, err := os.Lstat(path); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the user's path after a failed capture: %v, %v; want the link left as it was", fi, err)
	}
	if fi, err := os.Stat(target); err != nil || fi.Size() != 0 {
		t.Errorf("the link's target: %v, %v; want it empty", fi, err)
	}
}

// fullOSFile is a real file on a disk that is full.
type fullOSFile struct{ *os.File }

func (*fullOSFile) Write([]byte) (int, error) { return 0, syscall.ENOSPC }

// createFull is a Config.Create on a full disk: the file is made, and no
// byte can be written into it.
func createFull(path string) (io.WriteCloser, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	return &fullOSFile{f}, nil
}

// TestSetMetaOnAFailedFile: the annotations a SetMeta ends the old files
// with, when the file has failed (a full disk), ride on the first frame
// written once the capture resumes, like the lost frames' own.
func TestSetMetaOnAFailedFile(t *testing.T) {
	d := newDisk()
	logs := &logRecorder{}
	cfg := diskConfig(d, logs)
	s := mustOpen(t, cfg)
	sendN := portASender(s)
	send := func() { sendN(1) }
	settled := func(what string, done func() bool) {
		t.Helper()
		settle(t, s, what, func(Stats) bool { return done() })
	}
	send()
	settled("a frame written", func() bool { return s.Stats().Written == 1 })
	d.full.Store(true)
	send()
	settled("a frame failed", func() bool { return s.Stats().WriteError == 1 })
	const edit = "control at 2ms: link a down"
	s.Annotate(edit)
	m := testMeta
	m.Seed = 7
	done, err := s.SetMeta(m)
	if err != nil {
		t.Fatal(err)
	}
	<-done
	d.full.Store(false)
	settled("the capture to resume", func() bool { return len(logs.records(slog.LevelWarn)) > 0 })
	send()
	if err := s.Close(); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("Close() = %v, want the full disk's error", err)
	}
	next := RotatedPath(cfg.Path, 1)
	got, r := readAll(t, d.file(t, next))
	if len(got) != 1 {
		t.Fatalf("%s: got %d packets, want 1", next, len(got))
	}
	if !strings.Contains(got[0].Comment, edit) {
		t.Errorf("%s: got a first packet with comment %q, want it to carry %q", next, got[0].Comment, edit)
	}
	if m, err := ParseMeta(r.Section().Comment); err != nil || m.Seed != 7 {
		t.Errorf("%s: section header %q, want the new Meta", next, r.Section().Comment)
	}
}

// TestFullDiskAtOpenLeavesNoFile: a capture that could not start where
// nothing was leaves nothing there, as the path was before.
func TestFullDiskAtOpenLeavesNoFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run.pcapng")
	cfg := Config{Path: path, Meta: testMeta, RetryInterval: time.Millisecond}
	cfg.Create = createFull
	s, err := Open(cfg)
	if err == nil {
		s.Close()
		t.Fatalf("Open on a full disk = nil error, want ENOSPC")
	}
	if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("after a capture that could not start: Lstat(%s) = %v, want no file", path, err)
	}
}

// TestErrNamesTheLastFailedFile: a capture that resumed in a new file
// after a full disk, and met the full disk again there, fails Close with
// the error of that file, not of the one it went on from.
func TestErrNamesTheLastFailedFile(t *testing.T) {
	d := newDisk()
	cfg := diskConfig(d, nil)
	s := mustOpen(t, cfg)
	sendN := portASender(s)
	send := func() { sendN(1) }
	settled := func(what string, done func(Stats) bool) { t.Helper(); settle(t, s, what, done) }
	d.full.Store(true)
	send()
	settled("a frame failed", func(st Stats) bool { return st.WriteError == 1 })
	d.full.Store(false)
	settled("the capture to resume", func(st Stats) bool { return st.Files == 2 })
	d.full.Store(true)
	send()
	settled("a frame failed in the new file", func(st Stats) bool { return st.WriteError == 2 })
	next := RotatedPath(cfg.Path, 1)
	err := s.Close()
	if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), "capture "+next+":") {
		t.Errorf("Close() = %v, want the full disk's error naming %s, the file that failed last", err, next)
	}
}

// portASender adds port a to s and returns send(n), which sends n frames
// of 100 bytes from a, the kth of them (counting on over calls) k
// milliseconds after t0.
func portASender(s *Sink) func(n int) {
	s.PortAdded(hub.PortInfo{ID: 0, Name: "a", Description: "test a"})
	k := 0
	return func(n int) {
		for range n {
			ev := hub.Event{Time: t0.Add(time.Duration(k) * time.Millisecond), Port: 0, PortName: "a", Frame: frame(100, 1, 2, k)}
			s.Observe(&ev)
			k++
		}
	}
}

// settle waits until done holds of s's stats, failing the test after the
// hang guard.
func settle(t *testing.T, s *Sink, what string, done func(Stats) bool) {
	t.Helper()
	for deadline := time.Now().Add(hangGuard); !done(s.Stats()); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: stats %+v", what, s.Stats())
		}
	}
}
