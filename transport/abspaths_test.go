package transport_test

import (
	"path/filepath"
	"reflect"
	"testing"

	"l2hub/transport"
)

// TestWithAbsPathsIsWhatOpenGives: a spec's socket paths made absolute
// before it is opened (l2hub qemu-args) are those its Runner's Spec gives
// once opened (serve's banner), relative ones, ones with "..", and ones
// already absolute alike; a spec with no socket file is left as it is.
func TestWithAbsPathsIsWhatOpenGives(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	for _, s := range []transport.Spec{
		{Name: "u", Transport: transport.Unix, Address: "./u.sock"},
		{Name: "d", Transport: transport.UnixDial, Address: "x/../d.sock"},
		{Name: "g", Transport: transport.Unixgram, Address: "g.sock", Peer: "./g-vm.sock"},
		{Name: "abs", Transport: transport.Unixgram, Address: filepath.Join(dir, "abs.sock"), Peer: filepath.Join(dir, "abs-vm.sock")},
		{Name: "t", Transport: transport.TCP, Address: "127.0.0.1:0"},
	} {
		t.Run(s.Name, func(t *testing.T) {
			r, err := s.Open(transport.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			want := r.Spec()
			if s.Transport == transport.TCP {
				want = s // the port the system chose is known only once open
			}
			if got := s.WithAbsPaths(); !reflect.DeepEqual(got, want) {
				t.Errorf("got WithAbsPaths() = %+v, want what Open gives, %+v", got, want)
			}
		})
	}
}
