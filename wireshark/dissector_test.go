package wireshark_test

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/google/gopacket/layers"

	"l2hub/conformance"
	"l2hub/conformance/checker"
	"l2hub/conformance/conformancetest"
	"l2hub/wireshark"
)

// tshark runs the embedded dissector over a capture and returns, for each
// frame the filter keeps, the fields asked for (several values of one
// field in a frame are joined with ";"). Each capture is read in one pass
// and again in two (-2), where Wireshark dissects every frame twice and the
// plugin's remembered state is what labels reassembled messages; both
// must agree.
func tshark(t *testing.T, pcap, filter string, fields ...string) [][]string {
	t.Helper()
	bin, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("tshark is not installed (.ci/run installs it: apt-get install tshark)")
	}
	if out, err := exec.Command(bin, "-v").Output(); err != nil || !bytes.Contains(out, []byte("with Lua")) {
		t.Skip("this tshark is built without Lua")
	}
	home := t.TempDir() // no personal plugins or preferences
	script := filepath.Join(home, wireshark.FileName)
	if err := os.WriteFile(script, wireshark.Plugin, 0o644); err != nil {
		t.Fatal(err)
	}
	// Lua errors show as expert infos: every run reads them.
	expertAt := slices.Index(fields, "_ws.expert.message")
	if expertAt < 0 {
		expertAt = len(fields)
		fields = append(fields[:len(fields):len(fields)], "_ws.expert.message")
	}
	var passes [2]string
	for i, extra := range [][]string{nil, {"-2"}} {
		args := append([]string{"-X", "lua_script:" + script, "-r", pcap, "-Y", filter, "-T", "fields",
			"-E", "separator=|", "-E", "occurrence=a", "-E", "aggregator=;"}, extra...)
		for _, f := range fields {
			args = append(args, "-e", f)
		}
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+home, "WIRESHARK_CONFIG_DIR="+home)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("tshark %v: %v\n%s", extra, err, stderr.String())
		}
		for line := range strings.Lines(stderr.String()) {
			if strings.Contains(line, "Lua") || strings.Contains(line, "lua") {
				t.Errorf("tshark %v: %s", extra, line)
			}
		}
		passes[i] = string(out)
	}
	if passes[0] != passes[1] {
		t.Errorf("one pass and two passes disagree:\none pass:\n%s\ntwo passes:\n%s", passes[0], passes[1])
	}
	var rows [][]string
	for line := range strings.Lines(passes[0]) {
		r := strings.Split(strings.TrimSuffix(line, "\n"), "|")
		if strings.Contains(r[expertAt], "Lua Error") {
			t.Errorf("the dissector failed: %s", r[expertAt])
		}
		rows = append(rows, r)
	}
	return rows
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	must(t, err)
	return n
}

func hexKey(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	must(t, err)
	return b
}

func announce(t *testing.T, r conformance.Role) []byte {
	t.Helper()
	p, err := r.Announce().MarshalBinary()
	must(t, err)
	return p
}

func TestAnnounces(t *testing.T) {
	a := announce(t, conformance.RoleA)
	edit := func(f func(p []byte) []byte) []byte { return f(bytes.Clone(a)) }
	manyServices := func(n, nameLen int) []byte {
		p := append([]byte(nil), a[:40+6]...) // through the key of "node-a"
		p = append(p, byte(n))
		for range n {
			p = append(p, byte(nameLen))
			p = append(p, bytes.Repeat([]byte("s"), nameLen)...)
		}
		return p
	}
	cases := []struct {
		name     string
		port     uint16
		payload  []byte
		verdict  string // nxsb.verdict
		device   string // nxsb.device_id
		identity string // nxsb.identity
		expert   string // part of an expert message, or ""
	}{
		{"node-a", 37020, a, "ok", "node-a", "node-a static, derive_test_secret(D0, 34567)", ""},
		{"node-b on another port", 5000, announce(t, conformance.RoleB), "ok", "node-b", "node-b static, derive_test_secret(D1, 34568)", ""},
		{"unknown key", 37020, edit(func(p []byte) []byte { copy(p[14:46], bytes.Repeat([]byte{0x11}, 32)); return p }),
			"ok", "node-a", "unknown", `node-a announces key 11111111…1111, but its bring-up key is 24260eb6…aa4d (derive_test_secret(0xd0, 34567)): node-a logs "identity mismatch peer=crossvm"`},
		// §4.5: node-a compares node-b's announced key with the one it pins,
		// so a bring-up key under the other id is a mismatch too.
		{"node-b with node-a's key", 37020, func() []byte { p := announce(t, conformance.RoleB); copy(p[14:46], a[14:46]); return p }(),
			"ok", "node-b", "node-a static, derive_test_secret(D0, 34567)", `node-b announces key 24260eb6…aa4d, but its bring-up key is ba9f625f…4526 (derive_test_secret(0xd1, 34568)): node-a logs "identity mismatch peer=crossvm" and will not handshake`},
		{"node-a with its ephemeral key", 37020, edit(func(p []byte) []byte {
			copy(p[14:46], hexKey(t, "5e1fa81af16f52619ad4be177e85db5a96809cea7119262fe7e2929f3d509a2b"))
			return p
		}),
			"ok", "node-a", "node-a ephemeral, derive_test_secret(E0, 34567)", "node-a announces key 5e1fa81a…9a2b, but its bring-up key is 24260eb6…aa4d"},
		{"another device with an unknown key", 37020, func() []byte {
			p, err := conformance.Announce{DeviceID: "node9", Port: 37020, Services: []string{"samgrd"}, Static: [32]byte{0x11}}.MarshalBinary()
			must(t, err)
			return p
		}(), "ok", "node9", "unknown", "Not a bring-up key"},
		{"bad magic", 37020, edit(func(p []byte) []byte { p[3] = 'C'; return p }), "BadMagic", "", "", "announce ignored (malformed): BadMagic"},
		{"version 2", 37020, edit(func(p []byte) []byte { p[4] = 2; return p }), "UnsupportedVersion(2)", "", "", "UnsupportedVersion(2)"},
		{"empty device id", 37020, edit(func(p []byte) []byte { p[5] = 0; return p }), "InvalidInput: device id length 0, not 1..64", "", "", "device id length 0"},
		{"device id of 65 bytes", 37020, slices.Concat([]byte("NXSB\x01\x41"), bytes.Repeat([]byte("d"), 65), a[12:46], []byte{0}),
			"InvalidInput: device id length 65, not 1..64", "", "", "device id length 65"},
		{"cut inside the device id", 37020, a[:9], "Truncated", "", "", "announce ignored (malformed): Truncated"},
		{"truncated", 37020, a[:50], "Truncated", "node-a", "node-a static, derive_test_secret(D0, 34567)", "announce ignored (malformed): Truncated"},
		{"device id not UTF-8", 37020, edit(func(p []byte) []byte { p[6] = 0xff; return p }), "Utf8: device id", `"\xffode-a"`, "", "Utf8"},
		// A string field ends at a NUL: the id shows in full, quoted, and
		// is no node-b (the checker's DISC-005).
		{"device id with a NUL", 37020, func() []byte {
			p, err := conformance.Announce{DeviceID: "node-b\x00X", Port: 34568, Services: []string{"samgrd"}, Static: conformance.RoleB.Announce().Static}.MarshalBinary()
			must(t, err)
			return p
		}(), "ok", `"node-b\x00X"`, "node-b static, derive_test_secret(D1, 34568)", `names device "node-b\x00X": the OS names itself node-a or node-b`},
		{"device id with an escape", 37020, func() []byte {
			p, err := conformance.Announce{DeviceID: "node\x1b[2Kb", Port: 34568, Services: []string{"samgrd"}, Static: conformance.RoleB.Announce().Static}.MarshalBinary()
			must(t, err)
			return p
		}(), "ok", `"node\x1b[2Kb"`, "node-b static, derive_test_secret(D1, 34568)", `names device "node\x1b[2Kb"`},
		{"service name with a NUL", 37020, func() []byte {
			p, err := conformance.Announce{DeviceID: "node-a", Port: 34567, Services: []string{"samgrd\x00x"}, Static: conformance.RoleA.Announce().Static}.MarshalBinary()
			must(t, err)
			return p
		}(), "ok", "node-a", "node-a static, derive_test_secret(D0, 34567)", `service name "samgrd\x00x"`},
		{"trailing bytes", 37020, append(bytes.Clone(a), "xyz"...), "ok", "node-a", "node-a static, derive_test_secret(D0, 34567)", "the OS ignores them"},
		{"longer than the OS reads", 37020, append(bytes.Clone(a), make([]byte, 200)...), "ok", "node-a", "node-a static, derive_test_secret(D0, 34567)", "265 bytes; dsoftbusd reads 256"},
		{"cut by the OS's limit", 37020, manyServices(16, 20), "Truncated", "node-a", "node-a static, derive_test_secret(D0, 34567)", "dsoftbusd reads 256"},
		{"17 services", 37020, manyServices(17, 1), "InvalidInput: 17 services, more than 16", "node-a", "node-a static, derive_test_secret(D0, 34567)", "more than 16"},
		// Who an announce claims to be is judged only when it decodes, as
		// the checker's DISC-005 is.
		{"another device with an unknown key and 17 services", 37020, func() []byte {
			p, err := conformance.Announce{DeviceID: "node9", Port: 37020, Static: [32]byte{0x11}}.MarshalBinary()
			must(t, err)
			p[len(p)-1] = 17
			return p
		}(), "InvalidInput: 17 services, more than 16", "node9", "unknown", "more than 16"},
		{"node-b with node-a's key, truncated", 37020, func() []byte { p := announce(t, conformance.RoleB); copy(p[14:46], a[14:46]); return p[:47] }(),
			"Truncated", "node-b", "node-a static, derive_test_secret(D0, 34567)", "Truncated"},
		{"empty service name", 37020, manyServices(1, 0), "InvalidInput: service name length 0, not 1..64", "node-a", "node-a static, derive_test_secret(D0, 34567)", "service name length 0"},
		// The OS reads 256 bytes: an announce of exactly 256 is read whole.
		{"exactly the 256 bytes the OS reads", 37020, func() []byte {
			p := append(append([]byte(nil), a[:46]...), 4)
			for _, l := range []int{64, 64, 64, 13} {
				p = append(append(p, byte(l)), bytes.Repeat([]byte("s"), l)...)
			}
			return p
		}(), "ok", "node-a", "node-a static, derive_test_secret(D0, 34567)", ""},
		{"service name of 65 bytes", 37020, manyServices(1, 65), "InvalidInput: service name length 65, not 1..64", "node-a", "node-a static, derive_test_secret(D0, 34567)", "not 1..64"},
		// §2.3: smoltcp drops a datagram above 512 bytes, so dsoftbusd never
		// decodes it; the checker (DISC-002) and the node count it dropped.
		{"exactly the 512-byte UDP buffer", 37020, append(bytes.Clone(a), make([]byte, 512-len(a))...),
			"ok", "node-a", "node-a static, derive_test_secret(D0, 34567)", "512 bytes; dsoftbusd reads 256"},
		{"above the 512-byte UDP buffer", 37020, append(bytes.Clone(a), make([]byte, 600)...),
			"dropped: 665 bytes, above the 512-byte UDP buffer; the OS sends at most 256", "", "", "665 bytes: a receiver drops datagrams above 512"},
	}
	c := &capture{t: t}
	for _, tc := range cases {
		c.udp(37020, tc.port, tc.payload)
	}
	rows := tshark(t, c.write(), "nxsb", "frame.number", "nxsb.verdict", "nxsb.device_id", "nxsb.identity", "_ws.expert.message", "_ws.col.Info")
	if len(rows) != len(cases) {
		t.Fatalf("tshark decoded %d announces, want %d: %q", len(rows), len(cases), rows)
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := rows[i]
			if r[1] != tc.verdict || r[2] != tc.device || r[3] != tc.identity {
				t.Errorf("verdict, device, identity = %q, %q, %q; want %q, %q, %q", r[1], r[2], r[3], tc.verdict, tc.device, tc.identity)
			}
			if tc.expert == "" && r[4] != "" {
				t.Errorf("unexpected expert info %q", r[4])
			}
			if !strings.Contains(r[4], tc.expert) {
				t.Errorf("expert info %q does not say %q", r[4], tc.expert)
			}
			if tc.verdict != "ok" && regexp.MustCompile(`names device|bring-up key`).MatchString(r[4]) {
				t.Errorf("expert info %q judges the identity of an announce that does not decode", r[4])
			}
			// The Info column says what is wrong with a good announce's key.
			suffix := ""
			switch {
			case tc.verdict != "ok":
			case strings.Contains(tc.expert, "but its bring-up key is"):
				suffix = ", not its bring-up key"
			case tc.identity == "unknown":
				suffix = ", unknown key"
			}
			if suffix != "" && !strings.HasSuffix(r[5], suffix) || suffix == "" && strings.HasSuffix(r[5], " key") {
				t.Errorf("Info %q, want the suffix %q", r[5], suffix)
			}
			if tc.verdict == "ok" && !strings.HasPrefix(r[5], "NXSB announce "+tc.device+" ") {
				t.Errorf("Info %q does not name the device %s", r[5], tc.device)
			}
		})
	}
	// A filter on a device id matches that id, not one that starts with it
	// and a NUL.
	var want []string
	for i, tc := range cases {
		if tc.device == "node-b" {
			want = append(want, strconv.Itoa(i+1))
		}
	}
	var got []string
	for _, r := range tshark(t, c.write(), `nxsb.device_id == "node-b"`, "frame.number") {
		got = append(got, r[0])
	}
	if !slices.Equal(got, want) {
		t.Errorf(`frames nxsb.device_id == "node-b" selects: %q, want %q`, got, want)
	}
	// A service name with a NUL shows in full in the Info column.
	for i, tc := range cases {
		if tc.name == "service name with a NUL" && !strings.Contains(rows[i][5], `("samgrd\x00x")`) {
			t.Errorf("Info %q does not show the service name in full", rows[i][5])
		}
	}
}

// An announce the capture's snaplen cut was received whole by the OS: it
// is not judged (the checker's NET-003), and never called malformed. The
// datagram's own length, not the bytes kept, decides the 512-byte drop.
func TestAnnounceCutBySnaplen(t *testing.T) {
	a := announce(t, conformance.RoleA)
	if a[46] < 2 {
		t.Fatalf("node-a announces %d services; the cases cut the first of several", a[46])
	}
	cases := []struct {
		name    string
		payload []byte
		keep    int // bytes of the payload the capture keeps
		verdict string
		device  string
		expert  string
		info    string
	}{
		{"inside the key", a, 20, "not judged: cut by the capture's snaplen at 20 of 65 bytes", "node-a",
			"cut by the capture's snaplen at 20 of 65 bytes: not judged", "NXSB announce node-a, not judged: cut by the capture's snaplen at 20 of 65 bytes"},
		{"inside the device id", a, 8, "not judged: cut by the capture's snaplen at 8 of 65 bytes", "",
			"cut by the capture's snaplen at 8 of 65 bytes", "NXSB announce, not judged: cut by the capture's snaplen at 8 of 65 bytes"},
		{"inside a service name", a, len(a) - 2, fmt.Sprintf("not judged: cut by the capture's snaplen at %d of 65 bytes", len(a)-2), "node-a",
			"not judged", "NXSB announce node-a, not judged"},
		{"in the trailing bytes", append(bytes.Clone(a), "xyz"...), len(a) + 1, "ok", "node-a", "the OS ignores them", "NXSB announce node-a port 34567"},
		{"above 512 bytes", append(bytes.Clone(a), make([]byte, 600)...), 60,
			"dropped: 665 bytes, above the 512-byte UDP buffer; the OS sends at most 256", "", "665 bytes: a receiver drops", "NXSB dropped: 665 bytes"},
		{"above 256 bytes", append(bytes.Clone(a), make([]byte, 200)...), 100, "ok", "node-a", "265 bytes; dsoftbusd reads 256", "NXSB announce node-a port 34567"},
		{"another device, inside the services", func() []byte {
			p, err := conformance.Announce{DeviceID: "node9", Port: 37020, Services: []string{"samgrd"}, Static: [32]byte{0x11}}.MarshalBinary()
			must(t, err)
			return p
		}(), 50, "not judged: cut by the capture's snaplen at 50 of 53 bytes", "node9", "not judged", "NXSB announce node9, not judged"},
		// A datagram the OS itself reads short is still Truncated.
		{"short on the wire too", a[:30], 20, "Truncated", "node-a", "announce ignored (malformed): Truncated", "NXSB malformed: Truncated"},
		// So is one whose lengths the capture kept need more bytes than the
		// datagram has, whatever the capture lost (the report's label agrees).
		{"short on the wire, cut inside the id", a[:30], 10, "Truncated", "", "announce ignored (malformed): Truncated", "NXSB malformed: Truncated"},
		{"short on the wire, cut before the id", a[:30], 6, "Truncated", "", "announce ignored (malformed): Truncated", "NXSB malformed: Truncated"},
		{"short on the wire, cut inside a name", a[:48+a[47]], 48 + int(a[47]) - 2, "Truncated", "node-a", "announce ignored (malformed): Truncated", "NXSB malformed: Truncated"},
		{"short on the wire, cut inside the last name", a[:len(a)-1], len(a) - 3, "Truncated", "node-a", "announce ignored (malformed): Truncated", "NXSB malformed: Truncated"},
		// Here the lost bytes decide: no service fits in 50 bytes.
		{"short on the wire, cut before the count", a[:50], 20, "not judged: cut by the capture's snaplen at 20 of 50 bytes", "node-a",
			"not judged", "NXSB announce node-a, not judged"},
	}
	c := &capture{t: t}
	for _, tc := range cases {
		c.udp(37020, 37020, tc.payload)
		c.snap(tc.keep)
	}
	rows := tshark(t, c.write(), "nxsb", "nxsb.verdict", "nxsb.device_id", "_ws.expert.message", "_ws.col.Info", "nxsb.malformed")
	if len(rows) != len(cases) {
		t.Fatalf("tshark decoded %d announces, want %d: %q", len(rows), len(cases), rows)
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := rows[i]
			if r[0] != tc.verdict || r[1] != tc.device {
				t.Errorf("verdict, device = %q, %q; want %q, %q", r[0], r[1], tc.verdict, tc.device)
			}
			if !strings.Contains(r[2], tc.expert) {
				t.Errorf("expert info %q does not say %q", r[2], tc.expert)
			}
			if !strings.HasPrefix(r[3], tc.info) {
				t.Errorf("Info %q, want it to start %q", r[3], tc.info)
			}
			if tc.verdict != "ok" && regexp.MustCompile(`names device|bring-up key`).MatchString(r[2]) {
				t.Errorf("expert info %q judges the identity of an announce not judged", r[2])
			}
			if malformed := r[4] != ""; malformed != (tc.verdict == "Truncated") {
				t.Errorf("nxsb.malformed = %q for verdict %q", r[4], tc.verdict)
			}
		})
	}
}

// pdu is one message or record as the dissector shows it.
type pdu struct {
	msg, nonce, auth, summary string
}

// sessionExperts are the session dissector's expert infos.
var sessionExperts = []string{"nexus.bad_tag", "nexus.bad_length", "nexus.bad_plaintext", "nexus.nonce_behind",
	"nexus.unknown_key", "nexus.not_bringup", "nexus.ladder", "nexus.gate_denied", "nexus.request_format",
	"nexus.reply_rejected", "nexus.reply_format", "nexus.midstream"}

// sessionPDUs lists the session's messages in capture order, and the
// dissector's expert infos as "abbreviation" and then each message of the
// frames that carry one.
func sessionPDUs(t *testing.T, pcap string) (pdus []pdu, experts []string) {
	t.Helper()
	fields := append([]string{"nexus.msg", "nexus.nonce", "nexus.authentic", "nexus.summary", "_ws.expert.message"}, sessionExperts...)
	rows := tshark(t, pcap, "nexus", fields...)
	for _, r := range rows {
		if r[0] == "" {
			continue // a segment held for reassembly
		}
		msgs := strings.Split(r[0], ";")
		// Nonce, authenticity and summary exist only for records; line the
		// records' values up with the frame's records.
		nonces, auths, sums := strings.Split(r[1], ";"), strings.Split(r[2], ";"), strings.Split(r[3], ";")
		k, ks := 0, 0
		for _, m := range msgs {
			p := pdu{msg: m}
			if m == "record" {
				if k < len(auths) {
					p.auth = auths[k]
				}
				if p.auth == "1" {
					p.nonce, p.summary = nonces[ks], sums[ks]
					ks++
				}
				k++
			}
			pdus = append(pdus, p)
		}
		ours := false
		for i, abbr := range sessionExperts {
			if r[5+i] != "" {
				for range strings.Split(r[5+i], ";") {
					experts = append(experts, abbr)
				}
				ours = true
			}
		}
		if ours {
			experts = append(experts, strings.Split(r[4], ";")...)
		}
	}
	return pdus, experts
}

// healthySession writes a whole bring-up session: the handshake, the
// ladder and two proxy requests with node-b's answers, with node-a's msg3
// and first ladder record in one write, as the OS does.
func healthySession(t *testing.T, cuts ...int) (pcap string, want []pdu) {
	c := &capture{t: t}
	want = healthyConn(t, c, 40010, cuts...)
	return c.write(), want
}

// healthyConn adds healthySession's connection from node-a's port cport to c.
func healthyConn(t *testing.T, c *capture, cport uint16, cuts ...int) []pdu {
	return healthyExchange(t, c.session(cport, 34568, cuts...), conformancetest.NewTranscript(t), 0)
}

// healthyExchange runs healthySession's exchange over s, whose SYN carried
// the first onSYN bytes of msg1.
func healthyExchange(t *testing.T, s *session, tr *conformancetest.Transcript, onSYN int) []pdu {
	s.send(0, tr.Handshake[0][onSYN:]).send(1, tr.Handshake[1])
	_, r1 := tr.Step(1)
	s.write(0, tr.Handshake[2]).write(0, r1).flush(0)
	for n := 2; n <= 6; n++ {
		s.send(tr.Step(n))
	}
	for _, req := range conformance.BringUpRequests() {
		s.send(0, tr.Request(0, req.Service, req.Payload))
		reply, ok := conformance.BringUpBackend{}.Serve(req.Service, req.Payload)
		if !ok {
			t.Fatalf("the bring-up backend does not serve %d", req.Service)
		}
		s.send(1, tr.Response(conformance.ProxyStatusOK, reply))
	}
	return []pdu{
		{msg: "msg1"}, {msg: "msg2"}, {msg: "msg3"},
		{"record", "0", "1", `ladder OPEN_BATCH: Open stream 1 prio 0 "crossvm/control", Open stream 2 prio 4 "crossvm/bulk"`},
		{"record", "0", "1", "ladder OPEN_ACK_BATCH: OpenAck stream 1 prio 0, OpenAck stream 2 prio 4"},
		{"record", "1", "1", "ladder DATA_BATCH: Data stream 1 prio 0 len 32, Data stream 2 prio 4 len 96"},
		{"record", "1", "1", "ladder DATA_ECHO_BATCH: Data stream 1 prio 0 len 24, Data stream 2 prio 4 len 64"},
		{"record", "2", "1", "ladder FINAL_SYNC"},
		{"record", "2", "1", "ladder FINAL_ACK"},
		{"record", "3", "1", `request svc 1 (samgrd): SM v1 resolve "bundlemgrd"`},
		{"record", "3", "1", "response status 0: SM reply status 0"},
		{"record", "4", "1", "request svc 2 (bundlemgrd): BN v1 op 1 (LIST)"},
		{"record", "4", "1", "response status 0: BN reply status 0 count 1"},
	}
}

func TestSessionAcrossSegments(t *testing.T) {
	for _, tc := range []struct {
		name string
		cuts []int
	}{
		{"one segment per write", nil},
		{"segments of 7, 100, 480 and 1 bytes", []int{7, 100, 480, 1}},
		{"the OS's 480-byte writes", []int{480}},
		{"one byte at a time", []int{1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pcap, want := healthySession(t, tc.cuts...)
			got, experts := sessionPDUs(t, pcap)
			if !slices.Equal(got, want) {
				t.Errorf("dissected\n%s\nwant\n%s", show(got), show(want))
			}
			if len(experts) > 0 {
				t.Errorf("expert infos on a healthy session: %q", experts)
			}
		})
	}
}

// A frame that ends one reassembled record and holds the next is
// dissected twice; its Info column names the direction once and lists the
// records after "; ", not run together.
func TestInfoOfTwoCallsOnOneFrame(t *testing.T) {
	c := &capture{t: t}
	s := c.session(40010, 34568, 100, 500)
	tr := conformancetest.NewTranscript(t)
	s.send(0, tr.Handshake[0]).send(1, tr.Handshake[1]).send(0, tr.Handshake[2])
	for n := 1; n <= 6; n++ {
		s.send(tr.Step(n))
	}
	// Both requests in one write: segments of 100 and 500 bytes end the
	// first request in the frame that holds the whole second one.
	for _, req := range conformance.BringUpRequests() {
		s.write(0, tr.Request(0, req.Service, req.Payload))
	}
	s.flush(0)
	joined := 0
	for _, r := range tshark(t, c.write(), "nexus", "frame.number", "_ws.col.Info") {
		info := r[1]
		if strings.Count(info, "A->B")+strings.Count(info, "B->A") > 1 || regexp.MustCompile(`\S(A->B|B->A)|\]record`).MatchString(info) {
			t.Errorf("frame %s: Info %q runs two texts together", r[0], info)
		}
		if strings.Contains(info, "; record") {
			joined++
		}
	}
	if joined == 0 {
		t.Errorf("no frame holds two records: the capture does not test the case")
	}
}

// A retransmission that TCP leaves out of reassembly holes a record; the
// frame that ends the record shows TCP's "[TCP segment of a reassembled
// PDU]" for those bytes and then the next record, after a space.
func TestInfoAfterTCPText(t *testing.T) {
	c := &capture{t: t}
	s := c.session(40010, 34568)
	tr := conformancetest.NewTranscript(t)
	s.send(0, tr.Handshake[0]).send(1, tr.Handshake[1]).send(0, tr.Handshake[2])
	for n := 1; n <= 6; n++ {
		s.send(tr.Step(n))
	}
	var q []byte
	for _, req := range conformance.BringUpRequests() {
		q = append(q, tr.Request(0, req.Service, req.Payload)...)
	}
	push := layers.TCP{ACK: true, PSH: true}
	s.segment(0, push, q[:64])
	s.sent[0] -= 16 // an out-of-order segment overlaps the end of the last one
	s.segment(0, push, q[48:81])
	s.sent[0] -= 17
	s.segment(1, layers.TCP{ACK: true}, nil)
	s.segment(0, push, q[64:96]) // a retransmission, left out of reassembly
	s.segment(0, push, q[96:])   // ends the first request and holds the second
	seen := false
	for _, r := range tshark(t, c.write(), "nexus", "frame.number", "_ws.col.Info") {
		info := r[1]
		if regexp.MustCompile(`\S(A->B|B->A)`).MatchString(info) {
			t.Errorf("frame %s: Info %q runs two texts together", r[0], info)
		}
		if regexp.MustCompile(`PDU\] ?A->B record 4`).MatchString(info) {
			seen = true
		}
	}
	if !seen {
		t.Errorf("no frame shows TCP's text and then record 4: the capture does not test the case")
	}
}

func show(ps []pdu) string {
	var b strings.Builder
	for _, p := range ps {
		b.WriteString("  " + p.msg + " n=" + p.nonce + " auth=" + p.auth + " " + p.summary + "\n")
	}
	return b.String()
}

// A corrupted record fails its tag; the records after it still open at
// their own nonces, because the sender's counter moved on.
func TestCorruptedRecord(t *testing.T) {
	c := &capture{t: t}
	s := c.session(40010, 34568, 100)
	tr := conformancetest.NewTranscript(t)
	s.send(0, tr.Handshake[0]).send(1, tr.Handshake[1]).send(0, tr.Handshake[2])
	for n := 1; n <= 6; n++ {
		side, rec := tr.Step(n)
		if n == 3 {
			rec[200] ^= 0x01
		}
		s.send(side, rec)
	}
	got, experts := sessionPDUs(t, c.write())
	var auth []string
	for _, p := range got[3:] {
		auth = append(auth, p.auth+"@"+p.nonce)
	}
	if want := []string{"1@0", "1@0", "0@", "1@1", "1@2", "1@2"}; !slices.Equal(auth, want) {
		t.Errorf("records authenticated@nonce %q, want %q", auth, want)
	}
	if len(experts) < 2 || experts[0] != "nexus.bad_tag" || !slices.ContainsFunc(experts[1:], func(e string) bool {
		return strings.Contains(e, "record 1 authenticates at no nonce")
	}) || slices.Contains(experts[1:], "nexus.bad_tag") {
		t.Errorf("expert infos %q, want one bad tag on node-a's record 1", experts)
	}
}

// Bytes injected into the stream take a record's place: the record after
// them opens one nonce behind its index, as the receiver would have it.
func TestInjectedRecord(t *testing.T) {
	c := &capture{t: t}
	s := c.session(40010, 34568)
	tr := conformancetest.NewTranscript(t)
	s.send(0, tr.Handshake[0]).send(1, tr.Handshake[1]).send(0, tr.Handshake[2])
	for n := 1; n <= 6; n++ {
		s.send(tr.Step(n))
	}
	s.send(0, bytes.Repeat([]byte{0x5a}, 275))
	req := conformance.BringUpRequests()[0]
	s.send(0, tr.Request(0, req.Service, req.Payload))
	got, experts := sessionPDUs(t, c.write())
	last := got[len(got)-2:]
	if last[0].auth != "0" || last[1].auth != "1" || last[1].nonce != "3" {
		t.Errorf("injected record and the next one: %+v", last)
	}
	if !slices.ContainsFunc(experts, func(e string) bool { return strings.Contains(e, "Nonce behind the record index") }) {
		t.Errorf("no nonce-behind note in %q", experts)
	}
}

// The noise-xk-std profile is length-prefixed; the dissector recognises it
// by its first prefix and cuts the stream by the prefixes.
func TestStdProfile(t *testing.T) {
	ini, err := conformance.NewStdHandshake(conformance.BringUpStdConfig(conformance.RoleA))
	must(t, err)
	res, err := conformance.NewStdHandshake(conformance.BringUpStdConfig(conformance.RoleB))
	must(t, err)
	frame := func(m []byte) []byte {
		f, err := conformance.AppendFrame(nil, m)
		must(t, err)
		return f
	}
	c := &capture{t: t}
	s := c.session(40010, 34568, 3, 50)
	hs := []*conformance.StdHandshake{ini, res}
	for i := range 3 {
		m, err := hs[i%2].WriteMessage(nil)
		must(t, err)
		_, err = hs[1-i%2].ReadMessage(m)
		must(t, err)
		s.send(i%2, frame(m))
	}
	s.send(0, frame([]byte("twenty bytes of ping"))).send(1, frame(bytes.Repeat([]byte{1}, 300)))
	rows := tshark(t, c.write(), "nexus", "nexus.profile", "nexus.msg", "nexus.length")
	var msgs, lens []string
	for _, r := range rows {
		if !strings.HasPrefix(r[0], "noise-xk-std") {
			t.Errorf("profile %q, want noise-xk-std", r[0])
		}
		msgs = append(msgs, strings.Split(r[1], ";")...)
		lens = append(lens, strings.Split(r[2], ";")...)
	}
	if want := []string{"msg1", "msg2", "msg3", "transport", "transport"}; !slices.Equal(msgs, want) {
		t.Errorf("messages %q, want %q", msgs, want)
	}
	if want := []string{"48", "48", "64", "20", "300"}; !slices.Equal(lens, want) {
		t.Errorf("length prefixes %q, want %q", lens, want)
	}
}

// A noise-xk-std length prefix above 65535 is flagged from the prefix
// alone (§4.8: receivers reject it), without waiting for, or asking
// Wireshark to reassemble, a message no receiver reads; the stream's later
// bytes are shown as coming after the rejection.
func TestStdProfileLengthAboveMax(t *testing.T) {
	ini, err := conformance.NewStdHandshake(conformance.BringUpStdConfig(conformance.RoleA))
	must(t, err)
	m1, err := ini.WriteMessage(nil)
	must(t, err)
	msg1, err := conformance.AppendFrame(nil, m1)
	must(t, err)
	c := &capture{t: t}
	s := c.session(40010, 34568)
	s.send(0, msg1)
	s.send(0, append([]byte{0, 1, 0x11, 0x70}, bytes.Repeat([]byte{0xab}, 100)...)) // 70000
	s.send(0, bytes.Repeat([]byte{0xcd}, 200))
	rows := tshark(t, c.write(), "nexus", "frame.number", "nexus.length", "nexus.bad_length", "nexus.msg", "_ws.expert.message")
	if len(rows) != 3 {
		t.Fatalf("tshark shows %d frames of the session, want 3 (msg1, the bad prefix, the bytes after it), none held for reassembly: %q", len(rows), rows)
	}
	if r := rows[0]; r[1] != "48" || r[2] != "" {
		t.Errorf("msg1 frame: length %q, expert %q; want 48 and none", r[1], r[2])
	}
	r := rows[1]
	if r[1] != "70000" || r[2] == "" || !strings.Contains(r[4], "70000 bytes, more than the Noise maximum of 65535: the receiver rejects the frame") {
		t.Errorf("frame %s: length %q, nexus.bad_length %q, experts %q; want 70000 flagged at once", r[0], r[1], r[2], r[4])
	}
	if r[3] != "rejected: length prefix above 65535" {
		t.Errorf("frame %s message %q, want the rejection", r[0], r[3])
	}
	if r := rows[2]; r[1] != "" || r[3] != "after a rejected length prefix" {
		t.Errorf("frame %s: length %q, message %q; want no new message, shown after the rejection", r[0], r[1], r[3])
	}
}

// The repository's recorded captures: the checker's healthy run decodes
// message by message, and the run that sends data before the handshake
// shows where its stream goes wrong.
func TestRepositoryCaptures(t *testing.T) {
	t.Run("healthy", func(t *testing.T) {
		got, experts := sessionPDUs(t, "../conformance/checker/testdata/healthy.pcapng")
		_, want := healthySession(t)
		if !slices.Equal(got, want) {
			t.Errorf("dissected\n%s\nwant\n%s", show(got), show(want))
		}
		if len(experts) > 0 {
			t.Errorf("expert infos: %q", experts)
		}
		rows := tshark(t, "../conformance/checker/testdata/healthy.pcapng", "nxsb", "nxsb.device_id", "nxsb.verdict")
		if len(rows) != 16 {
			t.Errorf("%d announces, want 16", len(rows))
		}
	})
	t.Run("data before the handshake", func(t *testing.T) {
		got, experts := sessionPDUs(t, "../conformance/checker/testdata/data-before-handshake.pcapng")
		if len(got) < 4 || got[3].msg != "record" || got[3].auth != "0" {
			t.Errorf("dissected\n%s\nwant a record that fails its tag after the handshake", show(got))
		}
		if !slices.ContainsFunc(experts, func(e string) bool { return strings.Contains(e, "Not the bring-up handshake message") }) {
			t.Errorf("no note that msg3 is not the bring-up msg3: %q", experts)
		}
	})
	t.Run("wrong key", func(t *testing.T) {
		const pcap = "../conformance/checker/testdata/wrong-key.pcapng"
		report, err := checker.CheckFiles(checker.Options{}, pcap)
		must(t, err)
		mismatch, ok := report.First(checker.DISC005)
		if !ok || mismatch.Verdict != checker.Fail {
			t.Fatalf("the checker does not fail DISC-005 on %s: %v", pcap, mismatch)
		}
		rows := tshark(t, pcap, "nxsb.device_id == \"node-b\"", "frame.number", "nxsb.identity", "nxsb.wrong_key", "_ws.expert.message", "_ws.col.Info")
		if len(rows) == 0 {
			t.Fatal("no announces from node-b")
		}
		for _, r := range rows {
			if r[1] != "node-a static, derive_test_secret(D0, 34567)" {
				t.Errorf("node-b announces %q, want node-a's key, as the capture was made", r[1])
			}
			// The checker cites the frames it judged, not their copies.
			if judged := slices.Contains(mismatch.Frames, atoi(t, r[0])); judged && (r[2] == "" || r[3] != mismatch.Message) {
				t.Errorf("frame %s: expert infos %q, want the checker's %q", r[0], r[3], mismatch.Message)
			}
			if !strings.HasSuffix(r[4], ", not its bring-up key") {
				t.Errorf("frame %s: Info %q, want the suffix \", not its bring-up key\"", r[0], r[4])
			}
		}
	})
}

// streamExperts runs the dissector over pcap and returns the expert
// messages of each TCP stream's frames, by stream number, and the markers
// their Info column shows ("node-b denies it" for " [node-b denies it]").
func streamExperts(t *testing.T, pcap string) (experts, markers map[string][]string) {
	t.Helper()
	experts, markers = map[string][]string{}, map[string][]string{}
	for _, r := range tshark(t, pcap, "nexus", "tcp.stream", "_ws.col.Info", "_ws.expert.message") {
		for _, m := range infoMarker.FindAllStringSubmatch(r[1], -1) {
			markers[r[0]] = append(markers[r[0]], m[1])
		}
		if r[2] != "" {
			experts[r[0]] = append(experts[r[0]], strings.Split(r[2], ";")...)
		}
	}
	return experts, markers
}

// infoMarker is a verdict the session dissector appends to a record's
// Info text.
var infoMarker = regexp.MustCompile(`\[(node-b denies it|node-b drops it|node-a rejects it|unexpected reply|ladder fails|bad batch|bad tag)\]`)

// The ladder's batches are read as conformance.ParseBatch and
// LadderStep.Check read them: the dissector flags each case with the Go
// codec's own error text, once, and stops decoding the batch there.
func TestLadderBounds(t *testing.T) {
	openEv := func(stream uint32, prio byte, name string) []byte {
		b := append([]byte{1}, binary.LittleEndian.AppendUint32(nil, stream)...)
		return append(append(b, prio, byte(len(name))), name...)
	}
	dataEv := func(stream uint32, prio byte, n uint16) []byte {
		b := append([]byte{3}, binary.LittleEndian.AppendUint32(nil, stream)...)
		return binary.LittleEndian.AppendUint16(append(b, prio), n)
	}
	ackEv := func(stream uint32, prio byte) []byte {
		return append(append([]byte{2}, binary.LittleEndian.AppendUint32(nil, stream)...), prio)
	}
	batch := func(count byte, events ...[]byte) []byte {
		return slices.Concat(append([][]byte{{'M', 'X', 1, count}}, events...)...)
	}
	ctl, bulk := openEv(1, 0, "crossvm/control"), openEv(2, 4, "crossvm/bulk")
	cases := []struct {
		name     string
		step     int // 1..6
		kind     byte
		payload  []byte
		declared int // the payload length the record declares, if not len(payload)
	}{
		{"count above 8", 1, conformance.KindOpenBatch, batch(9), 0},
		{"fewer events than the count", 1, conformance.KindOpenBatch, batch(3, ctl, bulk), 0},
		{"stream id 0", 1, conformance.KindOpenBatch, batch(2, openEv(0, 0, "crossvm/control"), bulk), 0},
		{"eight events", 1, conformance.KindOpenBatch, batch(8, ctl, bulk, openEv(3, 0, "c3"), openEv(4, 0, "c4"), openEv(5, 0, "c5"),
			openEv(6, 0, "c6"), openEv(7, 0, "c7"), openEv(8, 0, "c8")), 0},
		{"priority 7", 1, conformance.KindOpenBatch, batch(2, ctl, openEv(2, 7, "crossvm/bulk")), 0},
		{"stream name of 64 bytes", 1, conformance.KindOpenBatch, batch(3, ctl, bulk, openEv(3, 0, strings.Repeat("c", 64))), 0},
		{"event cut after its stream id", 1, conformance.KindOpenBatch, batch(3, ctl, bulk, ackEv(3, 0)[:5]), 0},
		{"priority 9", 1, conformance.KindOpenBatch, batch(2, openEv(1, 9, "crossvm/control"), bulk), 0},
		{"empty stream name", 1, conformance.KindOpenBatch, batch(2, ctl, openEv(2, 4, "")), 0},
		{"stream name of 65 bytes", 1, conformance.KindOpenBatch, batch(2, ctl, openEv(2, 4, strings.Repeat("b", 65))), 0},
		{"stream name not UTF-8", 1, conformance.KindOpenBatch, batch(2, ctl, openEv(2, 4, "crossvm/\xffulk")), 0},
		{"stream name cut", 1, conformance.KindOpenBatch, batch(2, ctl, openEv(2, 4, "crossvm/bulk")[:12]), 0},
		{"unknown event kind", 1, conformance.KindOpenBatch, batch(3, ctl, []byte{7, 2, 0, 0, 0, 4}, dataEv(2, 4, 96)), 0},
		{"bytes after the events", 1, conformance.KindOpenBatch, batch(2, ctl, bulk, []byte{0, 0, 0}), 0},
		{"bad magic", 1, conformance.KindOpenBatch, slices.Concat([]byte{'M', 'Y', 1, 2}, ctl, bulk), 0},
		{"version 2", 1, conformance.KindOpenBatch, slices.Concat([]byte{'M', 'X', 2, 2}, ctl, bulk), 0},
		{"header cut", 1, conformance.KindOpenBatch, []byte{'M', 'X'}, 0},
		{"no batch", 1, conformance.KindOpenBatch, nil, 0},
		{"data length cut", 3, conformance.KindDataBatch, batch(2, dataEv(1, 0, 32), dataEv(2, 4, 96)[:7]), 0},
		{"kind out of order", 1, conformance.KindDataBatch, batch(2, ctl, bulk), 0},
		{"streams named the other way round", 1, conformance.KindOpenBatch, batch(2, openEv(1, 0, "crossvm/bulk"), openEv(2, 4, "crossvm/control")), 0},
		// The names are quoted as Go's %q quotes them.
		{"a zero-width space in a name", 1, conformance.KindOpenBatch, batch(2, openEv(1, 0, "crossvm/\u200bcontrol"), bulk), 0},
		{"a C1 control in a name", 1, conformance.KindOpenBatch, batch(2, openEv(1, 0, "crossvm/\u0085control"), bulk), 0},
		{"a language tag in a name", 1, conformance.KindOpenBatch, batch(2, openEv(1, 0, "crossvm/\U000e0001control"), bulk), 0},
		{"controls, quotes and a backslash in a name", 1, conformance.KindOpenBatch, batch(2, openEv(1, 0, "crossvm/\t\x7f\x01\"\\"), bulk), 0},
		{"letters beyond ASCII in a name", 1, conformance.KindOpenBatch, batch(2, openEv(1, 0, "crossvm/contrôle·Ωδ控😀"), bulk), 0},
		{"no open-ack for the bulk stream", 2, conformance.KindOpenAckBatch, batch(1, ackEv(1, 0)), 0},
		{"control stream short of data", 3, conformance.KindDataBatch, batch(2, dataEv(1, 0, 31), dataEv(2, 4, 96)), 0},
		{"FINAL_ACK in place of DATA_ECHO_BATCH", 4, conformance.KindFinalAck, nil, 0},
		// Passes: node-a adds up a stream's Data events (LadderStep.Check).
		{"echo split over two events", 4, conformance.KindDataEchoBatch, batch(3, dataEv(1, 0, 12), dataEv(1, 0, 12), dataEv(2, 4, 64)), 0},
		// The record is not read: ParseRecordPlain fails before the kind
		// or the batch is looked at.
		{"OPEN_BATCH declaring 300 bytes", 1, conformance.KindOpenBatch, batch(2, ctl, bulk), 300},
		{"FINAL_SYNC declaring 300 bytes", 5, conformance.KindFinalSync, nil, 300},
		{"FINAL_ACK of the wrong kind declaring 257 bytes", 6, conformance.KindFinalSync, nil, 257},
	}
	plains := make([][]byte, len(cases))
	c := &capture{t: t}
	for i, tc := range cases {
		s := c.session(40100+uint16(i), 34568)
		tr := conformancetest.NewTranscript(t)
		s.send(0, tr.Handshake[0]).send(1, tr.Handshake[1]).send(0, tr.Handshake[2])
		for n := 1; n < tc.step; n++ {
			s.send(tr.Step(n))
		}
		plain, err := conformance.AppendRecordPlain(nil, conformance.RequestRecord, tc.kind, tc.payload)
		must(t, err)
		if tc.declared > 0 {
			binary.LittleEndian.PutUint16(plain[1:], uint16(tc.declared))
		}
		plains[i] = plain
		side := 1 - tc.step%2
		s.send(side, tr.Send[side].Seal(nil, plain))
	}
	experts, markers := streamExperts(t, c.write())
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			step := conformance.Ladder()[tc.step-1]
			var want, marks []string
			if _, err := conformance.ParseRecordPlain(conformance.RequestRecord, plains[i]); err != nil {
				want, marks = []string{fmt.Sprintf("ladder step %d: %v", step.Step, err)}, []string{"ladder fails"}
			} else if err := step.Check(conformance.Record{Kind: tc.kind, Payload: tc.payload}); err != nil {
				marks = []string{"ladder fails"}
				// The batch's own error is flagged on the batch.
				_, perr := conformance.ParseBatch(tc.payload)
				if perr != nil && tc.kind == step.Kind {
					err, marks = perr, []string{"bad batch"}
				}
				want = []string{err.Error()}
			}
			if got := experts[fmt.Sprint(i)]; !slices.Equal(got, want) {
				t.Errorf("expert infos %q, want %q (the Go codec's verdict)", got, want)
			}
			if got := markers[fmt.Sprint(i)]; !slices.Equal(got, marks) {
				t.Errorf("Info column markers %q, want %q", got, marks)
			}
		})
	}
}

// TestNotPrintTable keeps nexus.lua's NOT_PRINT, which its quote escapes
// as Go's %q does, equal to the assigned code points above U+007F that
// unicode.IsPrint rejects. Unassigned ones are left out: Go escapes them
// too, but their table would be twenty times as long.
func TestNotPrintTable(t *testing.T) {
	var want []string
	first, last := -1, -1
	for r := rune(0x80); r <= unicode.MaxRune+1; r++ {
		assigned := unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S, unicode.Z, unicode.Cc, unicode.Cf, unicode.Co)
		if r <= unicode.MaxRune && assigned && !unicode.IsPrint(r) {
			if last != int(r)-1 {
				first = int(r)
			}
			last = int(r)
			continue
		}
		if first >= 0 {
			want = append(want, fmt.Sprintf("0x%x", first), fmt.Sprintf("0x%x", last))
			first = -1
		}
	}
	_, table, ok := strings.Cut(string(wireshark.Plugin), "local NOT_PRINT = {")
	table, _, ok2 := strings.Cut(table, "}")
	if !ok || !ok2 {
		t.Fatal("nexus.lua has no NOT_PRINT table")
	}
	got := strings.FieldsFunc(table, func(r rune) bool { return r == ',' || unicode.IsSpace(r) })
	if !slices.Equal(got, want) {
		t.Errorf("nexus.lua's NOT_PRINT differs from Go's unicode.IsPrint (Unicode %s); it should read\n%s", unicode.Version, strings.Join(want, ", "))
	}
}

// TestProxyVerdicts runs the Go checker and the dissector over the same
// proxy exchanges: node-b's gate on each request, node-a's verdict on each
// response, and the pairing of the two. Every PROXY finding the checker
// fails or warns about must appear as the dissector's expert info on the
// same connection, in the same words, and nothing else; the one exception
// is a request still unanswered when the capture ends.
func TestProxyVerdicts(t *testing.T) {
	sm := func(name string) []byte {
		p, err := conformance.AppendSMRequest(nil, conformance.SMOpResolveStatus, name)
		must(t, err)
		return p
	}
	list := conformance.AppendBNRequest(nil, conformance.BNOpList)
	smOK := conformance.AppendSMResponse(nil, conformance.SMStatusOK)
	bnOK := conformance.AppendBNResponse(nil, conformance.BNResponse{Count: 1})
	edit := func(p []byte, at int, b byte) []byte { p = bytes.Clone(p); p[at] = b; return p }
	// oversized seals a request that declares 300 payload bytes.
	oversized := func(tr *conformancetest.Transcript, svc byte) []byte {
		plain := make([]byte, conformance.RequestPlainLen)
		plain[0] = svc
		binary.LittleEndian.PutUint16(plain[1:], 300)
		return tr.Send[0].Seal(nil, plain)
	}
	type exchange func(s *session, tr *conformancetest.Transcript)
	ask := func(svc byte, req []byte, status byte, reply []byte) exchange {
		return func(s *session, tr *conformancetest.Transcript) {
			s.send(0, tr.Request(0, svc, req)).send(1, tr.Response(status, reply))
		}
	}
	const (
		denies, drops, rejects, unexpected = "node-b denies it", "node-b drops it", "node-a rejects it", "unexpected reply"
	)
	m := func(marks ...string) []string { return marks }
	cases := []struct {
		name  string
		do    []exchange
		marks []string // the Info column's markers
	}{
		{"resolve and list", []exchange{ask(1, sm("bundlemgrd"), 0, smOK), ask(2, list, 0, bnOK)}, nil},
		{"SM version 2, denied", []exchange{ask(1, edit(sm("bundlemgrd"), 2, 2), 1, nil)}, m(denies)},
		{"SM request of 4 bytes, denied", []exchange{ask(1, []byte("SM\x01\x06"), 1, nil)}, m(denies)},
		{"a deny with a payload", []exchange{ask(1, []byte("SN\x01\x06\x01x"), 1, []byte{0})}, m(denies, unexpected)},
		{"SM request with trailing bytes", []exchange{ask(1, append(sm("bundlemgrd"), 0), 0, smOK)}, nil},
		{"SM reply of 5 bytes", []exchange{ask(1, sm("bundlemgrd"), 0, smOK[:5])}, m(rejects)},
		{"SM reply of 12 bytes", []exchange{ask(1, sm("bundlemgrd"), 0, smOK[:12])}, m(rejects)},
		{"a request filling its record", []exchange{ask(3, append([]byte("PK\x01\x01"), make([]byte, conformance.RequestPlainLen-3-4)...), 0, []byte("PK\x01\x81\x00"))}, nil},
		{"SM reply op 0x87", []exchange{ask(1, sm("bundlemgrd"), 0, edit(smOK, 3, 0x87))}, m(rejects)},
		{"SM reply not found", []exchange{ask(1, sm("nosuchd"), 0, conformance.AppendSMResponse(nil, conformance.SMStatusNotFound))}, m(rejects)},
		{"SM reply version 9", []exchange{ask(1, sm("bundlemgrd"), 0, edit(smOK, 2, 9))}, nil},
		{"proxy status 1 to a forwarded request", []exchange{ask(1, sm("bundlemgrd"), 1, nil)}, m(rejects)},
		{"BN reply of 7 bytes", []exchange{ask(2, list, 0, bnOK[:7])}, m(rejects)},
		{"BN reply op 0x82", []exchange{ask(2, list, 0, edit(bnOK, 3, 0x82))}, m(rejects)},
		{"BN reply without magic", []exchange{ask(2, list, 0, edit(bnOK, 0, 'X'))}, nil},
		{"BN request not LIST", []exchange{ask(2, conformance.AppendBNRequest(nil, 2), 0,
			conformance.AppendBNResponse(nil, conformance.BNResponse{Status: conformance.BNStatusUnsupported}))}, m(rejects)},
		{"unknown service, denied", []exchange{ask(9, []byte("hello"), 1, nil)}, m(denies)},
		{"packagefsd answers", []exchange{ask(3, []byte("PK\x01\x01"), 0, []byte("PK\x01\x81\x00"))}, nil},
		{"oversized request dropped, the next answered", []exchange{
			func(s *session, tr *conformancetest.Transcript) { s.send(0, oversized(tr, 1)) },
			ask(2, list, 0, bnOK),
		}, m(drops)},
		{"oversized request answered", []exchange{
			func(s *session, tr *conformancetest.Transcript) {
				s.send(0, oversized(tr, 2)).send(1, tr.Response(0, bnOK))
			},
		}, m(drops, unexpected)},
		{"oversized response", []exchange{
			func(s *session, tr *conformancetest.Transcript) {
				plain := make([]byte, conformance.ResponsePlainLen)
				binary.LittleEndian.PutUint16(plain[1:], 600)
				s.send(0, tr.Request(0, 2, list)).send(1, tr.Send[1].Seal(nil, plain))
			},
		}, nil},
		{"response with no request", []exchange{
			func(s *session, tr *conformancetest.Transcript) { s.send(1, tr.Response(0, smOK)) },
		}, m(unexpected)},
		// The unasked response takes no request: the next one answers request 0.
		{"response with no request, then a request", []exchange{
			func(s *session, tr *conformancetest.Transcript) { s.send(1, tr.Response(0, smOK)) },
			ask(1, sm("bundlemgrd"), 0, smOK[:5]),
		}, m(unexpected, rejects)},
	}
	c := &capture{t: t}
	first := make([]int, len(cases)+1) // the first frame number of each case's connection
	for i, tc := range cases {
		first[i] = len(c.frames) + 1
		s := c.session(40100+uint16(i), 34568)
		tr := conformancetest.NewTranscript(t)
		s.send(0, tr.Handshake[0]).send(1, tr.Handshake[1]).send(0, tr.Handshake[2])
		for n := 1; n <= 6; n++ {
			s.send(tr.Step(n))
		}
		for _, x := range tc.do {
			x(s, tr)
		}
	}
	first[len(cases)] = len(c.frames) + 1
	pcap := c.write()

	report, err := checker.CheckFiles(checker.Options{}, pcap)
	must(t, err)
	want := make([][]string, len(cases))
	for _, f := range report.Findings {
		if !strings.HasPrefix(f.ID, "PROXY-") || (f.Verdict != checker.Fail && f.Verdict != checker.Warn) {
			continue
		}
		// What is not in the capture: the dissector sees packets, not
		// their absence.
		if strings.HasPrefix(f.Message, "no response to request ") || strings.HasPrefix(f.Message, "no proxy request followed the ladder") {
			continue
		}
		if len(f.Frames) == 0 {
			t.Errorf("%s %q names no frame: the test cannot tell its connection", f.ID, f.Message)
			continue
		}
		i := sort.SearchInts(first, f.Frames[0]+1) - 1
		want[i] = append(want[i], f.Message)
	}
	experts, markers := streamExperts(t, pcap)
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := experts[fmt.Sprint(i)]
			slices.Sort(got)
			slices.Sort(want[i])
			if !slices.Equal(got, want[i]) {
				t.Errorf("expert infos\n  %s\nwant the checker's PROXY findings\n  %s", strings.Join(got, "\n  "), strings.Join(want[i], "\n  "))
			}
			if got := markers[fmt.Sprint(i)]; !slices.Equal(got, tc.marks) {
				t.Errorf("Info column markers %q, want %q", got, tc.marks)
			}
		})
	}
}

// TestProxyPairing covers what a capture can miss of a proxy exchange.
// Response j answers the j-th request node-b reads, so a response missing
// from the capture does not shift the pairing of the next; and a response
// is judged only when every request up to its own was read, so requests
// the capture does not show give no verdict, and no "no request
// outstanding" either.
func TestProxyPairing(t *testing.T) {
	sm, err := conformance.AppendSMRequest(nil, conformance.SMOpResolveStatus, "bundlemgrd")
	must(t, err)
	list := conformance.AppendBNRequest(nil, conformance.BNOpList)
	smOK := conformance.AppendSMResponse(nil, conformance.SMStatusOK)
	bnOK := conformance.AppendBNResponse(nil, conformance.BNResponse{Count: 1})
	const (
		rejects = "node-a rejects it"
		smShort = "response to request %d fails node-a's verdict: service samgrd: proxy request failed: response of 5 bytes, want at least 13: truncated"
		bnShort = "response to request %d fails node-a's verdict: service bundlemgrd: proxy request failed: response of 7 bytes, want at least 8: truncated"
	)
	type exchange func(c *capture, s *session, tr *conformancetest.Transcript)
	ask := func(svc byte, req []byte, reply []byte) exchange {
		return func(_ *capture, s *session, tr *conformancetest.Transcript) {
			s.send(0, tr.Request(0, svc, req)).send(1, tr.Response(0, reply))
		}
	}
	cases := []struct {
		name    string
		noSYN   bool // node-a's SYN and ACK are not in the capture
		onlyB   bool // none of node-a's segments is
		do      []exchange
		experts []string
		checker bool     // the checker, which reads a retransmission, fails the same
		marks   []string // the Info column's markers
	}{
		{name: "a response missing from the capture", do: []exchange{
			func(c *capture, s *session, tr *conformancetest.Transcript) {
				s.send(0, tr.Request(0, 1, sm))
				c.hidden[1] = true
				s.send(1, tr.Response(0, smOK))
				c.hidden[1] = false
			},
			ask(2, list, bnOK[:7]),
		}, experts: []string{fmt.Sprintf(bnShort, 1)}, marks: []string{rejects}},
		{name: "node-a's SYN not captured", noSYN: true, do: []exchange{ask(1, sm, smOK[:5])},
			experts: []string{fmt.Sprintf(smShort, 0)}, marks: []string{rejects}},
		{name: "node-b's segments only", onlyB: true, do: []exchange{ask(1, sm, smOK[:5]), ask(2, list, bnOK)}},
		// node-b read the retransmission and answered it; the dissector,
		// which reads only the first copy, judges the next response.
		{name: "a request's first copy corrupted", do: []exchange{
			func(_ *capture, s *session, tr *conformancetest.Transcript) {
				s.sendCorrupted(0, tr.Request(0, 1, sm), 100).send(1, tr.Response(0, smOK))
			},
			ask(2, list, bnOK[:7]),
		}, experts: []string{fmt.Sprintf(bnShort, 1)}, checker: true, marks: []string{"bad tag", rejects}},
		// node-b skips bytes that are no record of node-a's: the next
		// record opens a nonce behind its index, and is the one answered.
		{name: "an injected record before a request", do: []exchange{
			func(_ *capture, s *session, _ *conformancetest.Transcript) {
				s.send(0, bytes.Repeat([]byte{0x5a}, conformance.RequestRecordLen))
			},
			ask(1, sm, smOK[:5]),
			ask(2, list, bnOK[:7]),
		}, experts: []string{fmt.Sprintf(smShort, 1), fmt.Sprintf(bnShort, 2)}, checker: true,
			marks: []string{"bad tag", rejects, rejects}},
	}
	c := &capture{t: t}
	first := make([]int, len(cases)+1) // the first frame number of each case's connection
	for i, tc := range cases {
		first[i] = len(c.frames) + 1
		c.hidden[0] = tc.noSYN || tc.onlyB
		s := c.session(40100+uint16(i), 34568)
		c.hidden[0] = tc.onlyB
		tr := conformancetest.NewTranscript(t)
		s.send(0, tr.Handshake[0]).send(1, tr.Handshake[1]).send(0, tr.Handshake[2])
		for n := 1; n <= 6; n++ {
			s.send(tr.Step(n))
		}
		for _, x := range tc.do {
			x(c, s, tr)
		}
		c.hidden[0] = false
	}
	first[len(cases)] = len(c.frames) + 1
	pcap := c.write()
	report, err := checker.CheckFiles(checker.Options{}, pcap)
	must(t, err)
	byChecker := make([][]string, len(cases))
	for _, f := range report.Findings {
		if strings.HasPrefix(f.ID, "PROXY-") && f.Verdict == checker.Fail && len(f.Frames) > 0 {
			i := sort.SearchInts(first, f.Frames[0]+1) - 1
			byChecker[i] = append(byChecker[i], f.Message)
		}
	}
	experts, markers := streamExperts(t, pcap)
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := markers[fmt.Sprint(i)]; !slices.Equal(got, tc.marks) {
				t.Errorf("Info column markers %q, want %q", got, tc.marks)
			}
			if tc.checker && !slices.Equal(byChecker[i], tc.experts) {
				t.Errorf("the checker fails\n  %s\nwant\n  %s", strings.Join(byChecker[i], "\n  "), strings.Join(tc.experts, "\n  "))
			}
			// The proxy's verdicts, not TCP's notes on the holes or the
			// record that fails its tag.
			got := slices.DeleteFunc(experts[fmt.Sprint(i)], func(e string) bool {
				return !strings.HasPrefix(e, "response ") && !strings.HasPrefix(e, "node-b ") && !strings.HasPrefix(e, "request ")
			})
			if !slices.Equal(got, tc.experts) {
				t.Errorf("expert infos\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(tc.experts, "\n  "))
			}
		})
	}
}

// editcap runs editcap on in with args before the file names (a frame
// selection goes after them) and returns the capture it writes.
func editcap(t *testing.T, in string, args []string, frames ...string) string {
	t.Helper()
	bin, err := exec.LookPath("editcap")
	if err != nil {
		t.Skip("editcap is not installed (it comes with tshark: apt-get install tshark)")
	}
	out := filepath.Join(t.TempDir(), "edited.pcapng")
	args = append(append(args[:len(args):len(args)], in, out), frames...)
	if b, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
		t.Fatalf("editcap %q: %v\n%s", args, err, b)
	}
	return out
}

// A capture that starts inside a connection has no SYN for it, and
// Wireshark's relative sequence numbers then count from the first segment
// seen, not from the stream's start: the dissector must not cut those bytes
// as msg1, msg2 and records (which all fail), but say once per direction
// that the handshake was not captured, as the checker does (SESS-002).
func TestCaptureStartsInsideSession(t *testing.T) {
	notCaptured := func(t *testing.T, pdus []pdu, experts []string) {
		t.Helper()
		if len(pdus) == 0 {
			t.Fatal("no session bytes dissected")
		}
		for _, p := range pdus {
			if p.msg != "handshake not captured" {
				t.Errorf("dissected\n%s\nwant every message shown as \"handshake not captured\"", show(pdus))
				break
			}
		}
		if want := []string{"nexus.midstream", "nexus.midstream"}; !slices.Equal(abbreviations(experts), want) {
			t.Errorf("expert infos %q, want one nexus.midstream note per direction and nothing else", experts)
		}
	}
	t.Run("repository healthy capture from frame 40", func(t *testing.T) {
		// Frame 40 is inside the ladder: the first bytes each side sends
		// in the cut capture are ladder records, not msg1 and msg2.
		mid := editcap(t, "../conformance/checker/testdata/healthy.pcapng", []string{"-r"}, "40-71")
		pdus, experts := sessionPDUs(t, mid)
		notCaptured(t, pdus, experts)
	})
	t.Run("a later connection is decoded", func(t *testing.T) {
		c := &capture{t: t}
		tr := conformancetest.NewTranscript(t)
		s := c.session(40010, 34568, 100) // frames 1-3: SYN, SYN-ACK, ACK
		s.send(0, tr.Handshake[0]).send(1, tr.Handshake[1]).send(0, tr.Handshake[2])
		cut := len(c.frames) // the capture starts after the handshake, inside the ladder
		for n := 1; n <= 6; n++ {
			s.send(tr.Step(n))
		}
		first := len(c.frames)
		want := healthyConn(t, c, 40010, 100) // node-a redials from the same port
		mid := editcap(t, c.write(), []string{"-r"}, fmt.Sprintf("%d-%d", cut+1, len(c.frames)))
		pdus, experts := sessionPDUs(t, mid)
		n := 0
		for n < len(pdus) && pdus[n].msg == "handshake not captured" {
			n++
		}
		if n == 0 {
			t.Fatalf("dissected\n%s\nwant the first connection's %d frames shown as \"handshake not captured\"", show(pdus), first-cut)
		}
		notCaptured(t, pdus[:n], experts)
		if !slices.Equal(pdus[n:], want) {
			t.Errorf("second connection dissected\n%s\nwant\n%s", show(pdus[n:]), show(want))
		}
	})
}

// Wireshark counts an end's relative sequence numbers from its initial
// sequence number when the capture holds the end's SYN or the SYN-ACK that
// acknowledges it, so either one makes the end's stream offsets known.
func TestCaptureWithoutSYN(t *testing.T) {
	// healthySession's frames: 1 SYN, 2 SYN-ACK, 3 ACK, 4 msg1, 5 msg2,
	// 6 msg3 and ladder step 1, ...; each message is one segment.
	pcap, want := healthySession(t)
	fromB := []int{1, 4, 6, 8, 10, 12} // msg2, ladder steps 2, 4, 6, the responses
	bNotCaptured := slices.Clone(want)
	for _, i := range fromB {
		bNotCaptured[i] = pdu{msg: "handshake not captured"}
	}
	for _, tc := range []struct {
		name, cut string
		want      []pdu
		notes     int // nexus.midstream notes
	}{
		{"node-a's SYN", "1", want, 0},
		{"node-a's SYN and msg1", "1 4", want[1:], 0},
		// Only node-a's first ACK then says where node-b's stream starts,
		// which Wireshark takes but the dissector does not trust.
		{"node-b's SYN-ACK", "2", bNotCaptured, 1},
		// One segment each, msg3 and ladder step 1 together.
		{"node-a's SYN and node-b's SYN-ACK", "1 2", slices.Repeat([]pdu{{msg: "handshake not captured"}}, len(want)-1), 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pdus, experts := sessionPDUs(t, editcap(t, pcap, nil, strings.Fields(tc.cut)...))
			if !slices.Equal(pdus, tc.want) {
				t.Errorf("dissected\n%s\nwant\n%s", show(pdus), show(tc.want))
			}
			if want := slices.Repeat([]string{"nexus.midstream"}, tc.notes); !slices.Equal(abbreviations(experts), want) {
				t.Errorf("expert infos %q, want %d nexus.midstream notes and nothing else", experts, tc.notes)
			}
		})
	}
}

// A merged capture can hold a segment before its SYN. The first pass,
// which has not seen the SYN yet, cannot place the segment, and a second
// pass must not decide otherwise.
func TestSegmentBeforeSYN(t *testing.T) {
	c := &capture{t: t}
	want := healthyConn(t, c, 40010)
	// Frame 4, msg1, goes first: its stream offset happens to be right,
	// so Wireshark keeps it in the SYN's stream.
	c.frames = slices.Concat(c.frames[3:4], c.frames[:3], c.frames[4:])
	pdus, experts := sessionPDUs(t, c.write())
	if want := append([]pdu{{msg: "handshake not captured"}}, want[1:]...); !slices.Equal(pdus, want) {
		t.Errorf("dissected\n%s\nwant\n%s", show(pdus), show(want))
	}
	if want := []string{"nexus.midstream"}; !slices.Equal(abbreviations(experts), want) {
		t.Errorf("expert infos %q, want one nexus.midstream note", experts)
	}
}

// Data on a SYN starts the stream: the SYN takes relative sequence number
// 0, and its first byte is at stream offset 0.
func TestDataOnSYN(t *testing.T) {
	for _, n := range []int{32, 5} {
		t.Run(fmt.Sprintf("%d bytes of msg1", n), func(t *testing.T) {
			c := &capture{t: t}
			tr := conformancetest.NewTranscript(t)
			want := healthyExchange(t, c.dial(40010, 34568, tr.Handshake[0][:n]), tr, n)
			pdus, experts := sessionPDUs(t, c.write())
			if !slices.Equal(pdus, want) {
				t.Errorf("dissected\n%s\nwant\n%s", show(pdus), show(want))
			}
			if len(experts) > 0 {
				t.Errorf("expert infos %q, want none", experts)
			}
		})
	}
}

// abbreviations keeps the expert abbreviations of sessionPDUs' list.
func abbreviations(experts []string) []string {
	var out []string
	for _, e := range experts {
		if slices.Contains(sessionExperts, e) {
			out = append(out, e)
		}
	}
	return out
}
