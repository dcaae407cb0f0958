package conformance

import "testing"

func BenchmarkParseAnnounce(b *testing.B) {
	pkt, _ := RoleA.Announce().MarshalBinary()
	b.ReportAllocs()
	b.SetBytes(int64(len(pkt)))
	for b.Loop() {
		if _, err := ParseAnnounce(pkt); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRecordSeal(b *testing.B) {
	key := RoleA.StaticKey().Public
	c := NewRecordCipher(key, 0)
	payload := make([]byte, MaxRequestPayload)
	out := make([]byte, 0, RequestRecordLen)
	b.ReportAllocs()
	b.SetBytes(RequestRecordLen)
	for b.Loop() {
		var err error
		if out, err = c.SealRecord(out[:0], RequestRecord, ServiceSamgr, payload); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRecordOpen(b *testing.B) {
	key := RoleA.StaticKey().Public
	const n = 1024
	recs := make([][]byte, n)
	seal := NewRecordCipher(key, 0)
	for i := range recs {
		recs[i], _ = seal.SealRecord(nil, ResponseRecord, ProxyStatusOK, make([]byte, MaxResponsePayload))
	}
	c := NewRecordCipher(key, 0)
	b.ReportAllocs()
	b.SetBytes(ResponseRecordLen)
	i := 0
	for b.Loop() {
		if i == n {
			i = 0
			c.SetNonce(0)
		}
		if _, err := c.OpenRecord(ResponseRecord, recs[i]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkNexusHandshake(b *testing.B) {
	a, r := BringUpNexusConfig(RoleA), BringUpNexusConfig(RoleB)
	b.ReportAllocs()
	for b.Loop() {
		nexusHandshake(b, a, r)
	}
}
