package conformance

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// recordVector is one nexus.recNN / nexus.negNN entry, named
// nexus.<id>.<a2b|b2a>.n<nonce>.<label>.{plain_head,plain.len,cipher,cipher.len}.
type recordVector struct {
	base    string // nexus.rec01.a2b.n0.mux_open_batch
	id      string // rec01
	fromA   bool
	nonce   uint64
	label   string
	class   RecordClass
	plain   []byte // plain_head, zero-padded to plain.len
	cipher  []byte
	wantKey [32]byte
}

var recordName = regexp.MustCompile(`^nexus\.((?:rec|neg)\d\d)\.(a2b|b2a)\.n(\d+)\.([a-z0-9_]+)\.cipher$`)

func loadRecordVectors(t *testing.T, vs *vectorSet, keys SessionKeys) []recordVector {
	t.Helper()
	var out []recordVector
	for _, name := range vs.matching("nexus.", ".cipher") {
		m := recordName.FindStringSubmatch(name)
		if m == nil {
			t.Fatalf("record vector %s does not parse", name)
		}
		n, _ := strconv.ParseUint(m[3], 10, 64)
		base := name[:len(name)-len(".cipher")]
		rv := recordVector{base: base, id: m[1], fromA: m[2] == "a2b", nonce: n, label: m[4]}
		plainLen := vs.length(t, base+".plain.len")
		switch plainLen {
		case RequestPlainLen:
			rv.class = RequestRecord
		case ResponsePlainLen:
			rv.class = ResponseRecord
		default:
			t.Fatalf("%s.plain.len = %d, want %d or %d", base, plainLen, RequestPlainLen, ResponsePlainLen)
		}
		head := vs.bytes(t, base+".plain_head")
		rv.plain = append(head, make([]byte, plainLen-len(head))...)
		rv.cipher = vs.bytes(t, name) // also checks .cipher.len
		rv.wantKey = keys.R2I
		if rv.fromA {
			rv.wantKey = keys.I2R
		}
		out = append(out, rv)
	}
	return out
}

// recordSemantics builds each vector's plaintext from the package's own
// builders, so the ladder table and the proxy codecs are tied to the vectors.
func recordSemantics(t *testing.T) map[string][]byte {
	t.Helper()
	must := func(b []byte, err error) []byte {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	out := map[string][]byte{}
	for i, s := range Ladder() {
		out[fmt.Sprintf("rec%02d", i+1)] = must(AppendRecordPlain(nil, RequestRecord, s.Kind, must(s.Payload())))
	}
	out["rec07"] = must(AppendRecordPlain(nil, RequestRecord, ServiceSamgr, must(AppendSMRequest(nil, SMOpResolveStatus, "bundlemgrd"))))
	out["rec08"] = must(AppendRecordPlain(nil, ResponseRecord, ProxyStatusOK, AppendSMResponse(nil, SMStatusOK)))
	out["rec09"] = must(AppendRecordPlain(nil, RequestRecord, ServiceBundle, AppendBNRequest(nil, BNOpList)))
	out["rec10"] = must(AppendRecordPlain(nil, ResponseRecord, ProxyStatusOK, AppendBNResponse(nil, BNResponse{Count: 1})))
	out["neg01"] = must(AppendRecordPlain(nil, RequestRecord, 9, nil))
	out["neg02"] = must(AppendRecordPlain(nil, ResponseRecord, ProxyStatusFail, nil))
	return out
}

func testVectorsNexusRecords(t *testing.T, vs *vectorSet) {
	_, keys, _ := nexusHandshake(t, BringUpNexusConfig(RoleA), BringUpNexusConfig(RoleB))
	rvs := loadRecordVectors(t, vs, keys)
	if len(rvs) != 12 {
		t.Fatalf("got %d record vectors, want 12 (rec01..rec10, neg01, neg02)", len(rvs))
	}
	sem := recordSemantics(t)
	ladder := Ladder()
	for _, rv := range rvs {
		t.Run(rv.id, func(t *testing.T) {
			if len(rv.cipher) != rv.class.WireLen() {
				t.Errorf("len(cipher) = %d, want %s WireLen %d", len(rv.cipher), rv.class, rv.class.WireLen())
			}
			if want, ok := sem[rv.id]; !ok || !bytes.Equal(rv.plain, want) {
				t.Errorf("plaintext = %x, want the package's own encoding %x", rv.plain, want)
			}
			c := NewRecordCipher(rv.wantKey, rv.nonce)
			if got := c.Seal(nil, rv.plain); !bytes.Equal(got, rv.cipher) {
				t.Errorf("Seal(n=%d) = %x, want %s.cipher", rv.nonce, got, rv.base)
			}
			if c.Nonce() != rv.nonce+1 {
				t.Errorf("after Seal, Nonce() = %d, want %d", c.Nonce(), rv.nonce+1)
			}
			rec, err := NewRecordCipher(rv.wantKey, rv.nonce).OpenRecord(rv.class, rv.cipher)
			if err != nil {
				t.Fatalf("OpenRecord: %v", err)
			}
			if rec.Kind != rv.plain[0] {
				t.Errorf("OpenRecord kind = %#02x, want %#02x", rec.Kind, rv.plain[0])
			}
			if got, err := OpenRecordAt(nil, rv.wantKey, rv.nonce, rv.cipher); err != nil || !bytes.Equal(got, rv.plain) {
				t.Errorf("OpenRecordAt = %x, %v; want the plaintext", got, err)
			}
			if _, err := OpenRecordAt(nil, rv.wantKey, rv.nonce+1, rv.cipher); !errors.Is(err, ErrDecrypt) {
				t.Errorf("OpenRecordAt(wrong nonce) error = %v, want ErrDecrypt", err)
			}
			// Ladder vectors pass the receiver's check for their step.
			if i := int(rec.Kind) - KindOpenBatch; rv.id <= "rec06" && i >= 0 && i < len(ladder) {
				if err := ladder[i].Check(rec); err != nil {
					t.Errorf("ladder step %d Check: %v", i+1, err)
				}
				if ladder[i].Nonce != rv.nonce || (ladder[i].From == RoleA) != rv.fromA {
					t.Errorf("ladder step %d: nonce %d from %v, vector says n%d fromA=%v", i+1, ladder[i].Nonce, ladder[i].From, rv.nonce, rv.fromA)
				}
			}
		})
	}
}

func TestRecordCipherNonceAdvancesOnlyOnSuccess(t *testing.T) {
	key := [32]byte{1}
	send, recv := NewRecordCipher(key, 0), NewRecordCipher(key, 0)
	r1, err := send.SealRecord(nil, RequestRecord, 1, []byte("one"))
	if err != nil {
		t.Fatal(err)
	}
	r2, _ := send.SealRecord(nil, RequestRecord, 2, []byte("two"))
	bad := bytes.Clone(r1)
	bad[100] ^= 0x80
	if _, err := recv.OpenRecord(RequestRecord, bad); !errors.Is(err, ErrDecrypt) || recv.Nonce() != 0 {
		t.Fatalf("tampered: err %v nonce %d, want ErrDecrypt and nonce 0", err, recv.Nonce())
	}
	if _, err := recv.OpenRecord(RequestRecord, r1[:274]); !errors.Is(err, ErrBadLength) || recv.Nonce() != 0 {
		t.Fatalf("truncated: err %v nonce %d, want ErrBadLength and nonce 0", err, recv.Nonce())
	}
	if _, err := recv.OpenRecord(RequestRecord, r2); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("out of order: err %v, want ErrDecrypt", err)
	}
	for i, r := range [][]byte{r1, r2} {
		rec, err := recv.OpenRecord(RequestRecord, r)
		if err != nil || rec.Kind != byte(i+1) {
			t.Fatalf("record %d: %+v, %v", i+1, rec, err)
		}
	}
	if recv.Nonce() != 2 {
		t.Errorf("Nonce() = %d, want 2", recv.Nonce())
	}
}

func TestRecordPlainBounds(t *testing.T) {
	if _, err := AppendRecordPlain(nil, RequestRecord, 1, make([]byte, 257)); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("257-byte request payload: error %v, want ErrInvalidInput", err)
	}
	if b, err := AppendRecordPlain(nil, ResponseRecord, 0, make([]byte, 512)); err != nil || len(b) != 515 {
		t.Errorf("512-byte response payload: len %d, err %v; want 515, nil", len(b), err)
	}
	lying := appendRecordPlain(nil, RequestRecord, 1, 300, nil)
	rec, err := ParseRecordPlain(RequestRecord, lying)
	if !errors.Is(err, ErrOversized) || rec.Kind != 1 {
		t.Errorf("declared 300: %+v, %v; want kind 1 and ErrOversized", rec, err)
	}
	if _, err := ParseRecordPlain(ResponseRecord, lying); !errors.Is(err, ErrBadLength) {
		t.Errorf("259 bytes as a response: error %v, want ErrBadLength", err)
	}
	edge := appendRecordPlain(nil, RequestRecord, 1, 256, nil)
	if rec, err := ParseRecordPlain(RequestRecord, edge); err != nil || len(rec.Payload) != 256 {
		t.Errorf("declared 256: len %d, err %v; want 256, nil", len(rec.Payload), err)
	}
}

// Sealing and opening a record must not allocate: a checker opens every
// record of a capture.
func TestRecordCipherAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates; run without -race to pin allocations")
	}
	key := [32]byte{7}
	seal, open := NewRecordCipher(key, 0), NewRecordCipher(key, 0)
	payload := make([]byte, 100)
	buf := make([]byte, 0, RequestRecordLen)
	allocs := testing.AllocsPerRun(100, func() {
		buf, _ = seal.SealRecord(buf[:0], RequestRecord, 1, payload)
		if _, err := open.OpenRecord(RequestRecord, buf); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("got %v allocations per seal+open, want 0", allocs)
	}
}

func TestCheckRecordPadding(t *testing.T) {
	plain := func(class RecordClass, payload []byte) []byte {
		p, err := AppendRecordPlain(nil, class, 1, payload)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	aa := plain(RequestRecord, []byte("SM\x01"))
	for i := 6; i < len(aa); i++ {
		aa[i] = 0xaa
	}
	last := plain(ResponseRecord, nil)
	last[len(last)-1] = 1
	oversized := appendRecordPlain(nil, RequestRecord, 1, 300, nil)
	oversized[200] = 0xaa
	tests := []struct {
		name  string
		class RecordClass
		plain []byte
		want  string // "" for no error
	}{
		{"zero", RequestRecord, plain(RequestRecord, []byte("SM\x01")), ""},
		{"full-payload", RequestRecord, plain(RequestRecord, make([]byte, MaxRequestPayload)), ""},
		{"filled-with-aa", RequestRecord, aa, "253 of 253 padding bytes are not zero, the first at offset 6 (0xaa)"},
		{"response-last-byte", ResponseRecord, last, "1 of 512 padding bytes are not zero, the first at offset 514 (0x01)"},
		{"oversized-has-no-padding", RequestRecord, oversized, ""},
		{"wrong-size-has-no-padding", RequestRecord, []byte{1, 0, 0, 0xaa}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckRecordPadding(tt.class, tt.plain)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("CheckRecordPadding = %v, want nil", err)
			case tt.want != "" && (!errors.Is(err, ErrPadding) || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("CheckRecordPadding = %v, want ErrPadding with %q", err, tt.want)
			}
		})
	}
}

// A plaintext longer than the class's fixed size is rejected, like a shorter one.
func TestRecordPlainRejectsLongPlaintext(t *testing.T) {
	long := make([]byte, RequestPlainLen+1)
	if _, err := ParseRecordPlain(RequestRecord, long); !errors.Is(err, ErrBadLength) {
		t.Errorf("%d-byte request plaintext: error %v, want ErrBadLength", len(long), err)
	}
}
