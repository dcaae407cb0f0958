package tap_test

import (
	"strings"
	"testing"

	"l2hub/tap"
)

func TestDefaultTAPMAC(t *testing.T) {
	a, again := tap.DefaultTAPMAC("h1", "", "l2h0", "host"), tap.DefaultTAPMAC("h1", "", "l2h0", "host")
	if a.String() != again.String() {
		t.Errorf("DefaultTAPMAC(host) = %s, then %s; want the same both times", a, again)
	}
	// Another port, the same port in another namespace, on another
	// machine or with another device (two hubs joined in one segment):
	// another address.
	for _, other := range [][4]string{
		{"h1", "", "l2h0", "host2"},
		{"h1", "ns1", "l2h0", "host"},
		{"h2", "", "l2h0", "host"},
		{"h1", "", "l2h1", "host"},
		{"h1host", "", "l2h0", ""},
		{"h1", "", "l2h0host", ""},
	} {
		if b := tap.DefaultTAPMAC(other[0], other[1], other[2], other[3]); a.String() == b.String() {
			t.Errorf("DefaultTAPMAC(h1, \"\", l2h0, host) = DefaultTAPMAC%q = %s, want different addresses", other, a)
		}
	}
	for _, port := range []string{"host", "host2", "a", "t0"} {
		mac := tap.DefaultTAPMAC("h1", "ns", "l2h0", port)
		if len(mac) != 6 || mac[0]&0x01 != 0 || mac[0]&0x02 == 0 {
			t.Errorf("DefaultTAPMAC(%s) = %s, want a unicast, locally administered address", port, mac)
		}
	}
}

// TestCheckName: a name the kernel refuses is refused with the rule it
// breaks, and a bad character is named (a 3-character name with a slash is
// not "too long").
func TestCheckName(t *testing.T) {
	for _, name := range []string{"l2h0", "tap-0", "a.b", "veth_x", "abcdefghijklmno"} {
		if err := tap.CheckName(name); err != nil {
			t.Errorf("CheckName(%q) = %v, want nil", name, err)
		}
	}
	for _, tc := range []struct{ name, want string }{
		{"a/b", `cannot contain '/'`},
		{"a:b", `cannot contain ':'`},
		{"a b", `cannot contain ' '`},
		{"a\tb", `cannot contain '\t'`},
		{"a,b", `cannot contain ','`},
		{"", "1-15 bytes"},
		{"abcdefghijklmnop", "1-15 bytes, not 16"},
		{".", `"." cannot name`},
		{"..", `".." cannot name`},
	} {
		err := tap.CheckName(tc.name)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("CheckName(%q) = %v, want an error saying %s", tc.name, err, tc.want)
		}
	}
}
