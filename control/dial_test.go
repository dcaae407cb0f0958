package control_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"l2hub/control"
)

// TestDial: a --control value that is no client's address is refused,
// named as the flag, before the token is read; a token file that cannot
// be read is said; otherwise Dial makes the client, without connecting.
func TestDial(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no-token")
	for _, tc := range []struct {
		addr string
		tf   control.TokenFlags
		want string // in the error; "" for none
	}{
		{"off", control.TokenFlags{File: missing}, `--control: "off": off is serve's`},
		{"tcp:127.0.0.1:1", control.TokenFlags{File: missing}, "no-token"},
		{"tcp:127.0.0.1:1", control.TokenFlags{Value: "secret"}, ""},
		{"", control.TokenFlags{}, ""},
	} {
		t.Run(tc.addr, func(t *testing.T) {
			cl, err := control.Dial(context.Background(), tc.addr, &tc.tf)
			switch {
			case tc.want == "" && (err != nil || cl == nil):
				t.Errorf("got Dial(%q) = %v, %v, want a client", tc.addr, cl, err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("got Dial(%q) error %v, want one containing %q", tc.addr, err, tc.want)
			}
		})
	}
	if err := control.CheckAddrFlag("off"); err == nil || !strings.HasPrefix(err.Error(), "--control: ") {
		t.Errorf("got CheckAddrFlag(off) = %v, want an error naming --control", err)
	}
}

// TestCheckAddrOffersOffToServeAlone: the hint for a value that reads as
// no address offers off to serve (CheckAddr), never to a client
// (CheckDialAddr), which refuses off.
func TestCheckAddrOffersOffToServeAlone(t *testing.T) {
	t.Chdir(t.TempDir()) // no socket named nothere
	const forms = `"nothere": want a socket path with a '/' or a .sock suffix (./nothere, nothere.sock), unix:nothere`
	if err := control.CheckAddr("nothere"); err == nil || err.Error() != forms+", tcp:HOST:PORT or off" {
		t.Errorf("got CheckAddr(nothere) = %v, want %q", err, forms+", tcp:HOST:PORT or off")
	}
	if err := control.CheckDialAddr("nothere"); err == nil || err.Error() != forms+" or tcp:HOST:PORT" {
		t.Errorf("got CheckDialAddr(nothere) = %v, want %q", err, forms+" or tcp:HOST:PORT")
	}
}
