package checker

import (
	"strings"
	"testing"

	"github.com/google/gopacket/layers"

	"l2hub/conformance"
)

// TestInvalidMsg1BlamesNodeA: a msg1 node-b cannot use (a low-order
// ephemeral, the wrong-msg1 probe's; for noise-xk also one whose payload
// does not decrypt) is node-a's fault. node-b must reject it without
// sending msg2 and close the connection (§4.1, §4.5), so its silence is
// reported as right, and the handshake is not "incomplete"; a node-b that
// answers all the same fails.
func TestInvalidMsg1BlamesNodeA(t *testing.T) {
	framed := func(t *testing.T, m []byte) []byte {
		f, err := conformance.AppendFrame(nil, m)
		must(t, err)
		return f
	}
	lowOrderStd := func(t *testing.T) []byte { return framed(t, make([]byte, conformance.StdMsg1Len)) }
	tamperedStd := func(t *testing.T) []byte {
		m1 := append([]byte(nil), stdScript(t).msgs[0].data...)
		m1[len(m1)-1] ^= 1 // the payload's tag
		return m1
	}
	lowOrder := func(*testing.T) []byte { return make([]byte, conformance.NexusMsg1Len) }
	tests := []struct {
		name    string
		profile Profile
		msg1    func(t *testing.T) []byte
		then    func(f *flow) // what node-b does after msg1
		fail    string        // SESS-004's failure
		right   string        // SESS-004's info, "" if none
	}{
		{"low-order-silent", ProfileNexus, lowOrder, func(f *flow) { f.ack(1) },
			"node-a's msg1 on 10.42.0.10:40010->10.42.0.11:34568 is a low-order point", "node-b rightly rejected the msg1 it cannot use on 10.42.0.10:40010->10.42.0.11:34568: it sent no msg2 (§4.5)"},
		{"low-order-reset", ProfileNexus, lowOrder, func(f *flow) {
			f.b.add(f.tcp(1, f.isn[1]+1, layers.TCP{RST: true, ACK: true}, nil))
		}, "is a low-order point", "it sent no msg2 and the connection was closed"},
		{"low-order-answered", ProfileNexus, lowOrder, func(f *flow) {
			f.send(1, newScript(f.b.t).Handshake[1], 1460)
		}, "node-b answered a msg1 it must reject", ""},
		{"noise-xk-low-order", ProfileNoiseXK, lowOrderStd, func(f *flow) { f.ack(1) },
			"is a low-order point", "node-b rightly rejected"},
		{"noise-xk-tampered", ProfileNoiseXK, tamperedStd, func(f *flow) { f.ack(1) },
			"node-a's msg1 on 10.42.0.10:40010->10.42.0.11:34568 does not read with node-b's bring-up keys", "node-b rightly rejected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBuilder(t)
			announceRounds(b, 2, announceOf(t, conformance.RoleA), announceOf(t, conformance.RoleB))
			f := b.flow(hostA, hostB, 40010, 34568)
			f.connect()
			f.send(0, tt.msg1(t), 1460)
			tt.then(f)
			r := feed(t, Options{Profile: tt.profile}, b.frames)
			if fd, ok := findingWith(r, SESS004, tt.fail); !ok || fd.Verdict != Fail || len(fd.Frames) == 0 {
				t.Errorf("got SESS-004 %v (found %v), want a failure saying %q, citing frames:\n%s", fd, ok, tt.fail, dump(r))
			}
			fd, ok := findingWith(r, SESS004, "rightly rejected")
			switch {
			case tt.right != "" && (!ok || fd.Verdict != Info || !strings.Contains(fd.Message, tt.right)):
				t.Errorf("got SESS-004 %v (found %v), want info saying %q:\n%s", fd, ok, tt.right, dump(r))
			case tt.right == "" && ok:
				t.Errorf("got %v, want no word of node-b rejecting msg1: it answered:\n%s", fd, dump(r))
			}
			if fd, ok := findingWith(r, SESS002, "incomplete"); ok {
				t.Errorf("got %v, want no incomplete handshake: node-b rightly sent no msg2", fd)
			}
		})
	}
}

// TestMsg1ToAnotherStatic: a noise-xk msg1 that does not read with
// node-b's bring-up static may be sealed to the static node-b really holds
// (and announced). node-a is then not at fault: if node-b answers, it read
// msg1, so SESS-005 says node-b holds another static, and no SESS-004
// blames node-a or node-b; if node-b stays silent, node-a's msg1 is what
// node-b could not use.
func TestMsg1ToAnotherStatic(t *testing.T) {
	other := conformance.BringUpKeyPair(0x77, conformance.SessionPortB)
	icfg := conformance.BringUpStdConfig(conformance.RoleA)
	icfg.PeerStatic = other.Public
	rcfg := conformance.BringUpStdConfig(conformance.RoleB)
	rcfg.Static = other
	i, err := conformance.NewStdHandshake(icfg)
	must(t, err)
	r, err := conformance.NewStdHandshake(rcfg)
	must(t, err)
	var msgs [3][]byte
	for n := range msgs {
		from, to := i, r
		if n == 1 {
			from, to = r, i
		}
		m, err := from.WriteMessage(nil)
		must(t, err)
		_, err = to.ReadMessage(m)
		must(t, err)
		msgs[n], err = conformance.AppendFrame(nil, m)
		must(t, err)
	}
	ann := conformance.RoleB.Announce()
	ann.Static = other.Public
	annB, err := ann.MarshalBinary()
	must(t, err)

	for _, answered := range []bool{true, false} {
		t.Run(map[bool]string{true: "answered", false: "silent"}[answered], func(t *testing.T) {
			b := newBuilder(t)
			announceRounds(b, 2, announceOf(t, conformance.RoleA), annB)
			f := b.flow(hostA, hostB, 40010, 34568)
			f.connect()
			f.send(0, msgs[0], 1460)
			f.ack(1)
			if answered {
				f.send(1, msgs[1], 1460)
				f.ack(0)
				f.send(0, msgs[2], 1460)
				f.ack(1)
			}
			rep := feed(t, Options{Profile: ProfileNoiseXK}, b.frames)
			fd, blamed := findingWith(rep, SESS004, "node-a's msg1")
			if answered {
				if blamed {
					t.Errorf("got %v, want node-a not blamed: node-b read its msg1", fd)
				}
				for _, f := range rep.Findings {
					if f.ID == SESS004 && f.Verdict == Fail {
						t.Errorf("got %v, want no SESS-004 failure", f)
					}
				}
				if fd, ok := findingWith(rep, SESS005, "node-b answered a msg1"); !ok || fd.Verdict != Fail || !strings.Contains(fd.Message, "it holds another static") {
					t.Errorf("got SESS-005 %v (found %v), want node-b's other static failed:\n%s", fd, ok, dump(rep))
				}
				if fd, ok := rep.First(SESS002); ok && fd.Verdict == Fail {
					t.Errorf("got %v, want no SESS-002 failure: the handshake completed", fd)
				}
				return
			}
			if !blamed || fd.Verdict != Fail {
				t.Errorf("got SESS-004 %v (found %v), want node-a's msg1 failed: node-b could not read it:\n%s", fd, blamed, dump(rep))
			}
			if fd, ok := findingWith(rep, SESS004, "rightly rejected"); !ok || fd.Verdict != Info {
				t.Errorf("got SESS-004 %v (found %v), want node-b's silence noted as right", fd, ok)
			}
		})
	}
}
