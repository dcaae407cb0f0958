package hub

import "testing"

func TestMACKey(t *testing.T) {
	for _, tc := range []struct {
		mac   [6]byte
		group bool
	}{
		{[6]byte{0x52, 0x54, 0x00, 0x12, 0x34, 0x0a}, false},
		{[6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, true},
		{[6]byte{0x01, 0x00, 0x5e, 0x2a, 0x00, 0x01}, true},
		{[6]byte{0x02, 0, 0, 0, 0, 0}, false},
		{[6]byte{0, 0, 0, 0, 0, 1}, false},
	} {
		k := macKeyOf(tc.mac[:])
		if k.mac() != tc.mac || k.group() != tc.group || k>>48 != 0 {
			t.Errorf("%x: key %#x gives mac %x group %v; want the same mac, group %v, 48 bits", tc.mac, uint64(k), k.mac(), k.group(), tc.group)
		}
	}
	if macKeyOf([]byte{0, 0, 0, 0, 0, 1}) == macKeyOf([]byte{1, 0, 0, 0, 0, 0}) {
		t.Error("byte order lost: two MACs share a key")
	}
}
