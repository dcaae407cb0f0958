package checker

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"l2hub/conformance"
)

// TestDialPort: the OS's node-a dials from 40000 + mac[5] (10.42.0.10:40010)
// and redials from it (nexus-wire.md §6.1). SESS-001 passes that port and
// warns about any other, such as a kernel's ephemeral one; the session
// itself is still checked.
func TestDialPort(t *testing.T) {
	for _, tt := range []struct {
		name string
		port uint16
		want Verdict
	}{
		{"os-port", 40010, Pass},
		{"ephemeral", 53777, Warn},
		{"other-mac-byte", 40011, Warn},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := newBuilder(t)
			announceRounds(b, 3, announceOf(t, conformance.RoleA), announceOf(t, conformance.RoleB))
			f := b.flow(hostA, hostB, tt.port, conformance.SessionPortB)
			syn := len(b.frames) + 1
			f.connect()
			healthyScript(t).play(f, 1460)
			r := feed(t, Options{}, b.frames)
			if v, ok := verdictOf(r, SESS001); !ok || v != tt.want {
				t.Fatalf("got SESS-001 = %v (found %v), want %v:\n%s", v, ok, tt.want, dump(r))
			}
			if r.Fail != 0 {
				t.Errorf("got %d failures, want none:\n%s", r.Fail, dump(r))
			}
			if tt.want == Pass {
				if r.Warn != 0 {
					t.Errorf("got %d warnings, want none:\n%s", r.Warn, dump(r))
				}
				return
			}
			fd, _ := r.First(SESS001)
			if want := "node-a dialled from port " + itoa(int(tt.port)) + ": the OS dials from 40000 + mac[5] = 40010"; !strings.Contains(fd.Message, want) {
				t.Errorf("got SESS-001 %q, want it to say %q", fd.Message, want)
			}
			if len(fd.Frames) != 1 || fd.Frames[0] != syn {
				t.Errorf("got SESS-001 at frames %v, want the SYN, frame %d", fd.Frames, syn)
			}
			if v, ok := verdictOf(r, SESS006); !ok || v != Pass {
				t.Errorf("got SESS-006 = %v (found %v), want the session still checked and passing", v, ok)
			}
		})
	}
}

// TestConnectionLimitCounted: with MaxConns 1, connections beyond the
// first are not followed, and TCP-002 counts them, not their segments,
// citing each one's first segment.
func TestConnectionLimitCounted(t *testing.T) {
	for _, extra := range []int{1, 2} {
		t.Run(fmt.Sprintf("%d-extra", extra), func(t *testing.T) {
			b := newBuilder(t)
			b.flow(hostA, hostB, 40010, 34568).connect()
			var firsts []int
			for i := range extra {
				firsts = append(firsts, len(b.frames)+1)
				b.flow(hostA, hostB, uint16(40011+i), 34568).connect() // 3 segments
			}
			r := feed(t, Options{MaxConns: 1}, b.frames)
			want := fmt.Sprintf("more than 1 session connections at once: %d were not followed", extra)
			fd, ok := findingWith(r, TCP002, "session connections at once")
			if !ok || fd.Verdict != Warn || fd.Message != want || !slices.Equal(fd.Frames, firsts) {
				t.Errorf("got TCP-002 %v (found %v), want a warning saying %q citing frames %v:\n%s", fd, ok, want, firsts, dump(r))
			}
		})
	}
}

// TestConnectionLimitCountBounded: a capture can hold any number of
// connections; the ones not followed are counted one by one only up to
// maxUnfollowed, and past it TCP-002 says "more than", citing no more
// frames than a finding holds.
func TestConnectionLimitCountBounded(t *testing.T) {
	b := newBuilder(t)
	b.flow(hostA, hostB, 40000, 34568).connect()
	for i := range maxUnfollowed + 2 {
		b.flow(hostA, hostB, uint16(41000+i), 34568).connect()
	}
	r := feed(t, Options{MaxConns: 1}, b.frames)
	want := fmt.Sprintf("more than 1 session connections at once: more than %d were not followed", maxUnfollowed)
	fd, ok := findingWith(r, TCP002, "session connections at once")
	if !ok || fd.Verdict != Warn || fd.Message != want {
		t.Fatalf("got TCP-002 %v (found %v), want a warning saying %q", fd, ok, want)
	}
	if len(fd.Frames) == 0 || len(fd.Frames) > MaxFindingFrames {
		t.Errorf("TCP-002 cites %d frames, want 1 to %d", len(fd.Frames), MaxFindingFrames)
	}
}
