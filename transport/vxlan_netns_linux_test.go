//go:build linux

package transport_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"l2hub/tap"
	"l2hub/transport"
)

// TestVXLANRefusesAMissingNetns: a vxlan port's netns= names a namespace
// that must exist. A misspelt name used to create an empty namespace, where
// the bind to any address succeeds and the port reports itself up while
// nothing can ever reach it; now the port fails, saying so, and no
// namespace appears. (Runs without root too: the check comes before any
// privileged step.)
func TestVXLANRefusesAMissingNetns(t *testing.T) {
	name := fmt.Sprintf("l2t%06x", rand.Uint32()&0xffffff)
	path := filepath.Join(tap.NetnsDir, name)
	t.Cleanup(func() {
		if _, err := os.Lstat(path); err == nil {
			t.Errorf("namespace %s was created", name)
			exec.Command("ip", "netns", "del", name).Run()
		}
	})
	s, err := transport.ParseSpec("ov=vxlan:10.99.0.1:4789,remote=10.99.0.2,vni=42,netns=" + name)
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.Open(transport.Options{})
	if err == nil {
		r.Close()
		t.Fatalf("open %s: no error, want the missing namespace refused", s)
	}
	if want := "network namespace " + name + " does not exist"; !strings.Contains(err.Error(), want) {
		t.Errorf("open %s: %v, want it to say %q", s, err, want)
	}
}
