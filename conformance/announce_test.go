package conformance

import (
	"bytes"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func testVectorsNXSB(t *testing.T, vs *vectorSet) {
	node9 := Announce{DeviceID: "node9", Port: 37020, Static: [32]byte(bytes.Repeat([]byte{0x11}, 32)), Services: []string{"samgrd", "bundlemgrd"}}
	tests := []struct {
		name string
		ann  Announce
	}{
		{"nxsb.node9", node9},
		{"nxsb.node-a", RoleA.Announce()},
		{"nxsb.node-b", RoleB.Announce()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.ann.MarshalBinary()
			if err != nil {
				t.Fatalf("MarshalBinary() error = %v", err)
			}
			vs.expectEqual(t, "MarshalBinary()", got, tt.name)
			dec, err := ParseAnnounce(vs.bytes(t, tt.name))
			if err != nil {
				t.Fatalf("ParseAnnounce(%s) error = %v", tt.name, err)
			}
			if !reflect.DeepEqual(dec, tt.ann) {
				t.Errorf("ParseAnnounce(%s) = %+v, want %+v", tt.name, dec, tt.ann)
			}
		})
	}
}

// announceBytes builds raw packets for the decoder's error table.
func announceBytes(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func TestParseAnnounceErrors(t *testing.T) {
	good, _ := RoleA.Announce().MarshalBinary()
	key := bytes.Repeat([]byte{7}, 32)
	head := []byte("NXSB\x01")
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrTruncated},
		{"short-magic", []byte("NXS"), ErrTruncated},
		{"short-wrong-magic", []byte("XXX"), ErrTruncated},
		{"bad-magic", []byte("NOPE"), ErrBadMagic},
		{"bad-magic-full-packet", append([]byte("nXSB"), good[4:]...), ErrBadMagic},
		{"no-version", []byte("NXSB"), ErrTruncated},
		{"version-2", []byte("NXSB\x02"), ErrUnsupportedVersion},
		{"version-0-before-lengths", []byte("NXSB\x00\x00"), ErrUnsupportedVersion},
		{"no-device-len", head, ErrTruncated},
		{"device-len-0", announceBytes(head, []byte{0}), ErrInvalidInput},
		{"device-len-65", announceBytes(head, []byte{65}, bytes.Repeat([]byte{'a'}, 65)), ErrInvalidInput},
		{"device-short", announceBytes(head, []byte{6}, []byte("node")), ErrTruncated},
		{"device-utf8", announceBytes(head, []byte{2, 0xc3, 0x28}), ErrUTF8},
		{"device-surrogate", announceBytes(head, []byte{3, 0xed, 0xa0, 0x80}), ErrUTF8},
		{"utf8-before-truncation", announceBytes(head, []byte{1, 0xff}), ErrUTF8},
		{"no-port", announceBytes(head, []byte{1, 'a'}), ErrTruncated},
		{"short-port", announceBytes(head, []byte{1, 'a', 0x87}), ErrTruncated},
		{"short-key", announceBytes(head, []byte{1, 'a', 0x87, 0x07}, key[:31]), ErrTruncated},
		{"no-service-count", announceBytes(head, []byte{1, 'a', 0x87, 0x07}, key), ErrTruncated},
		{"service-count-17", announceBytes(head, []byte{1, 'a', 0, 0}, key, []byte{17}), ErrInvalidInput},
		{"service-missing", announceBytes(head, []byte{1, 'a', 0, 0}, key, []byte{1}), ErrTruncated},
		{"service-len-0", announceBytes(head, []byte{1, 'a', 0, 0}, key, []byte{1, 0}), ErrInvalidInput},
		{"service-len-65", announceBytes(head, []byte{1, 'a', 0, 0}, key, []byte{1, 65}), ErrInvalidInput},
		{"service-short", announceBytes(head, []byte{1, 'a', 0, 0}, key, []byte{1, 3, 's'}), ErrTruncated},
		{"service-utf8", announceBytes(head, []byte{1, 'a', 0, 0}, key, []byte{1, 1, 0x80}), ErrUTF8},
		{"second-service-truncated", good[:len(good)-1], ErrTruncated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseAnnounce(tt.in)
			if !errors.Is(err, tt.want) {
				t.Errorf("ParseAnnounce(%x) error = %v, want %v", tt.in, err, tt.want)
			}
		})
	}
}

func TestParseAnnounceVersionError(t *testing.T) {
	_, err := ParseAnnounce([]byte("NXSB\x63"))
	var ve *VersionError
	if !errors.As(err, &ve) || ve.Version != 99 {
		t.Fatalf("ParseAnnounce(version 99) error = %v, want *VersionError{Version: 99}", err)
	}
}

func TestParseAnnounceAccepts(t *testing.T) {
	good, _ := RoleB.Announce().MarshalBinary()
	zeroPort := Announce{DeviceID: "x", Port: 0, Services: []string{}}
	zp, _ := zeroPort.MarshalBinary()
	tests := []struct {
		name string
		in   []byte
		want Announce
	}{
		{"trailing-bytes-ignored", append(bytes.Clone(good), "garbage after the services"...), RoleB.Announce()},
		{"port-0-zero-key-no-services", zp, zeroPort},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseAnnounce(tt.in)
			if err != nil {
				t.Fatalf("ParseAnnounce() error = %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseAnnounce() = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// maxAnnounce is the largest valid announce: 1,145 bytes.
func maxAnnounce() Announce {
	a := Announce{DeviceID: strings.Repeat("d", MaxDeviceIDLen)}
	for i := range MaxServices {
		a.Services = append(a.Services, strings.Repeat(string(rune('a'+i)), MaxServiceNameLen))
	}
	return a
}

func TestAnnounceEncoderBounds(t *testing.T) {
	big, err := maxAnnounce().MarshalBinary()
	if err != nil || len(big) != MaxAnnounceLen || MaxAnnounceLen != 1145 {
		t.Fatalf("largest announce: len %d, err %v; want %d (1145), nil", len(big), err, MaxAnnounceLen)
	}
	tests := []struct {
		name string
		ann  Announce
		want error
	}{
		{"empty-device", Announce{}, ErrInvalidInput},
		{"long-device", Announce{DeviceID: strings.Repeat("d", 65)}, ErrInvalidInput},
		{"bad-utf8-device", Announce{DeviceID: "\xff"}, ErrUTF8},
		// Valid names, so that only the count is wrong.
		{"17-services", Announce{DeviceID: "d", Services: slices.Repeat([]string{"s"}, MaxServices+1)}, ErrInvalidInput},
		{"empty-service", Announce{DeviceID: "d", Services: []string{""}}, ErrInvalidInput},
		{"long-service", Announce{DeviceID: "d", Services: []string{strings.Repeat("s", 65)}}, ErrInvalidInput},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tt.ann.MarshalBinary(); !errors.Is(err, tt.want) {
				t.Errorf("MarshalBinary() error = %v, want %v", err, tt.want)
			}
		})
	}
	if _, err := (Announce{DeviceID: "d", Services: slices.Repeat([]string{"s"}, 17)}).MarshalBinary(); err == nil || !strings.Contains(err.Error(), "17 services, at most 16") {
		t.Errorf("MarshalBinary(17 services) error = %v, want one naming 17 services", err)
	}
	if _, err := (Announce{DeviceID: "d", Services: slices.Repeat([]string{"s"}, 16)}).MarshalBinary(); err != nil {
		t.Errorf("MarshalBinary(16 services) error = %v, want nil", err)
	}
}

// announceOfLen returns an announce whose encoding is exactly n bytes
// (42 + 2 .. MaxAnnounceLen), its services filled with names of the
// longest length first.
func announceOfLen(t *testing.T, n int) []byte {
	t.Helper()
	a := Announce{DeviceID: "d", Port: 37020}
	rest := n - 42 // magic, version, "d" with its length, port, key, count
	for rest > 1+MaxServiceNameLen+1 {
		a.Services = append(a.Services, strings.Repeat("s", MaxServiceNameLen))
		rest -= 1 + MaxServiceNameLen
	}
	a.Services = append(a.Services, strings.Repeat("t", rest-1))
	b, err := a.MarshalBinary()
	if err != nil || len(b) != n {
		t.Fatalf("announceOfLen(%d): got %d bytes, %v", n, len(b), err)
	}
	return b
}

// A receiver sees at most 256 bytes (§2.3): it accepts an announce whose
// fields fit and reports Truncated for one whose fields run past byte 256.
func TestParseReceivedAnnounce(t *testing.T) {
	good, _ := RoleA.Announce().MarshalBinary()
	big, _ := maxAnnounce().MarshalBinary()
	padded := append(bytes.Clone(good), make([]byte, 400)...)
	tests := []struct {
		name    string
		in      []byte
		wantErr error
	}{
		{"small", good, nil},
		{"fields-fit-datagram-long", padded, nil},
		{"fields-past-256", big, ErrTruncated},
		{"fields-end-at-256", announceOfLen(t, AnnounceRecvLimit), nil},
		{"fields-end-at-257", announceOfLen(t, AnnounceRecvLimit+1), ErrTruncated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseReceivedAnnounce(tt.in)
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("ParseReceivedAnnounce(%d bytes) error = %v, want %v", len(tt.in), err, tt.wantErr)
			}
			if _, full := ParseAnnounce(tt.in); full != nil {
				t.Errorf("ParseAnnounce(%d bytes) error = %v, want nil (the full packet is valid)", len(tt.in), full)
			}
		})
	}
}

// Round trip through a reused value, as a receive loop would.
func TestAnnounceUnmarshalBinary(t *testing.T) {
	var a Announce
	b, _ := RoleA.Announce().MarshalBinary()
	if err := a.UnmarshalBinary(b); err != nil || a.DeviceID != "node-a" {
		t.Fatalf("UnmarshalBinary() = %+v, %v", a, err)
	}
	if err := a.UnmarshalBinary([]byte("NOPE")); !errors.Is(err, ErrBadMagic) || a.DeviceID != "node-a" {
		t.Errorf("UnmarshalBinary(bad) = %v, left %q; want ErrBadMagic and the value untouched", err, a.DeviceID)
	}
}
