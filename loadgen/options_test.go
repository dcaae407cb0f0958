package loadgen

import (
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// suiteFrom is what l2hub bench does with its arguments: Register, parse,
// Suite.
func suiteFrom(t *testing.T, args ...string) (*Suite, error) {
	t.Helper()
	fs := pflag.NewFlagSet("bench", pflag.ContinueOnError)
	var o Options
	o.Register(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatalf("parse %v: %v", args, err)
	}
	return o.Suite()
}

// TestOptionsRefuseABadMatrix: a size, a port count or a back end that every
// scenario it is in would fail with is refused by Suite, before anything
// runs, naming the flag and the value; the matrices around the limits pass.
func TestOptionsRefuseABadMatrix(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string // in the error; "" for none
	}{
		{[]string{"--ports", "3"}, "--ports 3: unicast pairs the VMs, so it needs an even number"},
		{[]string{"--ports", "2,8,3"}, "--ports 3:"},
		{[]string{"--quick", "--ports", "5"}, "--ports 5:"},
		{[]string{"--ports", "3", "--patterns", "broadcast"}, ""},
		{[]string{"--ports", "1", "--patterns", "broadcast"}, "--ports 1: want 2..256 VMs"},
		{[]string{"--ports", "258"}, "--ports 258: want 2..256 VMs"},
		{[]string{"--ports", "256"}, ""},
		{[]string{"--sizes", "10"}, "--sizes 10: want 40..65507 bytes; a frame carries the 40-byte bench header"},
		{[]string{"--sizes", "40"}, ""},
		{[]string{"--sizes", "65507"}, ""},
		{[]string{"--sizes", "65508"}, "--sizes 65508: want 40..65507 bytes; 65507 is the most one UDP datagram carries"},
		{[]string{"--sizes", "65508", "--targets", "l2hub"}, ""},
		{[]string{"--sizes", "69632", "--targets", "l2hub"}, ""},
		{[]string{"--sizes", "69633", "--targets", "l2hub"}, "--sizes 69633: want 40..69632 bytes; 69632 is QEMU's limit"},
		{[]string{"--sizes", "65508", "--targets", "l2hub", "--transport", "tcp,udp"}, "--sizes 65508:"},
		{[]string{"--latency-sizes", "39"}, "--latency-sizes 39:"},
		{[]string{"--latency-sizes", "39", "--latency=false"}, ""},
		{[]string{"--transport="}, "--transport: give at least one"},
		{[]string{"--queue", "2000000"}, "--queue 2000000: flags: queue: 2000000 is outside 1..1048576"},
		{[]string{"--queue", "1048576"}, ""},
		{[]string{"--duration", "1ns"}, "--duration 1ns: want at least 50ms"},
		{[]string{"--duration", "49ms"}, "--duration 49ms: want at least 50ms"},
		{[]string{"--duration", "50ms"}, ""},
		{[]string{"--quick", "--duration", "1ms"}, "--duration 1ms:"},
		{nil, ""},
		{[]string{"--quick"}, ""},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			_, err := suiteFrom(t, tc.args...)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("got %v, want no error", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
