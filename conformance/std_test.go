package conformance

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/flynn/noise"
)

// stdHandshake runs the noise-xk-std handshake on two configs.
func stdHandshake(t testing.TB, a, b StdConfig) (msgs [3][]byte, ka, kb SessionKeys) {
	t.Helper()
	ini, err := NewStdHandshake(a)
	if err != nil {
		t.Fatal(err)
	}
	rsp, err := NewStdHandshake(b)
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct{ w, r *StdHandshake }{{ini, rsp}, {rsp, ini}, {ini, rsp}}
	for i, s := range steps {
		if msgs[i], err = s.w.WriteMessage(nil); err != nil {
			t.Fatalf("write msg%d: %v", i+1, err)
		}
		if p, err := s.r.ReadMessage(msgs[i]); err != nil || len(p) != 0 {
			t.Fatalf("read msg%d: payload %x, %v", i+1, p, err)
		}
	}
	if !ini.Done() || !rsp.Done() {
		t.Fatalf("Done() = %v, %v after three messages", ini.Done(), rsp.Done())
	}
	ka, _ = ini.Keys()
	kb, _ = rsp.Keys()
	return msgs, ka, kb
}

func testVectorsStdHandshake(t *testing.T, vs *vectorSet) {
	msgs, ka, kb := stdHandshake(t, BringUpStdConfig(RoleA), BringUpStdConfig(RoleB))
	for i, m := range msgs {
		name := []string{"std.msg1", "std.msg2", "std.msg3"}[i]
		vs.expectEqual(t, name, m, name)
		framed, err := AppendFrame(nil, m)
		if err != nil {
			t.Fatal(err)
		}
		vs.expectEqual(t, "AppendFrame("+name+")", framed, name+".framed")
		if got, rest, err := ParseFrame(framed); err != nil || !bytes.Equal(got, m) || len(rest) != 0 {
			t.Errorf("ParseFrame(%s.framed) = %x, rest %x, %v", name, got, rest, err)
		}
	}
	if ka != kb {
		t.Errorf("initiator keys %x != responder keys %x", ka, kb)
	}
	vs.expectEqual(t, "std HandshakeHash", ka.HandshakeHash[:], "std.handshake_hash")
	vs.expectEqual(t, "std I2R", ka.I2R[:], "std.k_i2r")
	vs.expectEqual(t, "std R2I", ka.R2I[:], "std.k_r2i")
	// Every byte after E_A differs from nexus-v1 (§4.8).
	if ea := RoleA.EphemeralKey().Public; !bytes.Equal(msgs[0][:32], ea[:]) {
		t.Errorf("std msg1 does not start with E_A")
	}
}

func testVectorsStdTransport(t *testing.T, vs *vectorSet) {
	_, keys, _ := stdHandshake(t, BringUpStdConfig(RoleA), BringUpStdConfig(RoleB))
	tests := []struct {
		name string
		key  [32]byte
	}{
		{"std.t01.a2b.n0", keys.I2R},
		{"std.t02.b2a.n0", keys.R2I},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plain := vs.bytes(t, tt.name+".plain")
			framed, err := AppendFrame(nil, NewRecordCipher(tt.key, 0).Seal(nil, plain))
			if err != nil {
				t.Fatal(err)
			}
			vs.expectEqual(t, "framed transport message", framed, tt.name+".framed")
			// Differential: flynn/noise's own CipherState agrees.
			cs := noise.UnsafeNewCipherState(stdSuite, tt.key, 0)
			ct, _ := cs.Encrypt(nil, nil, plain)
			msg, _, _ := ParseFrame(framed)
			if !bytes.Equal(ct, msg) {
				t.Errorf("flynn Encrypt = %x, want %x", ct, msg)
			}
		})
	}
}

func TestStdHandshakeRejects(t *testing.T) {
	a, b := BringUpStdConfig(RoleA), BringUpStdConfig(RoleB)
	msgs, _, _ := stdHandshake(t, a, b)
	flip := func(m []byte, i int) []byte { m = bytes.Clone(m); m[i] ^= 1; return m }
	wrongA := a
	wrongA.Static = BringUpKeyPair(0xD2, SessionPortA)

	responder := func() *StdHandshake { h, _ := NewStdHandshake(b); return h }
	tests := []struct {
		name string
		run  func() error
		want error
	}{
		{"nexus-msg1-is-too-short", func() error { _, err := responder().ReadMessage(msgs[0][:32]); return err }, ErrTruncated},
		{"tampered-msg1", func() error { _, err := responder().ReadMessage(flip(msgs[0], 40)); return err }, ErrDecrypt},
		{"low-order-ephemeral", func() error {
			m := bytes.Clone(msgs[0])
			copy(m, make([]byte, 32))
			_, err := responder().ReadMessage(m)
			return err
		}, ErrZeroDH},
		{"oversized", func() error { _, err := responder().ReadMessage(make([]byte, MaxFrameLen+1)); return err }, ErrFrameTooLarge},
		{"unpinned-initiator-static", func() error {
			i, _ := NewStdHandshake(wrongA)
			r := responder()
			m1, _ := i.WriteMessage(nil)
			if _, err := r.ReadMessage(m1); err != nil {
				return err
			}
			m2, _ := r.WriteMessage(nil)
			if _, err := i.ReadMessage(m2); err != nil {
				return err
			}
			m3, _ := i.WriteMessage(nil)
			_, err := r.ReadMessage(m3)
			return err
		}, ErrStaticKeyMismatch},
		{"keys-before-done", func() error { _, err := responder().Keys(); return err }, ErrHandshakeState},
		{"read-after-failure", func() error {
			r := responder()
			_, _ = r.ReadMessage(flip(msgs[0], 40))
			_, err := r.ReadMessage(msgs[0])
			return err
		}, ErrHandshakeState},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.run(); !errors.Is(err, tt.want) {
				t.Errorf("got error %v, want %v", err, tt.want)
			}
		})
	}
}

func TestFraming(t *testing.T) {
	big := make([]byte, MaxFrameLen)
	okBig, err := AppendFrame(nil, big)
	if err != nil || len(okBig) != MaxFrameLen+4 {
		t.Fatalf("AppendFrame(65535 bytes) = %d bytes, %v", len(okBig), err)
	}
	if _, err := AppendFrame(nil, make([]byte, MaxFrameLen+1)); !errors.Is(err, ErrFrameTooLarge) {
		t.Errorf("AppendFrame(65536 bytes) error = %v, want ErrFrameTooLarge", err)
	}
	tests := []struct {
		name     string
		in       []byte
		wantMsg  string
		wantRest string
		wantErr  error
	}{
		{"empty", nil, "", "", ErrTruncated},
		{"short-header", []byte{0, 0, 0}, "", "", ErrTruncated},
		{"zero-length", []byte{0, 0, 0, 0, 'x'}, "", "x", nil},
		{"one-frame-and-rest", []byte{0, 0, 0, 2, 'h', 'i', 0, 0}, "hi", "\x00\x00", nil},
		{"truncated-body", []byte{0, 0, 0, 3, 'h', 'i'}, "", "", ErrTruncated},
		{"65536-host-crate-limit", []byte{0, 1, 0, 0}, "", "", ErrFrameTooLarge},
		{"huge", []byte{0xff, 0xff, 0xff, 0xff}, "", "", ErrFrameTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg, rest, err := ParseFrame(tt.in)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("ParseFrame(%x) error = %v, want %v", tt.in, err, tt.wantErr)
			}
			if err == nil && (string(msg) != tt.wantMsg || string(rest) != tt.wantRest) {
				t.Errorf("ParseFrame(%x) = %q, %q; want %q, %q", tt.in, msg, rest, tt.wantMsg, tt.wantRest)
			}
			// ReadFrame agrees on a stream.
			buf := make([]byte, MaxFrameLen)
			rmsg, rerr := ReadFrame(bytes.NewReader(tt.in), buf)
			switch {
			case tt.name == "empty":
				if rerr != io.EOF { // a clean end is io.EOF itself, unwrapped
					t.Errorf("ReadFrame(empty) error = %v, want io.EOF", rerr)
				}
			case !errors.Is(rerr, tt.wantErr):
				t.Errorf("ReadFrame(%x) error = %v, want %v", tt.in, rerr, tt.wantErr)
			case rerr == nil && string(rmsg) != tt.wantMsg:
				t.Errorf("ReadFrame(%x) = %q, want %q", tt.in, rmsg, tt.wantMsg)
			}
		})
	}
	if _, err := ReadFrame(bytes.NewReader([]byte{0, 0, 0, 9}), make([]byte, 8)); !errors.Is(err, ErrFrameTooLarge) {
		t.Errorf("ReadFrame(9 bytes into an 8-byte buffer) error = %v, want ErrFrameTooLarge", err)
	}
	if _, err := ReadFrame(bytes.NewReader([]byte{0, 0, 0, 9}), make([]byte, 9)); !errors.Is(err, ErrTruncated) {
		t.Errorf("ReadFrame(header only) error = %v, want ErrTruncated", err)
	}
}
