package checker

import (
	"testing"
	"time"

	"l2hub/conformance"
)

// msg is one message of a session script: what side writes.
type msg struct {
	side int
	data []byte
}

// script builds the application bytes of a nexus-v1 session from the
// conformance codecs and the bring-up keys.
type script struct {
	t    testing.TB
	msgs []msg
	hs   [3][]byte
	keys conformance.SessionKeys
	send [2]*conformance.RecordCipher
}

func newScript(t testing.TB) *script {
	t.Helper()
	i := conformance.NewNexusInitiator(conformance.BringUpNexusConfig(conformance.RoleA))
	r := conformance.NewNexusResponder(conformance.BringUpNexusConfig(conformance.RoleB))
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
	s := &script{t: t, hs: [3][]byte{m1, m2, m3}, keys: keys}
	s.send[0] = conformance.NewRecordCipher(keys.I2R, 0)
	s.send[1] = conformance.NewRecordCipher(keys.R2I, 0)
	return s
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func (s *script) add(side int, data []byte) *script {
	s.msgs = append(s.msgs, msg{side, data})
	return s
}

func (s *script) handshake() *script {
	return s.add(0, s.hs[0]).add(1, s.hs[1]).add(0, s.hs[2])
}

// rec seals a request-class record from side.
func (s *script) rec(side int, kind byte, payload []byte) []byte {
	w, err := s.send[side].SealRecord(nil, conformance.RequestRecord, kind, payload)
	must(s.t, err)
	return w
}

// rsp seals node-b's response record.
func (s *script) rsp(status byte, payload []byte) []byte {
	w, err := s.send[1].SealRecord(nil, conformance.ResponseRecord, status, payload)
	must(s.t, err)
	return w
}

// step seals ladder step n (1..6).
func (s *script) step(n int) []byte {
	st := conformance.Ladder()[n-1]
	p, err := st.Payload()
	must(s.t, err)
	side := 0
	if st.From == conformance.RoleB {
		side = 1
	}
	return s.rec(side, st.Kind, p)
}

func (s *script) ladder() *script {
	for n := 1; n <= 6; n++ {
		s.add((n+1)%2, s.step(n))
	}
	return s
}

// request sends one request and node-b's answer, as node-b's gate and the
// bring-up backend give it.
func (s *script) request(svc byte, payload []byte) *script {
	s.add(0, s.rec(0, svc, payload))
	plain, err := conformance.AppendRecordPlain(nil, conformance.RequestRecord, svc, payload)
	must(s.t, err)
	d := conformance.GateRequest(plain)
	switch d.Action {
	case conformance.GateDeny:
		s.add(1, s.rsp(conformance.ProxyStatusFail, nil))
	case conformance.GateForward:
		reply, ok := conformance.BringUpBackend{}.Serve(d.Service, d.Payload)
		if !ok {
			s.add(1, s.rsp(conformance.ProxyStatusFail, nil))
		} else {
			s.add(1, s.rsp(conformance.ProxyStatusOK, reply))
		}
	}
	return s
}

func (s *script) proxy() *script {
	for _, r := range conformance.BringUpRequests() {
		s.request(r.Service, r.Payload)
	}
	return s
}

func healthyScript(t testing.TB) *script { return newScript(t).handshake().ladder().proxy() }

// play sends the script over f, each message in segments of at most mss
// bytes and acknowledged by the receiver.
func (s *script) play(f *flow, mss int) {
	for i, m := range s.msgs {
		f.send(m.side, m.data, mss)
		if i+1 == len(s.msgs) || s.msgs[i+1].side == m.side {
			continue
		}
		f.ack(1 - m.side)
	}
}

// announceRounds sends rounds announce rounds from each node, 64 ms apart.
func announceRounds(b *builder, rounds int, a, bb []byte) {
	for range rounds {
		b.announce(hostA, a)
		b.announce(hostB, bb)
		b.wait(64 * time.Millisecond)
	}
}

// healthy is a complete nexus-v1 run: discovery, then a session to node-b's
// announced port with the whole script.
func healthy(t testing.TB, mss int) *builder {
	b := newBuilder(t)
	announceRounds(b, 3, announceOf(t, conformance.RoleA), announceOf(t, conformance.RoleB))
	f := b.flow(hostA, hostB, 40010, 34568)
	f.connect()
	healthyScript(t).play(f, mss)
	return b
}
