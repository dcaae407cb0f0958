package capture

import (
	"bytes"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestTshark checks the capture as Wireshark shows it: each frame's
// interface name, its direction flag and its comment. CI installs tshark
// (Debian package "tshark"); elsewhere the test skips.
func TestTshark(t *testing.T) {
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("tshark is not installed; install the Debian package tshark to run this test")
	}
	path := tempPath(t, "run.pcapng")
	cfg := Config{Path: path, Meta: testMeta, Snaplen: 128}
	s := mustOpen(t, cfg)
	run(s, scenario())
	mustClose(t, s)

	// frame.packet_flags_direction is the epb_flags direction (Wireshark
	// 3.x/4.x); frame.p2p_dir is Wireshark's own view of it (1 received,
	// 0 sent). Wireshark >= 3.6 names packet comments frame.comment.
	out := runTshark(t, tshark, "-r", path, "-T", "fields", "-E", "separator=|",
		"-e", "frame.interface_name", "-e", "frame.interface_description",
		"-e", "frame.packet_flags_direction", "-e", "frame.p2p_dir", "-e", "frame.comment", "-e", "frame.len", "-e", "frame.cap_len")
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	want := scenarioWant(128)
	if len(lines) != len(want) {
		t.Fatalf("tshark printed %d frames, want %d:\n%s", len(lines), len(want), out)
	}
	descr := map[string]string{}
	for _, st := range scenario() {
		if st.port != nil {
			descr[st.port.Name] = st.port.Description
		}
	}
	for i, line := range lines {
		f := strings.Split(line, "|")
		w := want[i]
		if len(f) != 7 {
			t.Errorf("frame %d: got %q, want 7 fields", i+1, line)
			continue
		}
		wantDir, wantP2P := "1", "1"
		if w.dir == DirOut {
			wantDir, wantP2P = "2", "0"
		}
		if f[0] != w.ifName || f[1] != descr[w.ifName] || tsharkNumber(f[2]) != wantDir || f[3] != wantP2P ||
			f[4] != w.comment || f[5] != strconv.Itoa(w.origLen) || f[6] != strconv.Itoa(len(w.data)) {
			t.Errorf("frame %d: tshark shows %q, want interface %q (%q), direction %s, comment %q, %d of %d bytes",
				i+1, line, w.ifName, descr[w.ifName], wantDir, w.comment, len(w.data), w.origLen)
		}
	}

	// The section comment, as capinfos (shipped with tshark) shows it.
	if capinfos, err := exec.LookPath("capinfos"); err == nil {
		out := runTshark(t, capinfos, path)
		if !strings.Contains(out, "seed=42") || !strings.Contains(out, "Capture application: l2hub v0.0.0-test") {
			t.Errorf("capinfos shows no l2hub section header:\n%s", out)
		}
	}
}

// TestTsharkPcap checks a classic pcap and per-port files open in tshark.
func TestTsharkPcap(t *testing.T) {
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("tshark is not installed; install the Debian package tshark to run this test")
	}
	path := tempPath(t, "run.pcap")
	s := mustOpen(t, Config{Path: path, Format: FormatPcap, PerPort: true})
	run(s, scenario())
	mustClose(t, s)
	for _, port := range []string{"a", "b", "c"} {
		var n int
		for _, w := range scenarioWant(DefaultSnaplen) {
			if w.ifName == port {
				n++
			}
		}
		out := runTshark(t, tshark, "-r", PortPath(path, port), "-T", "fields", "-e", "frame.len")
		if got := strings.Count(out, "\n"); got != n {
			t.Errorf("%s: tshark shows %d frames, want %d", PortPath(path, port), got, n)
		}
	}
}

func runTshark(t *testing.T, tshark string, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(tshark, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("tshark %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}

// tsharkNumber normalises "0x00000001" and "1" to "1".
func tsharkNumber(s string) string {
	if v, err := strconv.ParseUint(s, 0, 32); err == nil {
		return strconv.FormatUint(v, 10)
	}
	return s
}

// TestReadWiresharkFiles reads captures rewritten by Wireshark's editcap:
// pcapng as Wireshark writes it (its own section options, interface
// statistics) and classic pcap in both resolutions.
func TestReadWiresharkFiles(t *testing.T) {
	editcap, err := exec.LookPath("editcap")
	if err != nil {
		t.Skip("editcap is not installed; install the Debian package tshark to run this test")
	}
	src := tempPath(t, "run.pcapng")
	s := mustOpen(t, Config{Path: src, Meta: testMeta, Snaplen: 128})
	run(s, scenario())
	mustClose(t, s)
	for _, tc := range []struct {
		format string
		want   Format
		res    time.Duration
	}{{"pcapng", FormatPcapng, time.Nanosecond}, {"pcap", FormatPcap, time.Microsecond}, {"nsecpcap", FormatPcapNano, time.Nanosecond}} {
		t.Run(tc.format, func(t *testing.T) {
			dst := tempPath(t, "out."+tc.format)
			runTshark(t, editcap, "-F", tc.format, src, dst)
			b, err := os.ReadFile(dst)
			if err != nil {
				t.Fatal(err)
			}
			got, r := readAll(t, b)
			if r.Format() != tc.want {
				t.Errorf("got Format() = %v, want %v", r.Format(), tc.want)
			}
			want := scenarioWant(128)
			for i := range want {
				if tc.want != FormatPcapng {
					want[i].iface, want[i].ifName, want[i].dir, want[i].comment = 0, "", DirUnknown, ""
				}
				want[i].at = want[i].at.Truncate(tc.res)
			}
			comparePackets(t, got, want)
		})
	}
}
