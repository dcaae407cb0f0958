package checker

import (
	"strings"
	"testing"
)

// findingWith returns the first finding with id whose message contains
// text.
func findingWith(r Report, id, text string) (Finding, bool) {
	for _, f := range r.Findings {
		if f.ID == id && strings.Contains(f.Message, text) {
			return f, true
		}
	}
	return Finding{}, false
}

// TestCaptureStartsMidSession: a capture that starts after the handshake
// (a checker attached to a running hub) sees only records. That is the
// capture's limit, not the nodes' fault: SESS-002 warns that no handshake
// was captured, and nothing fails.
func TestCaptureStartsMidSession(t *testing.T) {
	b := newBuilder(t)
	f := b.flow(hostA, hostB, 40010, 34568)
	s := healthyScript(t)
	for _, m := range s.msgs[:3] {
		f.write(m.side, m.data) // the handshake, before the capture starts
	}
	s.msgs = s.msgs[3:]
	s.play(f, 1460)
	r := feed(t, Options{}, b.frames)
	if r.Fail != 0 {
		t.Errorf("got %d failures, want none:\n%s", r.Fail, dump(r))
	}
	if fd, ok := findingWith(r, SESS002, "no handshake was captured"); !ok || fd.Verdict != Warn {
		t.Errorf("got SESS-002 %v (found %v), want a warning that no handshake was captured:\n%s", fd, ok, dump(r))
	}
}

// TestNoHandshakeStillFails: with a connection whose start was captured,
// a handshake that never completes is still a failure, even beside a
// connection the capture joined midway.
func TestNoHandshakeStillFails(t *testing.T) {
	b := newBuilder(t)
	old := b.flow(hostA, hostB, 40011, 34568)
	old.write(0, make([]byte, 32))
	old.send(0, make([]byte, 275), 1460) // joined midway
	f := b.flow(hostA, hostB, 40010, 34568)
	f.connect()
	f.send(0, newScript(t).Handshake[0][:20], 1460)
	r := feed(t, Options{}, b.frames)
	if fd, ok := findingWith(r, SESS002, "no handshake completed successfully"); !ok || fd.Verdict != Fail {
		t.Errorf("got SESS-002 %v (found %v), want a failure:\n%s", fd, ok, dump(r))
	}
}
