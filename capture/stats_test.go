package capture

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket/pcapgo"

	"l2hub/hub"
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
		if g.PacketsReceived != w.from || g.PacketsDropped != w.fromDrop+w.toDrop {
			t.Errorf("port %s: received %d, dropped %d; want %d, %d", name, g.PacketsReceived, g.PacketsDropped, w.from, w.fromDrop+w.toDrop)
		}
		if !g.StartTime.Equal(time.Unix(0, int64(w.first))) || !g.EndTime.Equal(time.Unix(0, int64(w.last))) {
			t.Errorf("port %s: from %v to %v, want %v to %v", name, g.StartTime, g.EndTime,
				time.Unix(0, int64(w.first)).UTC(), time.Unix(0, int64(w.last)).UTC())
		}
		if g.Comment != w.comment(name) {
			t.Errorf("port %s: comment %q, want %q", name, g.Comment, w.comment(name))
		}
	}
	// Spelled out once, so that the counting itself is checked.
	if c := got["a"].Comment; c != "l2hub port a: 3 frames from the peer, 1 of them dropped for every link; "+
		"3 frames for the peer, 1 of them refused by its full queue" {
		t.Errorf("port a: comment %q", c)
	}
}

// Each file of a rotated or per-port capture counts its own frames only.
func TestInterfaceStatisticsPerFile(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  func(*Config)
	}{
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
			steps := statsSteps()
			run(s, steps)
			mustClose(t, s)
			total := map[string]uint64{}
			for _, path := range s.Files() {
				b := read(path)
				if cfg.RotateBytes > 0 && int64(len(b)) > cfg.RotateBytes {
					t.Errorf("%s: %d bytes with its statistics, more than %d", path, len(b), cfg.RotateBytes)
				}
				stats, packets := readStats(t, b)
				for name, st := range stats {
					// Every record of an interface is from or for its peer.
					if _, inOut := fileDirections(t, b, name); st.PacketsReceived != uint64(packets[name]-inOut) {
						t.Errorf("%s: port %s received %d, but the file holds %d records of frames from the peer",
							path, name, st.PacketsReceived, packets[name]-inOut)
					}
					total[name] += st.PacketsReceived
				}
			}
			for name, w := range wantStats(steps) {
				if total[name] != w.from {
					t.Errorf("port %s: %d frames received over all files, want %d", name, total[name], w.from)
				}
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
