package transport_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"l2hub/transport"
	"l2hub/transport/transporttest"
)

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
	busy := transport.Spec{Name: "a", Transport: transport.TCP, Address: ln.Addr().String()}

	if _, err := busy.Open(transport.Options{}); err == nil {
		t.Fatalf("Open(%s) without Optional = nil error, want address in use", busy)
	}
	r, err := busy.Open(transport.Options{Optional: true})
	if err != nil {
		t.Fatalf("Open(%s) with Optional = %v, want a runner", busy, err)
	}
	if err := transport.OpenErr(r); err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Errorf("OpenErr = %v, want the address-in-use error", err)
	}
	if r.Spec().Name != "a" {
		t.Errorf("Spec().Name = %q, want a", r.Spec().Name)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, transporttest.NewAttacher()) }()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v, want nil once ctx ends", err)
		}
	case <-time.After(transporttest.HangGuard):
		t.Fatalf("Run did not return within %v of ctx ending", transporttest.HangGuard)
	}
	if err := r.Close(); err != nil {
		t.Errorf("Close = %v, want nil", err)
	}

	good, err := transport.Spec{Name: "b", Transport: transport.TCP, Address: "127.0.0.1:0"}.Open(transport.Options{Optional: true})
	if err != nil {
		t.Fatal(err)
	}
	defer good.Close()
	if err := transport.OpenErr(good); err != nil {
		t.Errorf("OpenErr of an opened port = %v, want nil", err)
	}

	bad := transport.Spec{Name: "c", Transport: transport.TCP, Address: "nope"}
	if _, err := bad.Open(transport.Options{Optional: true}); !errors.Is(err, transport.ErrSpec) {
		t.Errorf("Open(%s) with Optional = %v, want the spec error", bad, err)
	}
}
