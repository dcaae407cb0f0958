package serve_test

import (
	"bytes"
	"strings"
	"testing"

	"l2hub/serve"
	"l2hub/transport"
)

// TestQEMUEnvRefusesOneVariableForTwoPorts: ports whose names give one
// NETDEV_ variable would print it twice, the second silently winning
// after eval: qemu-args --env refuses them, naming both, and prints
// nothing. Without --env the same ports are fine.
func TestQEMUEnvRefusesOneVariableForTwoPorts(t *testing.T) {
	for _, tt := range []struct{ a, b, v string }{
		{"a", "A", "NETDEV_A"},
		{"a-b", "a_b", "NETDEV_A_B"},
		{"vm.1", "vm-1", "NETDEV_VM_1"},
	} {
		cfg := serve.DefaultConfig()
		cfg.Ports = []transport.Spec{
			{Name: tt.a, Transport: transport.TCP, Address: "127.0.0.1:7001"},
			{Name: "other", Transport: transport.TCP, Address: "127.0.0.1:7002"},
			{Name: tt.b, Transport: transport.Unix, Address: "/tmp/b.sock"},
		}
		if err := cfg.Validate(); err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		err := serve.PrintQEMUArgs(&out, cfg, "n0", true)
		want := `ports "` + tt.a + `" and "` + tt.b + `" both give the variable ` + tt.v
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("qemu-args --env with ports %s and %s: got %v, want an error containing %q", tt.a, tt.b, err, want)
		}
		if out.Len() != 0 {
			t.Errorf("qemu-args --env with ports %s and %s printed %q, want nothing", tt.a, tt.b, out.String())
		}
		out.Reset()
		if err := serve.PrintQEMUArgs(&out, cfg, "n0", false); err != nil || !strings.Contains(out.String(), "port "+tt.b+" ") {
			t.Errorf("qemu-args without --env: %v\n%s", err, out.String())
		}
	}
}
