package capture

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/gopacket/pcapgo"

	"l2hub/filter"
	"l2hub/hub"
	"l2hub/hub/hubtest"
)

// statsSteps is the scenario plus a frame port a's full queue refused.
func statsSteps() []step {
	steps := scenario()
	return append(steps, event(30*time.Millisecond, 0, "a", hub.Egress, frame(60, 2, 1, 7), true,
		hub.Note{Action: "queue-full", Detail: "egress queue full"}))
}

// wantStats counts steps per port name, as the statistics blocks must.
func wantStats(steps []step) map[string]*ifStats {
	want := map[string]*ifStats{}
	for _, st := range steps {
		if st.port != nil {
			want[st.port.Name] = &ifStats{}
			continue
		}
		want[st.ev.PortName].add(unixNanos(st.ev.Time), st.ev.Dir, st.ev.Dropped)
	}
	return want
}

// readStats reads a pcapng file with gopacket's reader, which decodes the
// Interface Statistics Blocks on its own: it returns each interface's
// statistics by name, and each interface's number of packets.
func readStats(t *testing.T, b []byte) (map[string]pcapgo.NgInterfaceStatistics, map[string]int) {
	t.Helper()
	byID := map[int]pcapgo.NgInterfaceStatistics{}
	r, err := pcapgo.NewNgReader(bytes.NewReader(b), pcapgo.NgReaderOptions{
		WantMixedLinkType:  true,
		StatisticsCallback: func(id int, st pcapgo.NgInterfaceStatistics) { byID[id] = st },
	})
	if err != nil {
		t.Fatal(err)
	}
	perID := map[int]int{}
	for {
		_, ci, err := r.ReadPacketData()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		perID[ci.InterfaceIndex]++
	}
	stats, packets := map[string]pcapgo.NgInterfaceStatistics{}, map[string]int{}
	for id := range r.NInterfaces() {
		iface, err := r.Interface(id)
		if err != nil {
			t.Fatal(err)
		}
		st, ok := byID[id]
		if !ok {
			t.Errorf("interface %d (%s) has no statistics block", id, iface.Name)
		}
		stats[iface.Name], packets[iface.Name] = st, perID[id]
	}
	return stats, packets
}

// Without the hub's counters (SetPortStats), a file's statistics count its
// own records only, in the comment: isb_ifrecv and isb_ifdrop are left out
// rather than given numbers that mean something else.
func TestInterfaceStatistics(t *testing.T) {
	fs := newMemFS()
	s := mustOpen(t, memConfig(fs))
	steps := statsSteps()
	run(s, steps)
	mustClose(t, s)
	got, _ := readStats(t, fs.file(t, "/mem/run.pcapng"))
	want := wantStats(steps)
	if len(got) != len(want) {
		t.Fatalf("statistics for %d interfaces, want %d", len(got), len(want))
	}
	for name, w := range want {
		g := got[name]
		if g.PacketsReceived != pcapgo.NgNoValue64 || g.PacketsDropped != pcapgo.NgNoValue64 {
			t.Errorf("port %s: isb_ifrecv %d, isb_ifdrop %d; want neither without the hub's counters", name, g.PacketsReceived, g.PacketsDropped)
		}
		if !g.StartTime.Equal(time.Unix(0, int64(w.first))) || !g.EndTime.Equal(time.Unix(0, int64(w.last))) {
			t.Errorf("port %s: from %v to %v, want %v to %v", name, g.StartTime, g.EndTime,
				time.Unix(0, int64(w.first)).UTC(), time.Unix(0, int64(w.last)).UTC())
		}
		if g.Comment != w.comment(name, nil) {
			t.Errorf("port %s: comment %q, want %q", name, g.Comment, w.comment(name, nil))
		}
	}
	// Spelled out once, so that the counting itself is checked.
	if c := got["a"].Comment; c != "l2hub port a: this file: 3 frames from the peer (1 dropped by policy on every link), "+
		"3 for the peer (1 not queued)" {
		t.Errorf("port a: comment %q", c)
	}
}

// fileCounts reads the file's own counts from a statistics comment.
func fileCounts(t *testing.T, comment string) (from, to uint64) {
	t.Helper()
	_, rest, ok := strings.Cut(comment, ": this file: ")
	var fromDrop, toDrop uint64
	if _, err := fmt.Sscanf(rest, "%d frames from the peer (%d dropped by policy on every link), %d for the peer (%d not queued)",
		&from, &fromDrop, &to, &toDrop); !ok || err != nil {
		t.Fatalf("statistics comment %q: %v", comment, err)
	}
	return from, to
}

// fakeTotals are counters as a hub would keep them for port a of
// statsSteps, with drops for reasons no event shows.
func fakeTotals() *hub.PortStats {
	ps := new(hub.PortStats)
	ps.RxFrames.Store(4)
	ps.TxFrames.Store(2)
	ps.Drop(hub.DropRunt)
	ps.Drop(hub.DropQueueFull)
	ps.Drop(hub.DropDown)
	ps.Drop(hub.DropWrite)
	ps.Drop(hub.DropWrite)
	return ps
}

// TestPortStatsByTheNameGiven: SetPortStats takes the port's name as the
// hub gave it, even one the capture writes otherwise in if_name (a stray
// byte written as \xNN, a name cut to its bound): the port's statistics
// block still carries the hub's counters, and a nil forgets them.
func TestPortStatsByTheNameGiven(t *testing.T) {
	for _, tc := range []struct{ name, port string }{
		{"ascii", "eth0"},
		{"stray-byte", "eth\xe9"},
		{"longer-than-kept", strings.Repeat("p", maxPortTxt+10)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, forget := range []bool{false, true} {
				fs := newMemFS()
				cfg := memConfig(fs)
				s := mustOpen(t, cfg)
				s.PortAdded(hub.PortInfo{ID: 0, Name: tc.port})
				s.SetPortStats(tc.port, fakeTotals())
				if forget {
					s.SetPortStats(tc.port, nil)
				}
				ev := hub.Event{Time: t0, Port: 0, PortName: tc.port, Frame: frame(60, 1, 2, 0)}
				s.Observe(&ev)
				mustClose(t, s)
				stats, _ := readStats(t, fs.file(t, cfg.Path))
				if len(stats) != 1 {
					t.Fatalf("got statistics for %d ports, want 1", len(stats))
				}
				var recv uint64 = 4
				if forget {
					recv = pcapgo.NgNoValue64
				}
				for name, st := range stats {
					if st.PacketsReceived != recv {
						t.Errorf("forget=%v: port %.20q: got isb_ifrecv %d, want %d (absent: %d)", forget, name, st.PacketsReceived, recv, uint64(pcapgo.NgNoValue64))
					}
				}
			}
		})
	}
}

// Each file of a rotated or per-port capture counts its own records; only
// the files Close ends carry the hub's counters, which go on from the
// port's start whatever file they end.
func TestInterfaceStatisticsPerFile(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  func(*Config)
	}{
		{"one file", func(*Config) {}},
		{"rotated every 4 packets", func(c *Config) { c.RotatePackets = 4 }},
		{"rotated at 1500 bytes", func(c *Config) { c.RotateBytes = 1500 }},
		{"per port", func(c *Config) { c.PerPort = true }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := newMemFS()
			cfg := memConfig(fs)
			tc.cfg(&cfg)
			read := func(path string) []byte { return fs.file(t, path) }
			if cfg.PerPort { // per-port files need a real directory
				cfg.Path, cfg.Create = tempPath(t, "run.pcapng"), nil
				read = func(path string) []byte {
					b, err := os.ReadFile(path)
					if err != nil {
						t.Fatal(err)
					}
					return b
				}
			}
			s := mustOpen(t, cfg)
			ps := fakeTotals()
			s.SetPortStats("a", ps)
			steps := statsSteps()
			run(s, steps)
			mustClose(t, s)
			files := s.Files()
			// The last file holding a port's interface is the one Close ended.
			last := map[string]int{}
			stats := make([]map[string]pcapgo.NgInterfaceStatistics, len(files))
			total := map[string][2]uint64{}
			for i, path := range files {
				b := read(path)
				if cfg.RotateBytes > 0 && int64(len(b)) > cfg.RotateBytes {
					t.Errorf("%s: %d bytes with its statistics, more than %d", path, len(b), cfg.RotateBytes)
				}
				var packets map[string]int
				stats[i], packets = readStats(t, b)
				for name, st := range stats[i] {
					last[name] = i
					in, out := fileDirections(t, b, name)
					from, to := fileCounts(t, st.Comment)
					if from != uint64(in) || to != uint64(out) || in+out != packets[name] {
						t.Errorf("%s: port %s: comment counts %d from the peer and %d for it, but the file holds %d and %d records",
							path, name, from, to, in, out)
					}
					n := total[name]
					total[name] = [2]uint64{n[0] + from, n[1] + to}
				}
			}
			for name, w := range wantStats(steps) {
				if total[name] != [2]uint64{w.from, w.to} {
					t.Errorf("port %s: %v frames from and for the peer over all files, want %d and %d", name, total[name], w.from, w.to)
				}
			}
			for i, path := range files {
				for name, st := range stats[i] {
					var recv, drop uint64 = pcapgo.NgNoValue64, pcapgo.NgNoValue64
					if name == "a" && last[name] == i {
						recv, drop = 4, 5
					}
					if st.PacketsReceived != recv || st.PacketsDropped != drop {
						t.Errorf("%s: port %s: isb_ifrecv %d, isb_ifdrop %d; want %d, %d (absent: %d)",
							path, name, st.PacketsReceived, st.PacketsDropped, recv, drop, uint64(pcapgo.NgNoValue64))
					}
				}
			}
			if (cfg.RotatePackets > 0 || cfg.RotateBytes > 0) && len(files) < 3 {
				t.Errorf("%d files; the rotation this case is about did not happen", len(files))
			}
			if c, want := stats[last["a"]]["a"].Comment, "l2hub port a: this file: "; !strings.HasPrefix(c, want) ||
				!strings.HasSuffix(c, "; hub counters since the port was added: rx 4, tx 2, dropped 5 (runt=1 queue-full=1 port-down=1 write-error=2)") {
				t.Errorf("port a's last statistics comment %q", c)
			}
		})
	}
}

// fileDirections counts the inbound and outbound records of port in a file.
func fileDirections(t *testing.T, b []byte, port string) (in, out int) {
	t.Helper()
	got, r := readAll(t, b)
	for _, p := range got {
		if r.Interfaces()[p.Interface].Name != port {
			continue
		}
		if p.Dir == DirOut {
			out++
		} else {
			in++
		}
	}
	return in, out
}

// capinfos -T prints one line per file: the section's metadata, one option
// per line, must not break it.
func TestCapinfosTable(t *testing.T) {
	capinfos, err := exec.LookPath("capinfos")
	if err != nil {
		t.Skip("capinfos is not installed; install the Debian package tshark to run this test")
	}
	path := tempPath(t, "run.pcapng")
	s := mustOpen(t, Config{Path: path, Meta: testMeta})
	run(s, statsSteps())
	mustClose(t, s)
	out, err := exec.Command(capinfos, "-T", path).CombinedOutput()
	if err != nil {
		t.Fatalf("capinfos: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("capinfos -T printed %d lines, want a header and one row:\n%s", len(lines), out)
	}
	for _, want := range []string{"l2hub capture", "seed=42", "part=0"} {
		if !strings.Contains(lines[1], "\t"+want) {
			t.Errorf("the row lacks the cell %q: %s", want, lines[1])
		}
	}
	out, err = exec.Command(capinfos, path).CombinedOutput()
	if err != nil {
		t.Fatalf("capinfos: %v\n%s", err, out)
	}
	if n := strings.Count(string(out), "Number of stat entries = 1"); n != 3 {
		t.Errorf("capinfos sees statistics for %d interfaces, want 3:\n%s", n, out)
	}
}

// A capture to standard output is one stream: a SetMeta starts a new
// section in it, and splitting it is refused.
func TestStdoutStream(t *testing.T) {
	for _, cfg := range []Config{
		{Path: Stdout, PerPort: true},
		{Path: Stdout, RotateBytes: 1 << 20},
		{Path: Stdout, RotatePackets: 10},
	} {
		if _, err := Open(cfg); err == nil {
			t.Errorf("Open(%+v) accepted a split standard output", cfg)
		}
	}
	var stream bytes.Buffer
	var opened []string
	cfg := Config{Path: Stdout, Meta: testMeta, Overflow: OverflowBlock,
		Create: func(path string) (io.WriteCloser, error) {
			opened = append(opened, path)
			return nopWriteCloser{&stream}, nil
		}}
	s := mustOpen(t, cfg)
	steps := statsSteps()
	run(s, steps[:6])
	m := testMeta
	m.Seed = 43
	done, err := s.SetMeta(m)
	if err != nil {
		t.Fatal(err)
	}
	run(s, steps[6:])
	mustClose(t, s)
	<-done
	if strings.Join(opened, ",") != "-" || strings.Join(s.Files(), ",") != "-" {
		t.Errorf("opened %q, files %q; want standard output, once", opened, s.Files())
	}
	r, err := NewReader(bytes.NewReader(stream.Bytes()), ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var seeds []uint64
	packets := 0
	for {
		_, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		packets++
		fm, err := ParseMeta(r.Section().Comment)
		if err != nil {
			t.Fatal(err)
		}
		if len(seeds) == 0 || seeds[len(seeds)-1] != fm.Seed {
			seeds = append(seeds, fm.Seed)
		}
	}
	if want := len(wantStats(steps)); packets != countEvents(steps) || len(seeds) != 2 || seeds[0] != 42 || seeds[1] != 43 {
		t.Errorf("read %d packets in sections with seeds %v; want %d packets, seeds 42 then 43 (%d ports)", packets, seeds, countEvents(steps), want)
	}
}

func countEvents(steps []step) int {
	n := 0
	for _, st := range steps {
		if st.ev != nil {
			n++
		}
	}
	return n
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }

// The statistics blocks Close writes carry the hub's own counters of each
// port: for a run that drops frames for many reasons, isb_ifdrop is the
// port's drops for every reason, as l2hub ctl ports and the summary count
// them (a policy drop on a->c counts on c), isb_ifrecv its received frames,
// and the comment lists the drops by reason.
func TestStatisticsMatchHubCounters(t *testing.T) {
	pol, err := filter.Parse([]byte(`
seed: 1
rules:
  - name: drop-a-c
    match: {link: a->c, payload: "drop"}
    drop: true
`), "stats.yaml", []string{"a", "b", "c"})
	if err != nil {
		t.Fatal(err)
	}
	fs := newMemFS()
	cfg := memConfig(fs)
	s := mustOpen(t, cfg)
	names := []string{"a", "b", "c"}
	sim := hubtest.New(t, hubtest.Config{Mode: hub.ModeHub, Ports: names, Policy: pol, Observers: []hub.Observer{s},
		QueueLen: 2, Overflow: hub.OverflowDrop})
	for _, name := range names {
		s.SetPortStats(name, sim.Stats(name))
	}
	macA, macB := hubtest.MAC("02:00:00:00:00:0a"), hubtest.MAC("02:00:00:00:00:0b")
	sim.Send("a", hubtest.Frame(hubtest.Broadcast, macA, "hello"))
	sim.Send("a", hubtest.Frame(hubtest.Broadcast, macA, "drop me")) // policy on a->c
	sim.SetReading("b", false)
	for range 4 { // b takes 2, then tail-drops
		sim.Advance(time.Millisecond)
		sim.Send("a", hubtest.Frame(hubtest.Broadcast, macA, "flood"))
	}
	sim.Send("b", []byte("runt")) // shorter than an Ethernet header
	c, _ := sim.Core().Lookup("c")
	if err := sim.Core().SetEgress(c, nil); err != nil {
		t.Fatal(err)
	}
	sim.Advance(time.Millisecond)
	sim.Send("b", hubtest.Frame(hubtest.Broadcast, macB, "to nobody")) // port-down on c
	// The live hub's reader and writer count these; the core never sees
	// the frames, so no event shows them.
	sim.Stats("a").Drop(hub.DropKernel)
	sim.Stats("c").Drop(hub.DropWrite)
	sim.Drain()
	mustClose(t, s)

	got, _ := readStats(t, fs.file(t, cfg.Path))
	reasons := map[hub.DropReason]bool{}
	for _, name := range names {
		ps := sim.Stats(name)
		var drops uint64
		var byReason []string
		for _, r := range hub.DropReasons() {
			if n := ps.Drops(r); n > 0 {
				drops += n
				byReason = append(byReason, fmt.Sprintf("%s=%d", r, n))
				reasons[r] = true
			}
		}
		g := got[name]
		if g.PacketsDropped != drops || g.PacketsReceived != ps.RxFrames.Load() {
			t.Errorf("port %s: isb_ifdrop %d, isb_ifrecv %d; want the hub's %d drops (%s) and %d received",
				name, g.PacketsDropped, g.PacketsReceived, drops, strings.Join(byReason, " "), ps.RxFrames.Load())
		}
		want := fmt.Sprintf("; hub counters since the port was added: rx %d, tx %d, dropped %d", ps.RxFrames.Load(), ps.TxFrames.Load(), drops)
		if len(byReason) > 0 {
			want += " (" + strings.Join(byReason, " ") + ")"
		}
		if !strings.HasSuffix(g.Comment, want) {
			t.Errorf("port %s: comment %q, want it to end %q", name, g.Comment, want)
		}
	}
	// The run must drop for the reasons it is about, or it checks nothing.
	for _, r := range []hub.DropReason{hub.DropPolicy, hub.DropQueueFull, hub.DropRunt, hub.DropDown, hub.DropKernel, hub.DropWrite} {
		if !reasons[r] {
			t.Errorf("no port dropped a frame as %s; the scenario no longer covers it", r)
		}
	}
}

// closingReader is a stream's reader that takes limit bytes and then goes
// away (a viewer closed part-way through a batch): the write that reaches
// the limit takes what fits and fails with EPIPE, as an *os.File says it.
type closingReader struct {
	took  bytes.Buffer
	limit int
}

func (r *closingReader) Write(p []byte) (int, error) {
	room := r.limit - r.took.Len()
	if len(p) <= room {
		return r.took.Write(p)
	}
	n, _ := r.took.Write(p[:max(room, 0)])
	return n, &os.PathError{Op: "write", Path: "/dev/stdout", Err: syscall.EPIPE}
}

func (*closingReader) Close() error { return nil }

// A stream whose reader goes away part-way through a batch counts the
// frames the reader took whole as written, and only the rest as lost.
func TestStreamReaderGoneCountsWhatItTook(t *testing.T) {
	rd := &closingReader{limit: 5000}
	logs := &logRecorder{}
	cfg := Config{Path: Stdout, Meta: testMeta, Overflow: OverflowBlock, Logger: slog.New(logs),
		FlushInterval: time.Hour, // one batch, written at Close
		Create:        func(string) (io.WriteCloser, error) { return rd, nil }}
	s := mustOpen(t, cfg)
	s.PortAdded(hub.PortInfo{ID: 0, Name: "a"})
	const sent = 200
	for k := range sent {
		ev := hub.Event{Time: t0.Add(time.Duration(k) * time.Millisecond), Port: 0, PortName: "a", Frame: frame(100, 1, 2, k)}
		s.Observe(&ev)
	}
	mustClose(t, s) // a reader that goes away is no error of the capture's

	r, err := NewReader(bytes.NewReader(rd.took.Bytes()), ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := 0
	for _, err := range r.All() {
		if err != nil {
			break // the partial block the reader took last
		}
		got++
	}
	if got == 0 || got == sent {
		t.Fatalf("the reader took %d whole frames of %d; the test wants some but not all", got, sent)
	}
	st := s.Stats()
	if st.Written != uint64(got) || st.ReaderGone != uint64(sent-got) || st.WriteError != 0 {
		t.Errorf("got Stats() written=%d reader_gone=%d write_error=%d, want %d written (what the reader took whole), %d lost as the reader left, none as write errors",
			st.Written, st.ReaderGone, st.WriteError, got, sent-got)
	}
	warns := logs.records(slog.LevelWarn)
	if len(warns) == 0 || attr(warns[len(warns)-1], "written") != strconv.Itoa(got) {
		t.Errorf("got warnings %v, want the summary to say %d written", warns, got)
	}
}

// Closing the viewer of a stream is how one stops watching: the frames
// after its reader left, in the batch it left in and in those after, count
// as reader_gone, apart from write errors, in Stats and in the summary
// Close logs, and Close returns no error.
func TestStreamReaderGoneIsNoWriteError(t *testing.T) {
	rd := &closingReader{limit: 3000}
	logs := &logRecorder{}
	cfg := Config{Path: Stdout, Meta: testMeta, Overflow: OverflowBlock, Logger: slog.New(logs),
		BatchBytes: 1024, FlushInterval: time.Hour, // batches written as they fill
		Create: func(string) (io.WriteCloser, error) { return rd, nil }}
	s := mustOpen(t, cfg)
	s.PortAdded(hub.PortInfo{ID: 0, Name: "a"})
	const sent = 100
	for k := range sent {
		ev := hub.Event{Time: t0.Add(time.Duration(k) * time.Millisecond), Port: 0, PortName: "a", Frame: frame(100, 1, 2, k)}
		s.Observe(&ev)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close() = %v, want nil: a reader that went away is no failure", err)
	}
	st := s.Stats()
	if st.Written == 0 || st.Written+st.ReaderGone != sent || st.WriteError != 0 {
		t.Errorf("got Stats() %+v, want %d frames written or lost as the reader left, some written, no write errors", st, sent)
	}
	if got := len(logs.records(slog.LevelError)); got != 0 {
		t.Errorf("got %d error records, want none", got)
	}
	warns := logs.records(slog.LevelWarn)
	if len(warns) == 0 {
		t.Fatal("no summary of the frames missing")
	}
	last := warns[len(warns)-1]
	if attr(last, "reader_gone") != strconv.FormatUint(st.ReaderGone, 10) || attr(last, "write_error") != "0" {
		t.Errorf("got summary %v, want reader_gone=%d write_error=0", last, st.ReaderGone)
	}
}
