package wireshark_test

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"

	"l2hub/conformance"
	"l2hub/conformance/conformancetest"
)

// §4.8: a noise-xk-std length prefix of exactly 65535 is the largest a
// receiver accepts; only a longer one is rejected.
func TestStdProfileLengthAtMax(t *testing.T) {
	ini, err := conformance.NewStdHandshake(conformance.BringUpStdConfig(conformance.RoleA))
	must(t, err)
	m1, err := ini.WriteMessage(nil)
	must(t, err)
	msg1, err := conformance.AppendFrame(nil, m1)
	must(t, err)
	big, err := conformance.AppendFrame(nil, bytes.Repeat([]byte{0xab}, 65535))
	must(t, err)
	c := &capture{t: t}
	s := c.session(40010, 34568, 1400)
	s.send(0, msg1).send(0, big)
	var lens []string
	for _, r := range tshark(t, c.write(), "nexus", "nexus.length", "nexus.bad_length", "nexus.msg") {
		if r[1] != "" || strings.Contains(r[2], "rejected") {
			t.Errorf("length %q flagged %q, message %q: a 65535-byte message is within the Noise maximum", r[0], r[1], r[2])
		}
		if r[0] != "" {
			lens = append(lens, r[0])
		}
	}
	if want := []string{"48", "65535"}; !slices.Equal(lens, want) {
		t.Errorf("length prefixes %q, want %q", lens, want)
	}
}

// §5.1: the sender zero-pads a record's plaintext; any non-zero padding
// byte, the first as well as the last, is flagged.
func TestNonZeroPaddingFlagged(t *testing.T) {
	list := conformance.AppendBNRequest(nil, conformance.BNOpList)
	cases := []struct {
		name string
		at   int // the padding byte set, from the start of the plaintext
	}{
		{"first padding byte", 3 + len(list)},
		{"last padding byte", conformance.RequestPlainLen - 1},
	}
	c := &capture{t: t}
	for i, tc := range cases {
		s := c.session(40100+uint16(i), 34568)
		tr := conformancetest.NewTranscript(t)
		s.send(0, tr.Handshake[0]).send(1, tr.Handshake[1]).send(0, tr.Handshake[2])
		for n := 1; n <= 6; n++ {
			s.send(tr.Step(n))
		}
		plain, err := conformance.AppendRecordPlain(nil, conformance.RequestRecord, 2, list)
		must(t, err)
		plain[tc.at] = 0x01
		s.send(0, tr.Send[0].Seal(nil, plain))
	}
	experts, _ := streamExperts(t, c.write())
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := experts[fmt.Sprint(i)]; !slices.Contains(got, "non-zero padding") {
				t.Errorf("expert infos %q, want non-zero padding flagged", got)
			}
		})
	}
}
