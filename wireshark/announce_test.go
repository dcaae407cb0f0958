package wireshark_test

import (
	"bytes"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"
	"testing"

	"l2hub/conformance"
)

// The fields a Wireshark user filters on read the announce's own bytes:
// the session port, the key, the device id length and the services come
// from their offsets in the datagram, as conformance.ParseAnnounce reads
// them.
func TestAnnounceFieldsDecoded(t *testing.T) {
	roles := []conformance.Role{conformance.RoleA, conformance.RoleB}
	c := &capture{t: t}
	for _, r := range roles {
		c.udp(37020, 37020, announce(t, r))
	}
	rows := tshark(t, c.write(), "nxsb", "nxsb.device_id_len", "nxsb.device_id", "nxsb.port", "nxsb.noise_static",
		"nxsb.service_count", "nxsb.service")
	if len(rows) != len(roles) {
		t.Fatalf("tshark decoded %d announces, want %d: %q", len(rows), len(roles), rows)
	}
	for i, r := range roles {
		a := r.Announce()
		want := []string{strconv.Itoa(len(a.DeviceID)), a.DeviceID, strconv.Itoa(int(a.Port)), hex.EncodeToString(a.Static[:]),
			strconv.Itoa(len(a.Services)), strings.Join(a.Services, ";")}
		if got := rows[i][:len(want)]; !slices.Equal(got, want) {
			t.Errorf("%s: id length, id, port, key, count, services = %q, want %q", a.DeviceID, got, want)
		}
	}
}

// The heuristic claims a UDP datagram on another port only when it starts
// with "NXSB" and version 1 and holds the 6 bytes up to the device id
// length: a shorter one, or another version, is someone else's (and
// reading it must not raise a Lua error).
func TestAnnounceHeuristicOnOtherPorts(t *testing.T) {
	a := announce(t, conformance.RoleA)
	v2 := bytes.Clone(a)
	v2[4] = 2
	payloads := []struct {
		name  string
		p     []byte
		claim bool
	}{
		{"magic only", []byte("NXSB"), false},
		{"magic and version", []byte("NXSB\x01"), false},
		{"version 2", v2, false},
		{"an announce", a, true},
	}
	c := &capture{t: t}
	var want []string
	for i, tc := range payloads {
		c.udp(41234, 41235, tc.p)
		if tc.claim {
			want = append(want, strconv.Itoa(i+1))
		}
	}
	var got []string
	for _, r := range tshark(t, c.write(), "nxsb || _ws.expert", "frame.number") {
		got = append(got, r[0])
	}
	if !slices.Equal(got, want) {
		t.Errorf("frames decoded as NXSB or with expert infos: %q, want %q (%v)", got, want, payloads)
	}
}
