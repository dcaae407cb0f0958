package conformancetest

import (
	"testing"

	"l2hub/conformance"
)

// Transcript is a completed bring-up handshake between node A (side 0, the
// initiator) and node B (side 1), with a record cipher for each side's
// direction.
type Transcript struct {
	t testing.TB
	// Handshake holds msg1 (A), msg2 (B) and msg3 (A).
	Handshake [3][]byte
	Keys      conformance.SessionKeys
	// Send seals side 0's records (initiator to responder) and side 1's.
	Send [2]*conformance.RecordCipher
}

// NewTranscript runs the handshake; any failure fails t.
func NewTranscript(t testing.TB) *Transcript {
	t.Helper()
	return NewTranscriptOf(t, conformance.BringUpNexusConfig(conformance.RoleA), conformance.BringUpNexusConfig(conformance.RoleB))
}

// NewTranscriptOf runs the handshake between node A configured as a and
// node B as b (another ephemeral, say); any failure fails t.
func NewTranscriptOf(t testing.TB, a, b conformance.NexusConfig) *Transcript {
	t.Helper()
	i := conformance.NewNexusInitiator(a)
	r := conformance.NewNexusResponder(b)
	m1, err := i.WriteMsg1()
	must(t, err)
	must(t, r.ReadMsg1(m1))
	m2, err := r.WriteMsg2()
	must(t, err)
	must(t, i.ReadMsg2(m2))
	m3, err := i.WriteMsg3()
	must(t, err)
	must(t, r.ReadMsg3(m3))
	keys, err := r.Keys()
	must(t, err)
	return &Transcript{t: t, Handshake: [3][]byte{m1, m2, m3}, Keys: keys,
		Send: [2]*conformance.RecordCipher{conformance.NewRecordCipher(keys.I2R, 0), conformance.NewRecordCipher(keys.R2I, 0)}}
}

// Request seals a request-class record of kind from side.
func (tr *Transcript) Request(side int, kind byte, payload []byte) []byte {
	tr.t.Helper()
	w, err := tr.Send[side].SealRecord(nil, conformance.RequestRecord, kind, payload)
	must(tr.t, err)
	return w
}

// Response seals node B's response record.
func (tr *Transcript) Response(status byte, payload []byte) []byte {
	tr.t.Helper()
	w, err := tr.Send[1].SealRecord(nil, conformance.ResponseRecord, status, payload)
	must(tr.t, err)
	return w
}

// Step seals step n (1..6) of the bring-up ladder and returns its sender's
// side with it.
func (tr *Transcript) Step(n int) (side int, record []byte) {
	tr.t.Helper()
	st := conformance.Ladder()[n-1]
	p, err := st.Payload()
	must(tr.t, err)
	if st.From == conformance.RoleB {
		side = 1
	}
	return side, tr.Request(side, st.Kind, p)
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
