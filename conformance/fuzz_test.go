package conformance

import (
	"bytes"
	"errors"
	"testing"
)

func FuzzParseAnnounce(f *testing.F) {
	for _, r := range []Role{RoleA, RoleB} {
		b, _ := r.Announce().MarshalBinary()
		f.Add(b)
		f.Add(append(b, 0xff, 0xfe))
	}
	big, _ := maxAnnounce().MarshalBinary()
	f.Add(big)
	f.Add([]byte("NXSB\x01\x00"))
	f.Add([]byte("NXSB\x01\x02\xc3\x28"))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := ParseAnnounce(b)
		if err != nil {
			return
		}
		// Accepted packets re-encode to exactly the bytes consumed.
		enc, err := a.MarshalBinary()
		if err != nil {
			t.Fatalf("decoded %+v but cannot encode it: %v", a, err)
		}
		if !bytes.HasPrefix(b, enc) {
			t.Fatalf("re-encoding %x is not a prefix of the input %x", enc, b)
		}
		if _, err := ParseReceivedAnnounce(b); (err == nil) != (len(enc) <= AnnounceRecvLimit) {
			t.Fatalf("ParseReceivedAnnounce error %v for a %d-byte packet", err, len(enc))
		}
	})
}

func FuzzParseBatch(f *testing.F) {
	for _, s := range Ladder() {
		p, _ := s.Payload()
		f.Add(p)
	}
	f.Add([]byte("MX\x01\x09"))
	f.Fuzz(func(t *testing.T, b []byte) {
		events, err := ParseBatch(b)
		if err != nil {
			return
		}
		enc, err := AppendBatch(nil, events)
		if err != nil || !bytes.Equal(enc, b) {
			t.Fatalf("ParseBatch(%x) = %+v, re-encodes to %x, %v", b, events, enc, err)
		}
	})
}

func FuzzProxyFrames(f *testing.F) {
	resolve, _ := AppendSMRequest(nil, SMOpResolveStatus, "bundlemgrd")
	f.Add(resolve)
	f.Add(AppendSMResponse(nil, 0))
	f.Add(AppendBNRequest(nil, BNOpList))
	f.Add(AppendBNResponse(nil, BNResponse{Count: 1}))
	f.Add([]byte("SM\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if r, err := ParseSMRequest(b); err == nil {
			enc, err := AppendSMRequest(nil, r.Op, r.Name)
			if err == nil && !bytes.Equal(enc, b) {
				t.Fatalf("SM request %x re-encodes to %x", b, enc)
			}
		}
		_, _ = ParseSMResponse(b)
		_, _ = ParseBNRequest(b)
		if r, err := ParseBNResponse(b); err == nil && r.Count != uint16(b[5])|uint16(b[6])<<8 {
			t.Fatalf("BN count %d from %x", r.Count, b)
		}
		for _, svc := range []byte{ServiceSamgr, ServiceBundle} {
			err := CheckProxyResponse(svc, Record{Payload: b})
			_ = CheckProxyResponseHeader(svc, b)
			if len(b) >= 3 { // magic and version never change the verdict (§5.3)
				other := append([]byte{b[0] ^ 0xff, b[1] ^ 0xff, b[2] ^ 0xff}, b[3:]...)
				if err2 := CheckProxyResponse(svc, Record{Payload: other}); (err == nil) != (err2 == nil) {
					t.Fatalf("svc %d: verdict on %x is %v, on %x %v: magic or version changed it", svc, b, err, other, err2)
				}
			}
		}
	})
}

func FuzzGateRequest(f *testing.F) {
	resolve, _ := AppendSMRequest(nil, SMOpResolveStatus, "bundlemgrd")
	f.Add(byte(1), uint16(len(resolve)), resolve)
	f.Add(byte(9), uint16(0), []byte(nil))
	f.Add(byte(1), uint16(300), []byte("SM\x01"))
	f.Fuzz(func(t *testing.T, svc byte, declared uint16, payload []byte) {
		if len(payload) > MaxRequestPayload {
			payload = payload[:MaxRequestPayload]
		}
		plain := appendRecordPlain(nil, RequestRecord, svc, declared, payload)
		d := GateRequest(plain)
		switch {
		case declared > MaxRequestPayload && d.Action != GateDrop:
			t.Fatalf("declared %d: action %v, want drop", declared, d.Action)
		case declared <= MaxRequestPayload && d.Action == GateDrop:
			t.Fatalf("declared %d: dropped", declared)
		case d.Action == GateForward && (svc < ServiceSamgr || svc > ServiceStateFS):
			t.Fatalf("service %d forwarded", svc)
		case d.Action == GateForward && len(d.Payload) != int(declared):
			t.Fatalf("forwarded %d bytes, declared %d", len(d.Payload), declared)
		}
	})
}

func FuzzOpenRecord(f *testing.F) {
	_, keys, _ := nexusHandshake(f, BringUpNexusConfig(RoleA), BringUpNexusConfig(RoleB))
	genuine, _ := NewRecordCipher(keys.I2R, 0).SealRecord(nil, RequestRecord, KindOpenBatch, nil)
	f.Add(genuine, false)
	f.Add(genuine[:100], false)
	f.Add(make([]byte, ResponseRecordLen), true)
	f.Fuzz(func(t *testing.T, wire []byte, response bool) {
		class := RequestRecord
		if response {
			class = ResponseRecord
		}
		c := NewRecordCipher(keys.I2R, 0)
		_, err := c.OpenRecord(class, wire)
		switch {
		case err == nil && (class != RequestRecord || !bytes.Equal(wire, genuine)):
			t.Fatalf("forged %s record of %d bytes opened", class, len(wire))
		case err != nil && c.Nonce() != 0:
			t.Fatalf("failed open moved the nonce to %d", c.Nonce())
		case err != nil && !errors.Is(err, ErrDecrypt) && !errors.Is(err, ErrBadLength):
			t.Fatalf("unexpected error class: %v", err)
		}
	})
}

func FuzzNexusHandshakeReaders(f *testing.F) {
	a, b := BringUpNexusConfig(RoleA), BringUpNexusConfig(RoleB)
	msgs, _, _ := nexusHandshake(f, a, b)
	f.Add(msgs[0], msgs[1], msgs[2])
	f.Add(make([]byte, 32), msgs[1][:95], msgs[2][1:])
	f.Fuzz(func(t *testing.T, m1, m2, m3 []byte) {
		// Responder: msg1 then msg3. Only A's genuine messages may succeed.
		r := NewNexusResponder(b)
		if err := r.ReadMsg1(m1); err == nil {
			if _, err := r.WriteMsg2(); err != nil {
				t.Fatalf("WriteMsg2 after an accepted msg1: %v", err)
			}
			if err := r.ReadMsg3(m3); err == nil && !bytes.Equal(m1, msgs[0]) {
				t.Fatalf("msg3 accepted after a foreign msg1 %x", m1)
			}
		}
		// Initiator: msg2. Only B's genuine msg2 authenticates.
		i := NewNexusInitiator(a)
		_, _ = i.WriteMsg1()
		if err := i.ReadMsg2(m2); err == nil && !bytes.Equal(m2, msgs[1]) {
			t.Fatalf("forged msg2 %x accepted", m2)
		}
		_ = ClassifyHandshake(ProfileNexus, true, m1)
	})
}

func FuzzStdHandshakeReaders(f *testing.F) {
	msgs, _, _ := stdHandshake(f, BringUpStdConfig(RoleA), BringUpStdConfig(RoleB))
	f.Add(msgs[0], msgs[1], msgs[2])
	f.Add(msgs[0][:32], msgs[1], make([]byte, 64))
	f.Fuzz(func(t *testing.T, m1, m2, m3 []byte) {
		r, _ := NewStdHandshake(BringUpStdConfig(RoleB))
		if _, err := r.ReadMessage(m1); err == nil {
			if _, err := r.WriteMessage(nil); err != nil {
				t.Fatalf("WriteMessage after an accepted msg1: %v", err)
			}
			if _, err := r.ReadMessage(m3); err == nil && (!bytes.Equal(m1, msgs[0]) || !r.Done()) {
				t.Fatalf("msg3 accepted after foreign msg1 %x", m1)
			}
		}
		i, _ := NewStdHandshake(BringUpStdConfig(RoleA))
		_, _ = i.WriteMessage(nil)
		if _, err := i.ReadMessage(m2); err == nil && !bytes.Equal(m2[:32], msgs[1][:32]) {
			// Any ephemeral would do cryptographically only with B's static
			// private key; a forged one must fail.
			t.Fatalf("forged std msg2 %x accepted", m2)
		}
	})
}

func FuzzParseFrame(f *testing.F) {
	f.Add([]byte{0, 0, 0, 4, 'p', 'i', 'n', 'g', 0})
	f.Add([]byte{0, 1, 0, 0})
	f.Add([]byte{0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		msg, rest, err := ParseFrame(b)
		rmsg, rerr := ReadFrame(bytes.NewReader(b), make([]byte, MaxFrameLen))
		if (err == nil) != (rerr == nil) {
			t.Fatalf("ParseFrame error %v, ReadFrame error %v", err, rerr)
		}
		if err != nil {
			return
		}
		if !bytes.Equal(msg, rmsg) || len(msg)+len(rest)+FrameHeaderLen != len(b) {
			t.Fatalf("ParseFrame = %x + rest %x; ReadFrame = %x", msg, rest, rmsg)
		}
		re, _ := AppendFrame(nil, msg)
		if !bytes.HasPrefix(b, re) {
			t.Fatalf("re-framing %x is not a prefix of %x", re, b)
		}
	})
}
