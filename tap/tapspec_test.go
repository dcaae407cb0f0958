package tap_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"l2hub/tap"
	"l2hub/tap/taptest"
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

func TestHostNote(t *testing.T) {
	for _, tc := range []struct {
		spec string
		want string
	}{
		{"host=tap:l2h0,ip=10.42.0.1/24,mac=02:00:00:00:00:01", "host interface l2h0 (02:00:00:00:00:01, 10.42.0.1/24): use it from the host"},
		{"host=tap:l2h0,netns=lab", "host interface l2h0 in netns lab: ip netns exec lab COMMAND"},
		{"host=tap:l2h0,netns=/proc/42/ns/net", "host interface l2h0 in netns /proc/42/ns/net: nsenter --net=/proc/42/ns/net COMMAND"},
		{"a=tcp:127.0.0.1:7001", ""},
	} {
		if got := mustParse(t, tc.spec).HostNote(); got != tc.want {
			t.Errorf("HostNote(%s) = %q, want %q", tc.spec, got, tc.want)
		}
	}
}

// With Optional, a port that cannot be opened is a runner that stays down
// and says why; a spec error is still an error.
func TestOpenOptional(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	busy := tap.Spec{Name: "a", Transport: tap.TCP, Address: ln.Addr().String()}

	if _, err := busy.Open(tap.Options{}); err == nil {
		t.Fatalf("Open(%s) without Optional = nil error, want address in use", busy)
	}
	r, err := busy.Open(tap.Options{Optional: true})
	if err != nil {
		t.Fatalf("Open(%s) with Optional = %v, want a runner", busy, err)
	}
	if err := tap.OpenErr(r); err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Errorf("OpenErr = %v, want the address-in-use error", err)
	}
	if r.Spec().Name != "a" {
		t.Errorf("Spec().Name = %q, want a", r.Spec().Name)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, taptest.NewAttacher()) }()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v, want nil once ctx ends", err)
		}
	case <-time.After(taptest.HangGuard):
		t.Fatalf("Run did not return within %v of ctx ending", taptest.HangGuard)
	}
	if err := r.Close(); err != nil {
		t.Errorf("Close = %v, want nil", err)
	}

	good, err := tap.Spec{Name: "b", Transport: tap.TCP, Address: "127.0.0.1:0"}.Open(tap.Options{Optional: true})
	if err != nil {
		t.Fatal(err)
	}
	defer good.Close()
	if err := tap.OpenErr(good); err != nil {
		t.Errorf("OpenErr of an opened port = %v, want nil", err)
	}

	bad := tap.Spec{Name: "c", Transport: tap.TCP, Address: "nope"}
	if _, err := bad.Open(tap.Options{Optional: true}); !errors.Is(err, tap.ErrSpec) {
		t.Errorf("Open(%s) with Optional = %v, want the spec error", bad, err)
	}
}
