package capture

import (
	"bytes"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/pcapgo"

	"l2hub/hub"
)

func TestRoundTripPcapng(t *testing.T) {
	for _, snaplen := range []int{0, 128} {
		t.Run(fmt.Sprintf("snaplen-%d", snaplen), func(t *testing.T) {
			fs := newMemFS()
			cfg := memConfig(fs)
			cfg.Snaplen = snaplen
			s := mustOpen(t, cfg)
			run(s, scenario())
			mustClose(t, s)

			got, r := readAll(t, fs.file(t, cfg.Path))
			comparePackets(t, got, scenarioWant(cmpOr(snaplen, DefaultSnaplen)))
			if r.Format() != FormatPcapng {
				t.Errorf("got Format() = %v, want pcapng", r.Format())
			}
			wantIfs := []Interface{
				{Name: "a", Description: "tcp 127.0.0.1:7001 from 127.0.0.1:53122", LinkType: LinkTypeEthernet, Snaplen: cmpOr(snaplen, DefaultSnaplen)},
				{Name: "b", Description: "udp 127.0.0.1:7002 peer 127.0.0.1:7102", LinkType: LinkTypeEthernet, Snaplen: cmpOr(snaplen, DefaultSnaplen)},
				{Name: "c", Description: "netstack 10.0.0.3/24", LinkType: LinkTypeEthernet, Snaplen: cmpOr(snaplen, DefaultSnaplen)},
			}
			if ifs := r.Interfaces(); fmt.Sprint(ifs) != fmt.Sprint(wantIfs) {
				t.Errorf("got Interfaces() = %+v, want %+v", ifs, wantIfs)
			}
			sec := r.Section()
			if sec.UserAppl != "l2hub v0.0.0-test" || sec.Hardware != "" || sec.OS != "" {
				t.Errorf("got section %+v, want userappl \"l2hub v0.0.0-test\" and no host", sec)
			}
			fm, err := ParseMeta(sec.Comment)
			if err != nil {
				t.Fatalf("ParseMeta(%q) = %v", sec.Comment, err)
			}
			if fm.Seed != 42 || fm.ConfigHash != "sha256:c0ffee" || fm.PolicyHash != "sha256:beef" ||
				!fm.Start.Equal(t0) || fm.Points != PointsBoth || fm.Part != 0 || fm.Version != "v0.0.0-test" {
				t.Errorf("got meta %+v, want the test meta", fm)
			}
			st := s.Stats()
			if n := uint64(len(got)); st.Observed != n || st.Written != n || st.Files != 1 ||
				st.QueueFull+st.WriteError+st.Closed != 0 || st.Bytes != uint64(len(fs.file(t, cfg.Path))) {
				t.Errorf("got Stats() = %+v, want %d observed and written into 1 file", st, n)
			}
		})
	}
}

func cmpOr(a, b int) int {
	if a != 0 {
		return a
	}
	return b
}

func TestRoundTripPcap(t *testing.T) {
	for _, tc := range []struct {
		format Format
		res    time.Duration
	}{{FormatPcap, time.Microsecond}, {FormatPcapNano, time.Nanosecond}} {
		t.Run(tc.format.String(), func(t *testing.T) {
			file := captureScenario(t, func(cfg *Config) { cfg.Format = tc.format })
			got, r := readAll(t, file)
			want := scenarioWant(DefaultSnaplen)
			for i := range want {
				want[i].iface, want[i].ifName, want[i].dir, want[i].comment = 0, "", DirUnknown, ""
				want[i].at = want[i].at.Truncate(tc.res)
			}
			comparePackets(t, got, want)
			if r.Format() != tc.format {
				t.Errorf("got Format() = %v, want %v", r.Format(), tc.format)
			}
			if ifs := r.Interfaces(); len(ifs) != 1 || ifs[0].Snaplen != DefaultSnaplen || ifs[0].LinkType != LinkTypeEthernet {
				t.Errorf("got Interfaces() = %+v, want one Ethernet link with snaplen %d", ifs, DefaultSnaplen)
			}
		})
	}
}

// TestPcapgoReadsOurFiles checks the files against an independent reader.
func TestPcapgoReadsOurFiles(t *testing.T) {
	want := scenarioWant(DefaultSnaplen)
	t.Run("pcapng", func(t *testing.T) {
		file := captureScenario(t, func(*Config) {})
		r, err := pcapgo.NewNgReader(bytes.NewReader(file), pcapgo.NgReaderOptions{})
		if err != nil {
			t.Fatalf("pcapgo.NewNgReader() = %v", err)
		}
		checkGopacket(t, r, want, time.Nanosecond)
		for i, name := range []string{"a", "b", "c"} {
			if intf, err := r.Interface(i); err != nil || intf.Name != name || intf.TimestampResolution != 9 {
				t.Errorf("got pcapgo Interface(%d) = %+v, %v, want %q with resolution 9", i, intf, err, name)
			}
		}
	})
	t.Run("pcap", func(t *testing.T) {
		file := captureScenario(t, func(cfg *Config) { cfg.Format = FormatPcap })
		r, err := pcapgo.NewReader(bytes.NewReader(file))
		if err != nil {
			t.Fatalf("pcapgo.NewReader() = %v", err)
		}
		for i := range want {
			want[i].iface = 0
		}
		checkGopacket(t, r, want, time.Microsecond)
	})
}

func checkGopacket(t *testing.T, r gopacket.PacketDataSource, want []wantPacket, res time.Duration) {
	t.Helper()
	for i, w := range want {
		data, ci, err := r.ReadPacketData()
		if err != nil {
			t.Fatalf("packet %d: pcapgo: %v", i+1, err)
		}
		if !bytes.Equal(data, w.data) || ci.Length != w.origLen || ci.InterfaceIndex != w.iface ||
			!ci.Timestamp.Equal(t0.Add(w.at).Truncate(res)) {
			t.Errorf("packet %d: got pcapgo %+v %x, want interface %d at %v, %d bytes of %d", i+1, ci, data, w.iface, w.at, len(w.data), w.origLen)
		}
	}
	if _, _, err := r.ReadPacketData(); err == nil {
		t.Errorf("pcapgo read more packets than the %d written", len(want))
	}
}

func TestPoints(t *testing.T) {
	all := scenarioWant(DefaultSnaplen)
	for _, tc := range []struct {
		points Points
		keep   Dir
	}{{PointsIngress, DirIn}, {PointsEgress, DirOut}} {
		t.Run(tc.points.String(), func(t *testing.T) {
			file := captureScenario(t, func(cfg *Config) { cfg.Points = tc.points })
			var want []wantPacket
			for _, w := range all {
				if w.dir == tc.keep {
					want = append(want, w)
				}
			}
			got, r := readAll(t, file)
			comparePackets(t, got, want)
			if fm, err := ParseMeta(r.Section().Comment); err != nil || fm.Points != tc.points {
				t.Errorf("got meta points %v (%v), want %v", fm.Points, err, tc.points)
			}
		})
	}
}

// TestPointsKeepInjected: an ingress capture keeps the egress event of an
// injected frame (the control API's, a replay's), an input of the run no
// port's ingress shows, and no other egress event.
func TestPointsKeepInjected(t *testing.T) {
	fs := newMemFS()
	cfg := memConfig(fs)
	cfg.Points = PointsIngress
	s := mustOpen(t, cfg)
	injected := event(2*time.Millisecond, 1, "b", hub.Egress, frame(70, 9, 2, 3), false)
	injected.ev.Injected = true
	run(s, []step{
		addPort(0, "a", "a"),
		addPort(1, "b", "b"),
		event(0, 0, "a", hub.Ingress, frame(60, 1, 2, 1), false),
		event(time.Millisecond, 1, "b", hub.Egress, frame(60, 1, 2, 1), false),
		injected,
	})
	mustClose(t, s)
	got, _ := readAll(t, fs.file(t, cfg.Path))
	if len(got) != 2 || got[0].Dir != DirIn || got[1].Dir != DirOut || len(got[1].Data) != 70 {
		t.Errorf("got %d packets, want 2: a's ingress frame and the 70-byte frame injected to b", len(got))
		for i, p := range got {
			t.Logf("packet %d: %v on %q, %d bytes", i+1, p.Dir, p.IfName, len(p.Data))
		}
	}
}

func TestPerPort(t *testing.T) {
	for _, format := range []Format{FormatPcapng, FormatPcap} {
		t.Run(format.String(), func(t *testing.T) {
			fs := newMemFS()
			cfg := memConfig(fs)
			cfg.Path = "/mem/run.cap"
			cfg.PerPort = true
			cfg.Format = format
			cfg.Snaplen = 128
			if _, err := Open(cfg); err == nil {
				t.Fatalf("Open with PerPort under a missing directory: got nil error")
			}
			cfg.Path = tempPath(t, "run.cap") // a directory that exists; files still go to fs
			s := mustOpen(t, cfg)
			run(s, scenario())
			mustClose(t, s)

			all := scenarioWant(128)
			for _, port := range []string{"a", "b", "c"} {
				path := PortPath(cfg.Path, port)
				got, r := readAll(t, fs.file(t, path))
				var want []wantPacket
				for _, w := range all {
					if w.ifName == port {
						w.iface = 0
						if format == FormatPcap {
							w.ifName, w.dir, w.comment = "", DirUnknown, ""
							w.at = w.at.Truncate(time.Microsecond)
						}
						want = append(want, w)
					}
				}
				comparePackets(t, got, want)
				if format == FormatPcapng {
					if fm, err := ParseMeta(r.Section().Comment); err != nil || fm.Port != port {
						t.Errorf("%s: got meta port %q (%v), want %q", path, fm.Port, err, port)
					}
					if n := len(r.Interfaces()); n != 1 {
						t.Errorf("%s: got %d interfaces, want 1", path, n)
					}
				}
			}
			if got, want := strings.Join(s.Files(), " "), strings.Join([]string{
				PortPath(cfg.Path, "a"), PortPath(cfg.Path, "b"), PortPath(cfg.Path, "c")}, " "); got != want {
				t.Errorf("got Files() = %s, want %s", got, want)
			}
		})
	}
}

func TestPortPathNames(t *testing.T) {
	for _, tc := range []struct{ path, port, want string }{
		{"run.pcap", "vm0", "run-vm0.pcap"},
		{"/tmp/x/run.pcapng", "a b/c", "/tmp/x/run-a_b_c.pcapng"},
		{"run", "", "run-_"},
	} {
		if got := PortPath(tc.path, tc.port); got != tc.want {
			t.Errorf("got PortPath(%q, %q) = %q, want %q", tc.path, tc.port, got, tc.want)
		}
	}
	for _, tc := range []struct {
		path string
		n    int
		want string
	}{{"run.pcapng", 0, "run.pcapng"}, {"run.pcapng", 1, "run-0001.pcapng"}, {"d/run", 12345, "d/run-12345"}} {
		if got := RotatedPath(tc.path, tc.n); got != tc.want {
			t.Errorf("got RotatedPath(%q, %d) = %q, want %q", tc.path, tc.n, got, tc.want)
		}
	}
}

func TestPerPortNameClash(t *testing.T) {
	fs := newMemFS()
	cfg := memConfig(fs)
	cfg.Path = tempPath(t, "run.pcapng")
	cfg.PerPort = true
	s := mustOpen(t, cfg)
	s.PortAdded(hub.PortInfo{ID: 0, Name: "a/b"})
	s.PortAdded(hub.PortInfo{ID: 1, Name: "a_b"})
	mustClose(t, s)
	want := []string{PortPath(cfg.Path, "a_b"), PortPath(cfg.Path, "a_b-p1")}
	if got := s.Files(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got Files() = %v, want %v", got, want)
	}
}

func TestRotation(t *testing.T) {
	steps := scenario()
	nPackets := len(scenarioWant(DefaultSnaplen))
	for _, tc := range []struct {
		name    string
		packets int64
		bytes   int64
		format  Format
	}{
		{"packets-3", 3, 0, FormatPcapng},
		{"bytes-1200", 0, 1200, FormatPcapng},
		{"pcap-packets-5", 5, 0, FormatPcap},
		{"pcap-bytes-300", 0, 300, FormatPcap},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := newMemFS()
			cfg := memConfig(fs)
			cfg.RotatePackets, cfg.RotateBytes, cfg.Format = tc.packets, tc.bytes, tc.format
			s := mustOpen(t, cfg)
			run(s, steps)
			mustClose(t, s)

			files := s.Files()
			total := 0
			for i, path := range files {
				if want := RotatedPath(cfg.Path, i); path != want {
					t.Errorf("file %d: got %s, want %s", i, path, want)
				}
				b := fs.file(t, path)
				got, r := readAll(t, b)
				total += len(got)
				if tc.packets > 0 && (int64(len(got)) > tc.packets || i < len(files)-1 && int64(len(got)) != tc.packets) {
					t.Errorf("%s: got %d packets, want %d (fewer only in the last)", path, len(got), tc.packets)
				}
				if tc.bytes > 0 && int64(len(b)) > tc.bytes && len(got) > 1 {
					t.Errorf("%s: got %d bytes with %d packets, want at most %d", path, len(b), len(got), tc.bytes)
				}
				if tc.format != FormatPcapng {
					continue
				}
				fm, err := ParseMeta(r.Section().Comment)
				if err != nil || fm.Part != i {
					t.Errorf("%s: got part %d (%v), want %d", path, fm.Part, err, i)
				}
				for _, p := range got {
					if want := []string{"a", "b", "c"}[p.Interface]; p.IfName != want {
						t.Errorf("%s: packet %d on interface %d named %q, want %q", path, p.Number, p.Interface, p.IfName, want)
					}
				}
			}
			if total != nPackets || len(files) < 2 {
				t.Errorf("got %d packets in %d files, want %d in several", total, len(files), nPackets)
			}
			if st := s.Stats(); st.Files != uint64(len(files)) {
				t.Errorf("got Stats().Files = %d, want %d", st.Files, len(files))
			}
		})
	}
}

// TestWholeBlocksPerWrite checks the kill -9 guarantee at its source: every
// write(2) carries whole blocks.
func TestWholeBlocksPerWrite(t *testing.T) {
	for _, format := range []Format{FormatPcapng, FormatPcap} {
		t.Run(format.String(), func(t *testing.T) {
			fs := newMemFS()
			cfg := memConfig(fs)
			cfg.Format = format
			cfg.BatchBytes = 300 // smaller than some blocks
			s := mustOpen(t, cfg)
			for i := range 20 {
				run(s, scenario())
				_ = i
			}
			mustClose(t, s)
			f := fs.files[cfg.Path]
			if len(f.writes) < 10 {
				t.Fatalf("got %d writes, want many with BatchBytes 300", len(f.writes))
			}
			for i, w := range f.writes {
				var err error
				if format == FormatPcapng {
					_, err = splitBlocks(w)
				} else {
					err = splitPcapRecords(w, i == 0)
				}
				if err != nil {
					t.Fatalf("write %d of %d bytes: %v", i, len(w), err)
				}
			}
		})
	}
}

// splitPcapRecords checks that b is whole pcap records (after the file
// header when header is set).
func splitPcapRecords(b []byte, header bool) error {
	if header {
		if len(b) < 24 {
			return fmt.Errorf("short file header")
		}
		b = b[24:]
	}
	for len(b) > 0 {
		if len(b) < 16 {
			return fmt.Errorf("record header cut at %d bytes", len(b))
		}
		n := 16 + int(le.Uint32(b[8:]))
		if n > len(b) {
			return fmt.Errorf("record of %d bytes cut at %d", n, len(b))
		}
		b = b[n:]
	}
	return nil
}

func TestUnannouncedPort(t *testing.T) {
	fs := newMemFS()
	cfg := memConfig(fs)
	s := mustOpen(t, cfg)
	f := frame(60, 1, 2, 0)
	s.Observe(&hub.Event{Time: t0, Port: 7, PortName: "late", Dir: hub.Ingress, Frame: f})
	s.PortAdded(hub.PortInfo{ID: 7, Name: "late", Description: "too late"}) // already known: ignored
	s.Observe(&hub.Event{Time: t0, Port: 7, PortName: "late", Dir: hub.Egress, Frame: f})
	mustClose(t, s)
	got, r := readAll(t, fs.file(t, cfg.Path))
	comparePackets(t, got, []wantPacket{
		{ifName: "late", dir: DirIn, data: f, origLen: 60},
		{ifName: "late", dir: DirOut, data: f, origLen: 60},
	})
	if ifs := r.Interfaces(); len(ifs) != 1 || ifs[0].Description != "" {
		t.Errorf("got Interfaces() = %+v, want one interface without a description", ifs)
	}
}

func TestObserveAfterClose(t *testing.T) {
	fs := newMemFS()
	s := mustOpen(t, memConfig(fs))
	run(s, scenario()[:3])
	mustClose(t, s)
	run(s, scenario())
	if err := s.Close(); err != nil {
		t.Errorf("second Close() = %v", err)
	}
	if st := s.Stats(); st.Observed != 1 || st.Written != 1 || st.Closed != uint64(len(scenarioWant(DefaultSnaplen))) {
		t.Errorf("got Stats() = %+v, want 1 written and the rest counted as Closed", st)
	}
}

// gateFile is a file whose writes wait until the gate opens: a slow disk,
// once the capture has started (the header Open writes goes through).
type gateFile struct {
	memFile
	gate    chan struct{}
	started atomic.Bool
}

func (f *gateFile) Write(p []byte) (int, error) {
	if f.started.Swap(true) {
		<-f.gate
	}
	return f.memFile.Write(p)
}

func TestOverflow(t *testing.T) {
	for _, mode := range []Overflow{OverflowDrop, OverflowBlock} {
		t.Run(mode.String(), func(t *testing.T) {
			gf := &gateFile{gate: make(chan struct{})}
			cfg := Config{Path: "/mem/run.pcapng", Overflow: mode, QueueBytes: 1, // raised to one maximal record
				Create: func(string) (io.WriteCloser, error) { return gf, nil }}
			s := mustOpen(t, cfg)
			s.PortAdded(hub.PortInfo{ID: 0, Name: "a"})
			big := frame(60000, 1, 2, 0)
			const n = 50
			done := make(chan struct{})
			go func() {
				defer close(done)
				for i := range n {
					s.Observe(&hub.Event{Time: t0.Add(time.Duration(i)), Port: 0, PortName: "a", Frame: big})
				}
			}()
			if mode == OverflowDrop {
				<-done // must finish while the disk is stuck
				close(gf.gate)
			} else {
				close(gf.gate)
				<-done
			}
			mustClose(t, s)
			st := s.Stats()
			got, _ := readAll(t, gf.Bytes())
			if uint64(len(got)) != st.Written || st.Observed != st.Written || st.Observed+st.QueueFull != n {
				t.Errorf("got Stats() = %+v and %d packets in the file, want observed = written = file, observed + queue-full = %d", st, len(got), n)
			}
			if mode == OverflowBlock && st.QueueFull != 0 {
				t.Errorf("got QueueFull %d with OverflowBlock, want 0", st.QueueFull)
			}
			if mode == OverflowDrop && st.QueueFull == 0 {
				t.Errorf("got QueueFull 0 with a stuck disk, want drops")
			}
		})
	}
}

// A capture that fell behind says so where the gap is: the next record's
// comment counts the events missing before it, and when none follows, the
// file's trailer counts them; the counts add up to Stats.QueueFull.
func TestOverflowGapsAreMarked(t *testing.T) {
	gf := &valveFile{gate: make(chan struct{})}
	cfg := Config{Path: "/mem/run.pcapng", QueueBytes: 1, // raised to one maximal record
		Create: func(string) (io.WriteCloser, error) { return gf, nil }}
	s := mustOpen(t, cfg)
	s.PortAdded(hub.PortInfo{ID: 0, Name: "a"})
	big := frame(60000, 1, 2, 0)
	observe := func(from, to int) {
		for i := from; i < to; i++ {
			s.Observe(&hub.Event{Time: t0.Add(time.Duration(i)), Port: 0, PortName: "a", Frame: big})
		}
	}
	// stuck waits until the writer waits on the shut gate, holding what it
	// took: the queue fills and then drops, and nothing drains it.
	stuck := func() {
		for gf.waiting.Load() == 0 {
			runtime.Gosched()
		}
	}
	observe(0, 1)
	stuck() // on the file's header or on event 0
	observe(1, 50)
	firstGap := s.Stats().QueueFull
	if firstGap == 0 {
		t.Fatal("no event dropped with a stuck disk")
	}
	gf.open()
	for st := s.Stats(); st.Written < st.Observed; st = s.Stats() {
		runtime.Gosched() // until the writer has caught up
	}
	gf.shut() // stuck again, for a gap at the end
	observe(50, 51)
	stuck() // with event 50 or a flush before it
	observe(51, 100)
	gf.open()
	mustClose(t, s)

	st := s.Stats()
	got, r := readAll(t, gf.Bytes())
	var noted uint64
	for _, p := range got {
		for line := range strings.Lines(p.Comment) {
			n, ok := parseGap(strings.TrimSuffix(line, "\n"))
			if !ok {
				continue
			}
			noted += n
			if !strings.HasSuffix(line, "before this one (the writer fell behind)") {
				t.Errorf("frame %d notes a gap as %q", p.Number, line)
			}
			if p.Time.Equal(t0.Add(50)) && n != firstGap {
				t.Errorf("the first record after the first gap notes %d missing, want %d", n, firstGap)
			}
		}
	}
	n, ok := parseGap(r.Trailer())
	if !ok || !strings.Contains(r.Trailer(), "after the last record") {
		t.Errorf("trailer %q, want the events dropped at the end", r.Trailer())
	}
	if noted+n != st.QueueFull {
		t.Errorf("%d missing events noted on records and %d in the trailer, want the %d dropped", noted, n, st.QueueFull)
	}
}

// valveFile is a gateFile whose gate can shut again.
type valveFile struct {
	memFile
	mu      sync.Mutex
	gate    chan struct{}
	waiting atomic.Int32 // writes waiting on the gate
	started atomic.Bool  // the first write, the header Open writes, goes through
}

func (f *valveFile) Write(p []byte) (int, error) {
	f.mu.Lock()
	g := f.gate
	f.mu.Unlock()
	if !f.started.Swap(true) {
		return f.memFile.Write(p)
	}
	f.waiting.Add(1)
	<-g
	f.waiting.Add(-1)
	return f.memFile.Write(p)
}

func (f *valveFile) open() {
	f.mu.Lock()
	defer f.mu.Unlock()
	close(f.gate)
}

func (f *valveFile) shut() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gate = make(chan struct{})
}

// TestDefaultKeepsTheLargestFrameWhole: with no snaplen given, a frame as
// large as the hub takes by default is recorded whole, not cut as if the
// user had asked for it.
func TestDefaultKeepsTheLargestFrameWhole(t *testing.T) {
	fs := newMemFS()
	cfg := memConfig(fs)
	s := mustOpen(t, cfg)
	big := frame(hub.DefaultMaxFrame, 1, 2, 7)
	run(s, []step{addPort(0, "a", "tcp 127.0.0.1:7001"), event(0, 0, "a", hub.Ingress, big, false)})
	mustClose(t, s)
	got, _ := readAll(t, fs.file(t, cfg.Path))
	if len(got) != 1 || len(got[0].Data) != len(big) || got[0].OrigLen != len(big) {
		var lens []int
		for _, p := range got {
			lens = append(lens, len(p.Data))
		}
		t.Fatalf("recorded %v bytes of a %d-byte frame, want it whole", lens, len(big))
	}
}
