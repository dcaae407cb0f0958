package checker

import (
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"l2hub/conformance"
	"l2hub/conformance/conformancetest"
)

// want is a finding a session test requires (or, with absent, forbids):
// id, verdict and a part of the message.
type want struct {
	id      string
	verdict Verdict
	msg     string
	absent  bool
}

// checkFindings runs s and applies ws; failures dump the report.
func checkFindings(t *testing.T, s *script, ws ...want) Report {
	t.Helper()
	r := feed(t, Options{}, runScript(t, s, 1460).frames)
	wantFindings(t, r, ws...)
	return r
}

// wantFindings fails t unless r has a finding like each of ws (or, where
// absent, none like it).
func wantFindings(t *testing.T, r Report, ws ...want) {
	t.Helper()
	for _, w := range ws {
		found := false
		for _, f := range r.Findings {
			if f.ID == w.id && f.Verdict == w.verdict && strings.Contains(f.Message, w.msg) {
				found = true
				break
			}
		}
		switch {
		case w.absent && found:
			t.Errorf("got a %s %v finding containing %q, want none:\n%s", w.id, w.verdict, w.msg, dump(r))
		case !w.absent && !found:
			t.Errorf("got no %s %v finding containing %q:\n%s", w.id, w.verdict, w.msg, dump(r))
		}
	}
}

// TestProxyVerdictIgnoresMagic: node-a's verdict is §5.3's (status, length,
// p[3], p[4]); a reply without the SM/BN header passes it, with a warning.
func TestProxyVerdictIgnoresMagic(t *testing.T) {
	resolve, _ := conformance.AppendSMRequest(nil, conformance.SMOpResolveStatus, "bundlemgrd")
	foreign := []byte{0x58, 0x59, 0x09, 0x86, 0x00, 0, 0, 0, 0, 0, 0, 0, 0}
	s := newScript(t).handshake().ladder()
	s.add(0, s.Request(0, conformance.ServiceSamgr, resolve)).add(1, s.Response(conformance.ProxyStatusOK, foreign))
	s.add(0, s.Request(0, conformance.ServiceBundle, conformance.AppendBNRequest(nil, conformance.BNOpList)))
	s.add(1, s.Response(conformance.ProxyStatusOK, []byte("BN\x02\x81\x00\x01\x00\x00")))
	r := checkFindings(t, s,
		want{id: PROXY003, verdict: Warn, msg: "response to request 0 passes node-a's verdict, but its payload is not SM v1"},
		want{id: PROXY003, verdict: Warn, msg: "response to request 1 passes node-a's verdict, but its payload is not BN v1"},
		want{id: PROXY003, verdict: Fail, absent: true},
	)
	if !r.OK() {
		t.Errorf("got a failing report, want warnings only:\n%s", dump(r))
	}
}

// TestProxyVerdictStillFails: what node-a's verdict does check still fails.
func TestProxyVerdictStillFails(t *testing.T) {
	resolve, _ := conformance.AppendSMRequest(nil, conformance.SMOpResolveStatus, "bundlemgrd")
	wrongOp := conformance.AppendSMResponse(nil, conformance.SMStatusOK)
	wrongOp[3] = 0x81
	s := newScript(t).handshake().ladder()
	s.add(0, s.Request(0, conformance.ServiceSamgr, resolve)).add(1, s.Response(conformance.ProxyStatusOK, wrongOp))
	checkFindings(t, s, want{id: PROXY003, verdict: Fail, msg: "response op 0x81, want 0x86"})
}

// vector returns a value of the spec's vectors (conformance/testdata).
func vector(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "nexus-vectors.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, name+": "); ok {
			h, err := hex.DecodeString(strings.TrimSpace(v))
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			return h
		}
	}
	t.Fatalf("no vector %s", name)
	return nil
}

// TestUnknownServiceDenied: a request to a service outside 1..4 is §5.3's
// deny path; the spec's vectors nexus.neg01 and neg02 (n = 3) pass, and any
// other answer to it fails PROXY-002.
func TestUnknownServiceDenied(t *testing.T) {
	neg01 := vector(t, "nexus.neg01.a2b.n3.req_unknown_svc9.cipher")
	neg02 := vector(t, "nexus.neg02.b2a.n3.rsp_status1_empty.cipher")
	t.Run("neg01-neg02", func(t *testing.T) {
		s := newScript(t).handshake().ladder().add(0, neg01).add(1, neg02)
		r := checkFindings(t, s,
			want{id: PROXY001, verdict: Info, msg: "uses service id 9, outside 1..4"},
			want{id: PROXY001, verdict: Fail, absent: true},
			want{id: PROXY002, verdict: Pass, msg: "answered as node-b's gate says: 1"},
		)
		if !r.OK() {
			t.Errorf("got a failing report, want a pass:\n%s", dump(r))
		}
	})
	t.Run("answered-status-1-with-payload", func(t *testing.T) {
		s := newScript(t).handshake().ladder()
		s.add(0, s.Request(0, 9, nil)).add(1, s.Response(conformance.ProxyStatusFail, []byte{0}))
		checkFindings(t, s, want{id: PROXY002, verdict: Fail, msg: "with status 1 and 1 payload bytes: a deny is status 1 with no payload"})
	})
	t.Run("answered-status-0", func(t *testing.T) {
		s := newScript(t).handshake().ladder()
		s.add(0, s.Request(0, 200, nil)).add(1, s.Response(conformance.ProxyStatusOK, nil))
		checkFindings(t, s, want{id: PROXY002, verdict: Fail, msg: "(service 200, service=unknown) with status 0"})
	})
}

// TestNonZeroPadding: a sender that does not zero the plaintext after the
// payload (§5.1) gets a MUX-004 warning; node-b ignores the padding, so the
// request is still answered and the report passes.
func TestNonZeroPadding(t *testing.T) {
	resolve, _ := conformance.AppendSMRequest(nil, conformance.SMOpResolveStatus, "bundlemgrd")
	s := newScript(t).handshake().ladder()
	plain, err := conformance.AppendRecordPlain(nil, conformance.RequestRecord, conformance.ServiceSamgr, resolve)
	must(t, err)
	for i := 3 + len(resolve); i < len(plain); i++ {
		plain[i] = 0xaa
	}
	reply, _ := conformance.BringUpBackend{}.Serve(conformance.ServiceSamgr, resolve)
	s.add(0, s.Send[0].Seal(nil, plain)).add(1, s.Response(conformance.ProxyStatusOK, reply))
	r := checkFindings(t, s,
		want{id: MUX004, verdict: Warn, msg: "node-a's request 0: request record: 241 of 241 padding bytes are not zero, the first at offset 18 (0xaa)"},
		want{id: PROXY003, verdict: Pass, msg: "pass node-a's verdict: 1"},
	)
	if !r.OK() {
		t.Errorf("got a failing report, want warnings only:\n%s", dump(r))
	}
}

// listReq is the bring-up bundle list request payload.
func listReq() []byte { return conformance.AppendBNRequest(nil, conformance.BNOpList) }

// answer is node-b's bring-up answer to a list request.
func (s *script) answer() *script {
	reply, _ := conformance.BringUpBackend{}.Serve(conformance.ServiceBundle, listReq())
	return s.add(1, s.Response(conformance.ProxyStatusOK, reply))
}

// TestNodeBReceiveNonce: node-b's receive nonce advances only on records it
// decrypts (§5.1), so it cannot answer a record sealed past a nonce missing
// from the stream; the checker still follows node-a past the gap.
func TestNodeBReceiveNonce(t *testing.T) {
	t.Run("gap-answered", func(t *testing.T) {
		s := newScript(t).handshake().ladder()
		_ = s.Request(0, conformance.ServiceBundle, listReq()) // n=3, never on the wire
		s.add(0, s.Request(0, conformance.ServiceBundle, listReq())).answer()
		checkFindings(t, s,
			want{id: MUX003, verdict: Warn, msg: "node-a's request 0 decrypts at n=4, but node-b's receive nonce is 3: node-b cannot decrypt it"},
			want{id: PROXY002, verdict: Fail, msg: "node-b answered request 0, sealed at n=4, which it could not have decrypted: its receive nonce was 3"},
		)
	})
	t.Run("gap-not-answered", func(t *testing.T) {
		s := newScript(t).handshake().ladder()
		_ = s.Request(0, conformance.ServiceBundle, listReq())
		s.add(0, s.Request(0, conformance.ServiceBundle, listReq()))
		r := checkFindings(t, s,
			want{id: PROXY002, verdict: Pass, msg: "answered as node-b's gate says: 1"},
			want{id: PROXY002, verdict: Warn, msg: "no response", absent: true},
		)
		if !r.OK() {
			t.Errorf("got a failing report, want warnings only:\n%s", dump(r))
		}
	})
	t.Run("tampered-then-genuine-at-the-same-nonce", func(t *testing.T) {
		s := newScript(t).handshake().ladder()
		bad := s.Request(0, conformance.ServiceBundle, listReq())
		bad[10] ^= 1
		s.Send[0].SetNonce(3) // the tampering happened in transit; node-a's record at n=3 follows
		s.add(0, bad).add(0, s.Request(0, conformance.ServiceBundle, listReq())).answer()
		checkFindings(t, s,
			want{id: MUX003, verdict: Fail, msg: "does not authenticate with k_i2r at n=3..6"},
			want{id: PROXY002, verdict: Pass, msg: "answered as node-b's gate says: 1"},
			want{id: PROXY003, verdict: Pass, msg: "pass node-a's verdict: 1"},
			want{id: PROXY002, verdict: Fail, absent: true},
		)
	})
	t.Run("injected-record-skipped", func(t *testing.T) {
		// A record forged with the public bring-up keys at n=5, ahead of
		// node-b's 4: node-b skips it and answers node-a's records at 4 and 5.
		s := newScript(t).handshake().ladder()
		s.add(0, s.Request(0, conformance.ServiceBundle, listReq())).answer() // n=3
		forged := conformance.NewRecordCipher(s.Keys.I2R, 5)
		fw, err := forged.SealRecord(nil, conformance.RequestRecord, conformance.ServiceBundle, listReq())
		must(t, err)
		s.add(0, fw)
		s.add(0, s.Request(0, conformance.ServiceBundle, listReq())).answer() // n=4
		s.add(0, s.Request(0, conformance.ServiceBundle, listReq())).answer() // n=5
		r := checkFindings(t, s,
			want{id: MUX003, verdict: Warn, msg: "node-a's request 1 decrypts at n=5, but node-b's receive nonce is 4"},
			want{id: PROXY002, verdict: Pass, msg: "answered as node-b's gate says: 4"},
			want{id: PROXY003, verdict: Pass, msg: "pass node-a's verdict: 3"},
		)
		if !r.OK() {
			t.Errorf("got a failing report, want warnings only:\n%s", dump(r))
		}
	})
	t.Run("ladder-gap", func(t *testing.T) {
		s := newScript(t).handshake()
		_ = s.step(1) // n=0, never on the wire
		s.add(0, s.Request(0, 0x31, nil))
		checkFindings(t, s, want{id: MUX002, verdict: Fail, msg: "node-a's ladder step 1 is sealed at n=1, but node-b's receive nonce is 0"})
	})
}

// TestNodeAReceiveNonce: node-a's receive nonce for node-b's records is
// modelled as node-b's is (§5.1), so a record of node-b sealed past a nonce
// missing from the stream is one node-a cannot decrypt.
func TestNodeAReceiveNonce(t *testing.T) {
	t.Run("ladder-gap", func(t *testing.T) {
		s := newScript(t).handshake()
		s.add(0, s.step(1))
		_ = s.Request(1, 0x99, nil) // node-b's n=0, never on the wire
		for n := 2; n <= 6; n++ {
			s.add((n+1)%2, s.step(n))
		}
		s.proxy()
		r := checkFindings(t, s,
			want{id: MUX002, verdict: Fail, msg: "node-b's ladder step 2 is sealed at n=1, but node-a's receive nonce is 0: node-a cannot decrypt it"},
			want{id: MUX002, verdict: Pass, absent: true},
		)
		if r.OK() {
			t.Errorf("got a passing report, want a failure:\n%s", dump(r))
		}
	})
	t.Run("response-gap", func(t *testing.T) {
		s := newScript(t).handshake().ladder()
		s.add(0, s.Request(0, conformance.ServiceBundle, listReq()))
		_ = s.Response(0, nil) // node-b's n=3, never on the wire
		s.answer()
		checkFindings(t, s,
			want{id: MUX003, verdict: Warn, msg: "node-b's response 0 decrypts at n=4, but node-a's receive nonce is 3: node-a cannot decrypt it"},
			want{id: PROXY003, verdict: Fail, msg: "node-a cannot decrypt response 0 (to request 0): it is sealed at n=4, but node-a's receive nonce is 3"},
			want{id: PROXY003, verdict: Pass, absent: true},
		)
	})
}

// TestFirstRecordNonce: SESS-006 passes only when each side's first record
// decrypts at n=0 (§5.1).
func TestFirstRecordNonce(t *testing.T) {
	for side := range 2 {
		t.Run([]string{"node-a", "node-b"}[side], func(t *testing.T) {
			s := newScript(t).handshake()
			if side == 0 {
				_ = s.step(1) // node-a's n=0, never on the wire
				s.add(0, s.Request(0, 0x31, nil)).add(1, s.step(2))
			} else {
				s.add(0, s.step(1))
				_ = s.Request(1, 0x99, nil) // node-b's n=0, never on the wire
				s.add(1, s.step(2))
			}
			checkFindings(t, s,
				want{id: SESS006, verdict: Fail, msg: "decrypts with " + []string{"k_i2r", "k_r2i"}[side] + " at n=1, not 0"},
				want{id: SESS006, verdict: Pass, absent: true},
			)
		})
	}
}

// TestProxyRecordSize: a proxy-phase record of the other class's size is a
// MUX-001 failure at its own frame (§5.1: records are 275 and 531 bytes),
// and the records after it are still read one by one, without false
// MUX-003 or PROXY findings.
func TestProxyRecordSize(t *testing.T) {
	reply, _ := conformance.BringUpBackend{}.Serve(conformance.ServiceBundle, listReq())
	quiet := []want{
		{id: MUX003, verdict: Fail, absent: true},
		{id: PROXY001, verdict: Warn, absent: true},
		{id: PROXY002, verdict: Fail, absent: true},
		{id: PROXY002, verdict: Warn, absent: true},
		{id: PROXY003, verdict: Fail, absent: true},
	}
	t.Run("275-byte-response", func(t *testing.T) {
		s := newScript(t).handshake().ladder()
		s.add(0, s.Request(0, conformance.ServiceBundle, listReq()))
		s.add(1, s.Request(1, 0, reply)) // sealed as a 275-byte record
		s.add(0, s.Request(0, conformance.ServiceBundle, listReq())).answer()
		checkFindings(t, s, append(quiet,
			want{id: MUX001, verdict: Fail, msg: "node-b's response 0 is 275 bytes, nexus-v1 records are exactly 531"},
			want{id: PROXY003, verdict: Pass, msg: "pass node-a's verdict: 1"})...)
	})
	t.Run("531-byte-request", func(t *testing.T) {
		s := newScript(t).handshake().ladder()
		w, err := s.Send[0].SealRecord(nil, conformance.ResponseRecord, conformance.ServiceBundle, listReq())
		must(t, err)
		s.add(0, w).add(0, s.Request(0, conformance.ServiceBundle, listReq())).answer()
		checkFindings(t, s, append(quiet,
			want{id: MUX001, verdict: Fail, msg: "node-a's request 0 is 531 bytes, nexus-v1 records are exactly 275"},
			want{id: PROXY003, verdict: Pass, msg: "pass node-a's verdict: 1"})...)
	})
	t.Run("tampered-request-last", func(t *testing.T) {
		s := newScript(t).handshake().ladder().request(conformance.ServiceBundle, listReq())
		bad := s.Request(0, conformance.ServiceBundle, listReq())
		bad[10] ^= 1
		s.add(0, bad)
		checkFindings(t, s,
			want{id: MUX003, verdict: Fail, msg: "node-a's request 1 does not authenticate"},
			want{id: MUX001, verdict: Fail, absent: true},
			want{id: MUX001, verdict: Warn, absent: true})
	})
}

// TestCutRecord: a stream that ends inside a proxy-phase record is one
// MUX-001 finding naming the record it ends in: a warning while the
// connection is open (the capture may have stopped first), a failure once
// it is closed (the record never completed). A response that does not authenticate at 275 bytes is the start of a
// 531-byte one (it is not judged as a request, nor with k_i2r); a request
// that does not is a 275-byte record that fails (MUX-003), and the bytes
// after it start the next request.
func TestCutRecord(t *testing.T) {
	reply, _ := conformance.BringUpBackend{}.Serve(conformance.ServiceBundle, listReq())
	for _, n := range []int{200, conformance.RequestRecordLen, 400, conformance.ResponseRecordLen - 1} {
		t.Run("response-"+itoa(n), func(t *testing.T) {
			s := newScript(t).handshake().ladder()
			s.add(0, s.Request(0, conformance.ServiceBundle, listReq()))
			s.add(1, s.Response(conformance.ProxyStatusOK, reply)[:n])
			r := checkFindings(t, s,
				want{id: MUX001, verdict: Warn, msg: "node-b's stream ends " + itoa(n) + " bytes into response 0 (531 bytes)"},
				want{id: MUX001, verdict: Warn, msg: "response 1", absent: true},
				want{id: MUX001, verdict: Fail, absent: true},
				want{id: MUX003, verdict: Fail, absent: true})
			if r.Fail != 0 {
				t.Errorf("got %d failures, want none:\n%s", r.Fail, dump(r))
			}
		})
	}
	t.Run("tampered-request-then-100", func(t *testing.T) {
		s := newScript(t).handshake().ladder().request(conformance.ServiceBundle, listReq())
		bad := s.Request(0, conformance.ServiceBundle, listReq())
		bad[10] ^= 1
		next := s.Request(0, conformance.ServiceBundle, listReq())
		s.add(0, append(bad, next[:100]...))
		checkFindings(t, s,
			want{id: MUX003, verdict: Fail, msg: "node-a's request 1 does not authenticate with k_i2r at n=4..7"},
			want{id: MUX001, verdict: Warn, msg: "node-a's stream ends 100 bytes into request 2 (275 bytes)"},
			want{id: MUX001, verdict: Fail, absent: true})
	})
	closed := []struct {
		name string
		msgs func(s *script) *script
		want []string // every failure and warning, exactly
	}{
		{"closed/response-400", func(s *script) *script {
			s.add(0, s.Request(0, conformance.ServiceBundle, listReq()))
			return s.add(1, s.Response(conformance.ProxyStatusOK, reply)[:400])
		}, []string{
			"fail MUX-001 node-b's stream ends 400 bytes into response 0 (531 bytes)",
			"warn PROXY-002 no response to request 0 (service=bundlemgrd) on 10.42.0.10:40010->10.42.0.11:34568",
		}},
		{"closed/request-100", func(s *script) *script {
			return s.add(0, s.Request(0, conformance.ServiceBundle, listReq())[:100])
		}, []string{
			"fail MUX-001 node-a's stream ends 100 bytes into request 0 (275 bytes)",
			"warn PROXY-001 no proxy request followed the ladder on 10.42.0.10:40010->10.42.0.11:34568",
		}},
	}
	for _, tc := range closed {
		t.Run(tc.name, func(t *testing.T) {
			b, f := runScriptFlow(t, tc.msgs(newScript(t).handshake().ladder()), 1460)
			f.close(1)
			f.close(0)
			r := feed(t, Options{}, b.frames)
			var got []string
			for _, fd := range r.Findings {
				if fd.Verdict == Fail || fd.Verdict == Warn {
					got = append(got, fd.Verdict.String()+" "+fd.ID+" "+fd.Message)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got failures and warnings %q, want %q:\n%s", got, tc.want, dump(r))
			}
		})
	}
}

// TestEarlyAfterSizedRecord: a message started before the peer's is
// judged when its sender's turn ends (endTurn). A proxy-phase record is not
// always its planned size (§5.1; it is as long as where it authenticates),
// so that judgement goes by the record as cut: an early response that is
// complete at 275 bytes is an order error, not a sign that the message
// before it was too long (which stopped the checker reading node-b), and a
// message before the early one is sized as it was read.
func TestEarlyAfterSizedRecord(t *testing.T) {
	t.Run("275-byte-response-early", func(t *testing.T) {
		// node-b sends ladder steps 4 and 6 and a 275-byte response 0 while
		// node-a's ladder step 3 is still coming in; it answers request 0
		// with response 1 as usual.
		reply, _ := conformance.BringUpBackend{}.Serve(conformance.ServiceBundle, listReq())
		s := newScript(t).handshake()
		s.add(0, s.step(1)).add(1, s.step(2))
		st3, st4, st5, st6 := s.step(3), s.step(4), s.step(5), s.step(6)
		rsp := s.Request(1, 0, reply) // sealed as a 275-byte record
		s.add(0, st3[:100]).add(1, st4).add(0, st3[100:200])
		s.add(1, append(slices.Clone(st6), rsp...)).add(0, st3[200:])
		s.add(0, st5).request(conformance.ServiceBundle, listReq())
		r := checkFindings(t, s,
			want{id: MUX001, verdict: Fail, msg: "node-b's response 0 is 275 bytes, nexus-v1 records are exactly 531"},
			want{id: PROXY002, verdict: Warn, absent: true},
			want{id: PROXY003, verdict: Pass, msg: "pass node-a's verdict: 1"})
		if f, _ := r.First(MUX001); f.Count != 0 {
			t.Errorf("got MUX-001 %d times, want once (response 0's size):\n%s", f.Count, dump(r))
		}
	})
	t.Run("100-bytes-after-531-byte-request", func(t *testing.T) {
		// node-a sends ladder step 5 and a 531-byte request 0 while node-b's
		// ladder step 4 is coming in, then 100 bytes of request 1 before
		// node-b's step 6: request 0 read as it was cut is 631 bytes. The
		// report folds that into request 0's own MUX-001 (531 bytes), so
		// the end-of-stream judgement is read on its own.
		s := newScript(t).handshake()
		s.add(0, s.step(1)).add(1, s.step(2)).add(0, s.step(3))
		st4, st5 := s.step(4), s.step(5)
		big, err := s.Send[0].SealRecord(nil, conformance.ResponseRecord, conformance.ServiceBundle, listReq())
		must(t, err)
		next := s.Request(0, conformance.ServiceBundle, listReq())
		s.add(1, st4[:100]).add(0, append(slices.Clone(st5), big[:300]...))
		s.add(1, st4[100:]).add(0, append(slices.Clone(big[300:]), next[:100]...))
		c, err := New(Options{})
		must(t, err)
		defer c.Close()
		conn := c.tcp.open(connKey{hostAP(conformance.RoleA, 40010), hostAP(conformance.RoleB, 34568)}, &Frame{Number: 1}, false)
		for i, m := range s.msgs {
			conn.sess.data(m.side, m.data, i+2)
		}
		a := newAgg()
		conn.sess.end(a)
		const want = "node-a's request 0 is 631 bytes, nexus-v1 records are exactly 275"
		var got []string
		for _, f := range a.findings() {
			if f.ID == MUX001 {
				got = append(got, f.Verdict.String()+" "+f.Message)
			}
		}
		if len(got) != 1 || got[0] != "fail "+want {
			t.Errorf("got MUX-001 findings %q at the end of the stream, want one: fail %q", got, want)
		}
	})
}

// TestGarbageRecordsSkipped: node-b skips a record that fails to
// authenticate without advancing its receive nonce (§5.1), however many
// come in a row, and answers the genuine records after them. The checker,
// which stops searching past its counter after maxBadRecords failures,
// still reads each record at the receive nonce, so it reads the requests
// node-b answers and judges their responses: no response is unasked.
func TestGarbageRecordsSkipped(t *testing.T) {
	for _, k := range []int{1, maxBadRecords, 17} {
		t.Run(itoa(k), func(t *testing.T) {
			s := newScript(t).handshake().ladder()
			for i := range k {
				junk := make([]byte, conformance.RequestRecordLen)
				for j := range junk {
					junk[j] = byte(i*31 + j*7 + 1)
				}
				s.add(0, junk)
			}
			s.proxy()
			n := len(conformance.BringUpRequests())
			ws := []want{
				{id: MUX003, verdict: Fail, msg: "node-a's request 0 does not authenticate with k_i2r at n=3..6"},
				{id: PROXY002, verdict: Fail, absent: true},
				{id: PROXY003, verdict: Fail, absent: true},
				{id: PROXY002, verdict: Pass, msg: "answered as node-b's gate says: " + itoa(n)},
				{id: PROXY003, verdict: Pass, msg: "pass node-a's verdict: " + itoa(n)},
			}
			if k >= maxBadRecords {
				ws = append(ws, want{id: MUX003, verdict: Info, msg: "authenticates at n=3 after " + itoa(k) + " messages that did not"})
			}
			r := checkFindings(t, s, ws...)
			if fd, ok := findingWith(r, MUX003, "does not authenticate"); ok && fd.Count != k && !(k == 1 && fd.Count == 0) {
				t.Errorf("got %v, want each of the %d garbage records counted", fd, k)
			}
		})
	}
}

// TestOutstandingRequestsBounded: the checker keeps at most maxPending
// unanswered requests per connection and says how many it let go.
func TestOutstandingRequestsBounded(t *testing.T) {
	s := newScript(t).handshake().ladder()
	req := conformance.BringUpRequests()[0]
	for range maxPending + 6 {
		s.add(0, s.Request(0, req.Service, req.Payload))
	}
	checkFindings(t, s, want{id: PROXY002, verdict: Warn,
		msg: fmt.Sprintf("more than %d requests outstanding on 10.42.0.10:40010->10.42.0.11:34568: 6 were not matched", maxPending)})
}

// nexusTranscript runs a nexus-v1 handshake with the given ephemerals (the
// zero KeyPair keeps a node's bring-up one) and returns msg1..msg3.
func nexusTranscript(t *testing.T, ea, eb conformance.KeyPair) [3][]byte {
	t.Helper()
	ca, cb := conformance.BringUpNexusConfig(conformance.RoleA), conformance.BringUpNexusConfig(conformance.RoleB)
	if ea != (conformance.KeyPair{}) {
		ca.Ephemeral = ea
	}
	if eb != (conformance.KeyPair{}) {
		cb.Ephemeral = eb
	}
	return conformancetest.NewTranscriptOf(t, ca, cb).Handshake
}

// A transcript neither of whose ephemerals is a bring-up key cannot be
// checked: SESS-004 must say so with a warning, not pass it quietly.
func TestUndecryptableTranscriptWarns(t *testing.T) {
	hs := nexusTranscript(t, conformance.BringUpKeyPair(0x42, 1), conformance.BringUpKeyPair(0x43, 2))
	s := newScript(t).add(0, hs[0]).add(1, hs[1]).add(0, hs[2])
	checkFindings(t, s,
		want{id: SESS004, verdict: Warn, msg: "cannot be decrypted passively"},
		want{id: SESS004, verdict: Pass, absent: true})
}

// When node-b's ephemeral is not its bring-up one, the transcript is
// verified from node-a's side: a msg3 that is not what node-a's bring-up
// keys give must fail SESS-004, not verify.
func TestNexusMsg3CheckedFromNodeASide(t *testing.T) {
	hs := nexusTranscript(t, conformance.KeyPair{}, conformance.BringUpKeyPair(0x43, 2))
	m3 := append([]byte(nil), hs[2]...)
	m3[40] ^= 1
	s := newScript(t).add(0, hs[0]).add(1, hs[1]).add(0, m3)
	checkFindings(t, s,
		want{id: SESS004, verdict: Fail, msg: "msg3 is not what node-a's bring-up keys give"},
		want{id: SESS004, verdict: Pass, absent: true})
}

// A request sealed maxNonceSkip nonces past node-b's receive nonce is still
// found at its 275 bytes (the checker's window includes n+maxNonceSkip): a
// MUX-003 warning at n=6, not a record left waiting for 531 bytes at the
// end of the capture.
func TestRequestAtEdgeOfNonceWindowIsSized(t *testing.T) {
	s := newScript(t).handshake().ladder()
	for range maxNonceSkip {
		_ = s.Request(0, conformance.ServiceBundle, listReq()) // never on the wire
	}
	s.add(0, s.Request(0, conformance.ServiceBundle, listReq())) // the capture's last record
	checkFindings(t, s,
		want{id: MUX003, verdict: Warn, msg: "node-a's request 0 decrypts at n=6, but node-b's receive nonce is 3"},
		want{id: MUX001, verdict: Fail, absent: true})
}
