package tap_test

import (
	"testing"

	"l2hub/tap"
)

func TestDefaultTAPMAC(t *testing.T) {
	a, again, b := tap.DefaultTAPMAC("host"), tap.DefaultTAPMAC("host"), tap.DefaultTAPMAC("host2")
	if a.String() != again.String() {
		t.Errorf("DefaultTAPMAC(host) = %s, then %s; want the same both times", a, again)
	}
	if a.String() == b.String() {
		t.Errorf("DefaultTAPMAC(host) = DefaultTAPMAC(host2) = %s, want different addresses", a)
	}
	for _, port := range []string{"host", "host2", "a", "t0"} {
		mac := tap.DefaultTAPMAC(port)
		if len(mac) != 6 || mac[0]&0x01 != 0 || mac[0]&0x02 == 0 {
			t.Errorf("DefaultTAPMAC(%s) = %s, want a unicast, locally administered address", port, mac)
		}
	}
}
