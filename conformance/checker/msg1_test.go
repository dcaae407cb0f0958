package checker

import (
	"fmt"
	"slices"
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
			b, f := connected(t)
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
// node-b's bring-up static, judged with the keys the checker has. Sealed
// by node-a's bring-up keys to the key node-b announced, it is node-b's
// static that decides: a node-b whose msg2 reads with that key holds it
// (SESS-005), and the transcript and its transport messages are checked
// with it; a silent node-b holds its bring-up key and rightly rejects it
// (node-a's msg1 fails SESS-004); a node-b that answers with a msg2 that
// does not read with the announced key answered a msg1 it could not read
// (SESS-004). A msg1 that reads with no key the checker has (tampered:
// its tag flipped) is node-a's fault, and a node-b that answers it, even
// with its bring-up msg2, answered a msg1 it could not authenticate
// (SESS-004, not SESS-005: nothing says it holds another static). With
// another ephemeral than node-a's bring-up one, the checker cannot tell
// whether msg1 is sealed to the announced key, and says so.
func TestMsg1ToAnotherStatic(t *testing.T) {
	other := conformance.BringUpKeyPair(0x77, conformance.SessionPortB)
	framed := func(m []byte) []byte {
		f, err := conformance.AppendFrame(nil, m)
		must(t, err)
		return f
	}
	// handshake runs noise-xk between node-a's bring-up keys, or with
	// another ephemeral, sealing to node-b's static and node-b holding it,
	// and returns the framed messages, then a transport message each way.
	handshake := func(static conformance.KeyPair, eph *conformance.KeyPair) [5][]byte {
		icfg := conformance.BringUpStdConfig(conformance.RoleA)
		icfg.PeerStatic = static.Public
		if eph != nil {
			icfg.Ephemeral = *eph
		}
		rcfg := conformance.BringUpStdConfig(conformance.RoleB)
		rcfg.Static = static
		i, err := conformance.NewStdHandshake(icfg)
		must(t, err)
		r, err := conformance.NewStdHandshake(rcfg)
		must(t, err)
		var msgs [5][]byte
		for n := range 3 {
			from, to := i, r
			if n == 1 {
				from, to = r, i
			}
			m, err := from.WriteMessage(nil)
			must(t, err)
			_, err = to.ReadMessage(m)
			must(t, err)
			msgs[n] = framed(m)
		}
		keys, err := r.Keys()
		must(t, err)
		msgs[3] = framed(conformance.NewRecordCipher(keys.I2R, 0).Seal(nil, []byte("ping")))
		msgs[4] = framed(conformance.NewRecordCipher(keys.R2I, 0).Seal(nil, []byte("pong")))
		return msgs
	}
	eph := conformance.BringUpKeyPair(0x55, conformance.SessionPortA)
	toOther, bringUp := handshake(other, nil), handshake(conformance.RoleB.StaticKey(), nil)
	toOtherEph := handshake(other, &eph)
	tampered := append([]byte(nil), bringUp[0]...)
	tampered[len(tampered)-1] ^= 1 // the payload's tag
	ann := conformance.RoleB.Announce()
	ann.Static = other.Public
	annOther, err := ann.MarshalBinary()
	must(t, err)
	short := fmt.Sprintf("%x…%x", other.Public[:4], other.Public[30:])

	tests := []struct {
		name      string
		announceB []byte   // node-b's announce
		msgs      [][]byte // node-a's msg1, then node-b's answer and on
		fails     []string // SESS-004 and SESS-005 failures, by text
		says      []string // other findings, by text
	}{
		{"sealed-to-announced-key-answered", annOther, toOther[:], []string{
			"SESS-005 node-b holds the static " + short + " its announce (frame 8) names, not its bring-up key",
		}, []string{
			"SESS-004 the transcript on 10.42.0.10:40010->10.42.0.11:34568 verifies with node-a's bring-up keys and node-b's announced static " + short,
			"SESS-006 ",
		}},
		{"sealed-to-announced-key-silent", annOther, toOther[:1], []string{
			"SESS-004 node-a's msg1 on 10.42.0.10:40010->10.42.0.11:34568 is sealed to the key " + short + " node-b's announce (frame 8) names",
		}, []string{"SESS-004 node-b rightly rejected"}},
		{"sealed-to-announced-key-answered-with-bring-up-msg2", annOther, [][]byte{toOther[0], bringUp[1]}, []string{
			"SESS-004 node-b answered node-a's msg1 on 10.42.0.10:40010->10.42.0.11:34568, sealed to the key " + short + " its announce (frame 8) names, with a msg2 that does not read with that key",
		}, nil},
		{"tampered-answered", announceOf(t, conformance.RoleB), [][]byte{tampered, bringUp[1], bringUp[2]}, []string{
			"SESS-004 node-a's msg1 on 10.42.0.10:40010->10.42.0.11:34568 does not read with node-b's bring-up keys",
			"SESS-004 node-b answered a msg1 it must reject on 10.42.0.10:40010->10.42.0.11:34568: msg1 does not read with its bring-up static and it announced no other key, so it answered a msg1 it could not authenticate, or holds a static it never announced",
		}, nil},
		{"tampered-answered-announced-key", annOther, [][]byte{tampered, bringUp[1]}, []string{
			"SESS-004 node-a's msg1 on 10.42.0.10:40010->10.42.0.11:34568 does not read with node-b's bring-up static (std read msg1: authentication failed: chacha20poly1305: message authentication failed), nor is it what node-a's bring-up keys give for the key " + short + " node-b's announce (frame 8) names",
			"SESS-004 node-b answered a msg1 it must reject on 10.42.0.10:40010->10.42.0.11:34568: msg1 does not read with its bring-up static, nor is it sealed to the key " + short + " it announced, so it answered a msg1 it could not authenticate",
		}, nil},
		{"another-ephemeral-answered-announced-key", annOther, toOtherEph[:3], []string{
			"SESS-004 node-a's msg1 on 10.42.0.10:40010->10.42.0.11:34568 does not read with node-b's bring-up static (std read msg1: authentication failed: chacha20poly1305: message authentication failed); whether it is sealed to the key " + short + " node-b's announce (frame 8) names, where §4.8 pins S_B, the checker cannot tell",
			"SESS-004 node-b answered a msg1 it must reject on 10.42.0.10:40010->10.42.0.11:34568: msg1 does not read with its bring-up static, so it holds the key " + short + " it announced, which msg1 may be sealed to, where §3.3 pins the bring-up key, or it answered a msg1 it could not authenticate",
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBuilder(t)
			announceRounds(b, 2, announceOf(t, conformance.RoleA), tt.announceB)
			f := b.flow(hostA, hostB, 40010, 34568)
			f.connect()
			for n, m := range tt.msgs {
				side := 0
				if n == 1 || n == 4 {
					side = 1
				}
				f.send(side, m, 1460)
				f.ack(1 - side)
			}
			rep := feed(t, Options{Profile: ProfileNoiseXK}, b.frames)
			var fails []string
			for _, fd := range rep.Findings {
				if (fd.ID == SESS004 || fd.ID == SESS005) && fd.Verdict == Fail {
					fails = append(fails, fd.ID+" "+fd.Message)
				}
			}
			if len(fails) != len(tt.fails) {
				t.Errorf("got %d SESS-004/005 failures, want %d:\n%s", len(fails), len(tt.fails), dump(rep))
			}
			for _, want := range tt.fails {
				if !slices.ContainsFunc(fails, func(f string) bool { return strings.HasPrefix(f, want) }) {
					t.Errorf("got no failure saying %q:\n%s", want, dump(rep))
				}
			}
			for _, want := range tt.says {
				id, text, _ := strings.Cut(want, " ")
				if fd, ok := findingWith(rep, id, text); !ok || fd.Verdict == Fail || fd.Verdict == Warn {
					t.Errorf("got %s %v (found %v), want a pass or info saying %q:\n%s", id, fd, ok, text, dump(rep))
				}
			}
			if fd, ok := findingWith(rep, SESS002, "incomplete"); ok {
				t.Errorf("got %v, want no incomplete handshake", fd)
			}
		})
	}
}
