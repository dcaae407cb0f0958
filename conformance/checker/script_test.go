package checker

import (
	"testing"
	"time"

	"l2hub/conformance"
	"l2hub/conformance/conformancetest"
)

// msg is one message of a session script: what side writes.
type msg struct {
	side int
	data []byte
}

// script builds the application bytes of a nexus-v1 session from the
// conformance codecs and the bring-up keys.
type script struct {
	*conformancetest.Transcript
	t    testing.TB
	msgs []msg
}

func newScript(t testing.TB) *script {
	t.Helper()
	return &script{Transcript: conformancetest.NewTranscript(t), t: t}
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
	return s.add(0, s.Handshake[0]).add(1, s.Handshake[1]).add(0, s.Handshake[2])
}

// step seals ladder step n (1..6).
func (s *script) step(n int) []byte {
	_, w := s.Step(n)
	return w
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
	s.add(0, s.Request(0, svc, payload))
	plain, err := conformance.AppendRecordPlain(nil, conformance.RequestRecord, svc, payload)
	must(s.t, err)
	d := conformance.GateRequest(plain)
	switch d.Action {
	case conformance.GateDeny:
		s.add(1, s.Response(conformance.ProxyStatusFail, nil))
	case conformance.GateForward:
		reply, ok := conformance.BringUpBackend{}.Serve(d.Service, d.Payload)
		if !ok {
			s.add(1, s.Response(conformance.ProxyStatusFail, nil))
		} else {
			s.add(1, s.Response(conformance.ProxyStatusOK, reply))
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

// connected is discovery (two announce rounds from each node), then node-a's
// connection to node-b's announced port, established and idle.
func connected(t testing.TB) (*builder, *flow) {
	b := newBuilder(t)
	announceRounds(b, 2, announceOf(t, conformance.RoleA), announceOf(t, conformance.RoleB))
	f := b.flow(hostA, hostB, 40010, 34568)
	f.connect()
	return b, f
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
