package checker

import (
	"encoding/binary"
	"encoding/json"
	"strings"
	"testing"

	"l2hub/conformance"
)

// stdScript is a noise-xk session: the framed handshake with the bring-up
// keys, then one framed transport message each way.
func stdScript(t testing.TB) *script {
	i, err := conformance.NewStdHandshake(conformance.BringUpStdConfig(conformance.RoleA))
	must(t, err)
	r, err := conformance.NewStdHandshake(conformance.BringUpStdConfig(conformance.RoleB))
	must(t, err)
	m1, err := i.WriteMessage(nil)
	must(t, err)
	_, err = r.ReadMessage(m1)
	must(t, err)
	m2, err := r.WriteMessage(nil)
	must(t, err)
	_, err = i.ReadMessage(m2)
	must(t, err)
	m3, err := i.WriteMessage(nil)
	must(t, err)
	_, err = r.ReadMessage(m3)
	must(t, err)
	keys, err := r.Keys()
	must(t, err)
	a, b := conformance.NewRecordCipher(keys.I2R, 0), conformance.NewRecordCipher(keys.R2I, 0)
	frame := func(m []byte) []byte {
		f, err := conformance.AppendFrame(nil, m)
		must(t, err)
		return f
	}
	s := &script{t: t}
	s.add(0, frame(m1)).add(1, frame(m2)).add(0, frame(m3))
	s.add(0, frame(a.Seal(nil, []byte("ping")))).add(1, frame(b.Seal(nil, []byte("pong"))))
	return s
}

func TestProfiles(t *testing.T) {
	tests := []struct {
		name    string
		profile Profile
		script  func(t testing.TB) *script
		fail    string // "" : the run must pass
		pass    []string
	}{
		{"noise-xk-run-passes-noise-xk", ProfileNoiseXK, stdScript, "", []string{SESS001, SESS002, SESS003, SESS004, SESS005, SESS006}},
		{"nexus-run-fails-noise-xk", ProfileNoiseXK, healthyScript, "handshake is not Noise XK: msg1 is 32 bytes with no length prefix (its first 4 bytes read ", nil},
		{"noise-xk-run-fails-nexus", ProfileNexus, stdScript, "node-a's msg1 is 52 bytes, nexus-v1's is 32 (a noise-xk msg1?)", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, _ := runScriptFlow(t, tt.script(t), 30)
			r := feed(t, Options{Profile: tt.profile}, b.frames)
			if tt.fail == "" {
				if !r.OK() {
					t.Fatalf("got failures, want none:\n%s", dump(r))
				}
				for _, id := range tt.pass {
					if v, ok := verdictOf(r, id); !ok || v != Pass {
						t.Errorf("got %s = %v, want pass:\n%s", id, v, dump(r))
					}
				}
				return
			}
			fd, ok := r.First(SESS002)
			if !ok || fd.Verdict != Fail || !strings.Contains(fd.Message, tt.fail) {
				t.Fatalf("got SESS-002 %v, want a failure saying %q:\n%s", fd, tt.fail, dump(r))
			}
			if tt.profile == ProfileNoiseXK {
				if _, ok := r.First(NX01); ok {
					t.Errorf("got an NX finding in the noise-xk profile, want none")
				}
			}
		})
	}
}

func TestParseProfile(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want Profile
		ok   bool
	}{{"nexus-v1", ProfileNexus, true}, {"noise-xk", ProfileNoiseXK, true}, {"noise-xk-std", ProfileNoiseXK, true}, {"xk", 0, false}} {
		got, err := ParseProfile(tt.in)
		if got != tt.want || (err == nil) != tt.ok {
			t.Errorf("got ParseProfile(%q) = %v, %v, want %v (ok %v)", tt.in, got, err, tt.want, tt.ok)
		}
	}
	if _, err := New(Options{Profile: 9}); err == nil {
		t.Errorf("got New with profile 9 = nil error, want one")
	}
}

func TestReportJSON(t *testing.T) {
	r := feed(t, Options{}, healthy(t, 1460).frames)
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var back struct {
		Profile  string
		Pass     int
		Fail     int
		Findings []struct {
			ID      string
			Verdict Verdict
			Frames  []int
			Message string
		}
	}
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Profile != "nexus-v1" || back.Pass != r.Pass || back.Fail != 0 || len(back.Findings) != len(r.Findings) {
		t.Fatalf("got %+v, want the report back", back)
	}
	if !strings.Contains(string(b), `"verdict":"pass"`) {
		t.Errorf("got %s, want verdicts by name", b)
	}
}

func TestFailuresComeFirst(t *testing.T) {
	s := newScript(t)
	s.add(0, s.Handshake[0]).add(0, s.step(1)).add(1, s.Handshake[1]).add(0, s.Handshake[2])
	r := feed(t, Options{}, runScript(t, s, 1460).frames)
	if len(r.Findings) == 0 || r.Findings[0].Verdict != Fail || r.Findings[0].ID != SESS003 {
		t.Fatalf("got first finding %v, want the SESS-003 failure that came first:\n%s", r.Findings[0], dump(r))
	}
	var text strings.Builder
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(text.String(), "\n")
	if !strings.HasPrefix(lines[0], "nexus-v1 check: FAIL: ") || !strings.HasPrefix(lines[1], "FAIL SESS-003") {
		t.Errorf("got report\n%s\nwant the verdict line, then the first failure", text.String())
	}
}

// stdFrame is m with the noise-xk profile's u32be length prefix.
func stdFrame(t *testing.T, m []byte) []byte {
	t.Helper()
	f, err := conformance.AppendFrame(nil, m)
	must(t, err)
	return f
}

// feedStd checks s's frames under the noise-xk profile.
func feedStd(t *testing.T, s *script) Report {
	t.Helper()
	b, _ := runScriptFlow(t, s, 1460)
	return feed(t, Options{Profile: ProfileNoiseXK}, b.frames)
}

// A noise-xk msg1 shorter than the spec's, with a consistent length prefix,
// is a SESS-002 size failure, not only an unreadable msg1.
func TestStdShortMsg1FailsSize(t *testing.T) {
	s := stdScript(t)
	m1 := s.msgs[0].data[conformance.FrameHeaderLen:]
	s.msgs[0].data = stdFrame(t, m1[:len(m1)-8])
	wantFindings(t, feedStd(t, s), want{id: SESS002, verdict: Fail, msg: "msg1 is 40 bytes, the spec's is 48"})
}

// A length prefix above 65535 on node-a's msg3 is judged at the end of the
// turn, naming the message: "msg3 has no valid u32be length prefix".
func TestStdMsg3BadLengthPrefixNamesMsg3(t *testing.T) {
	s := stdScript(t)
	binary.BigEndian.PutUint32(s.msgs[2].data, 0x00010000)
	wantFindings(t, feedStd(t, s), want{id: SESS002, verdict: Fail, msg: "node-a's msg3 has no valid u32be length prefix: it reads 65536"})
}

// A noise-xk transport message of exactly 65535 bytes is valid framing.
func TestStdMaxSizeFrameIsValid(t *testing.T) {
	s := stdScript(t)
	i, err := conformance.NewStdHandshake(conformance.BringUpStdConfig(conformance.RoleA))
	must(t, err)
	r, err := conformance.NewStdHandshake(conformance.BringUpStdConfig(conformance.RoleB))
	must(t, err)
	for k, h := range []*conformance.StdHandshake{i, r, i} {
		m, err := h.WriteMessage(nil)
		must(t, err)
		_, err = []*conformance.StdHandshake{r, i, r}[k].ReadMessage(m)
		must(t, err)
	}
	keys, err := r.Keys()
	must(t, err)
	big := conformance.NewRecordCipher(keys.I2R, 1).Seal(nil, make([]byte, conformance.MaxFrameLen-16))
	s.add(0, stdFrame(t, big))
	wantFindings(t, feedStd(t, s), want{id: SESS002, verdict: Fail, msg: "above the Noise maximum", absent: true})
}
