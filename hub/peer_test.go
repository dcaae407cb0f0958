package hub_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"l2hub/hub"
)

// peerLog records the PeerEvents a hub's core tells it.
type peerLog struct {
	mu  sync.Mutex
	evs []hub.PeerEvent
}

func (l *peerLog) Observe(*hub.Event) {}
func (l *peerLog) PeerChanged(ev hub.PeerEvent) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.evs = append(l.evs, ev)
}

func (l *peerLog) events() []hub.PeerEvent {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]hub.PeerEvent(nil), l.evs...)
}

// TestHubNotesPeerChanges: observers hear of each VM attaching and going
// away, with the peer and the reason, at the core's time; the hub's own
// shutdown is not a change of the run's.
func TestHubNotesPeerChanges(t *testing.T) {
	var log peerLog
	clock := hub.NewVirtualClock(hub.DefaultEpoch)
	h, stop := runHub(t, hub.Config{Clock: clock, Observers: []hub.Observer{&log}})
	for _, p := range []string{"a", "b"} {
		if err := h.AddPort(p, "chan "+p); err != nil {
			t.Fatal(err)
		}
		if _, err := h.Attach(p, newChanIO()); err != nil {
			t.Fatal(err)
		}
	}
	clock.Advance(1500 * time.Millisecond)
	if err := h.Detach("b"); err != nil {
		t.Fatal(err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	evs := log.events()
	if len(evs) != 3 {
		t.Fatalf("got peer events %+v, want a and b attached, then b detached (and nothing for the shutdown)", evs)
	}
	for i, want := range []struct {
		port     string
		at       time.Duration
		attached bool
	}{{"a", 0, true}, {"b", 0, true}, {"b", 1500 * time.Millisecond, false}} {
		ev := evs[i]
		if ev.PortName != want.port || ev.At != want.at || ev.Attached != want.attached || !strings.HasPrefix(ev.Peer, "*hub_test.chanIO") {
			t.Errorf("event %d: %+v, want port %s at %s attached %v", i, ev, want.port, want.at, want.attached)
		}
	}
	if ev := evs[2]; ev.Reason != "detached by request" {
		t.Errorf("detach reason %q, want %q", ev.Reason, "detached by request")
	}
}

// TestPeerComment: a PeerEvent's comment reads as a person would say it
// and holds a record ParsePeers reads back whole; malformed records are
// errors, not records.
func TestPeerComment(t *testing.T) {
	ev := hub.PeerEvent{At: 1500 * time.Millisecond, PortName: "b", Peer: "tcp 127.0.0.1:7002 from 127.0.0.1:40000", Reason: "read: EOF"}
	c := ev.Comment()
	if first, _, _ := strings.Cut(c, "\n"); first != "hub at 1.5s: port b detached (read: EOF)" {
		t.Errorf("first line %q", first)
	}
	if got := hub.WithoutPeerNotes("dropped: something\n" + c + "\nanother line"); got != "dropped: something\nanother line" {
		t.Errorf("WithoutPeerNotes left %q", got)
	}
	if got := hub.WithoutPeerNotes(c); got != "" {
		t.Errorf("WithoutPeerNotes of the comment alone left %q", got)
	}
	recs, errs := hub.ParsePeers("dropped: something\n" + c + "\nanother line")
	if len(errs) > 0 || len(recs) != 1 {
		t.Fatalf("ParsePeers: %+v, %v", recs, errs)
	}
	want := hub.PeerRecord{Port: "b", At: ev.At, Peer: ev.Peer, Reason: ev.Reason}
	if recs[0] != want {
		t.Errorf("got %+v, want %+v", recs[0], want)
	}
	for _, bad := range []string{
		`{"port":"b","attached":true,"at":1`, // cut short
		`{"port":"","attached":true,"at":1}`,
		`{"port":"b","attached":true,"at":-1}`,
		`{"port":"b","attached":true,"at":1,"extra":2}`,
		`{"port":"b","attached":true,"at":1} {}`,
		`{"port":"b","attached":true,"at":1,"peer":"` + strings.Repeat("x", 300) + `"}`,
		`{"port":"a","attached":true,"at":1000,"peer":"x\nl2hub-peer {\"port\":\"b\",\"attached\":false,\"at\":5}\n"}`, // a forged line
		`{"port":"a\u0000","attached":true,"at":1}`,
	} {
		if recs, errs := hub.ParsePeers(hub.PeerPrefix + bad); len(recs) != 0 || len(errs) != 1 {
			t.Errorf("ParsePeers(%.60q) = %+v, %v; want one error", bad, recs, errs)
		}
	}
}

func FuzzParsePeers(f *testing.F) {
	f.Add(hub.PeerEvent{At: time.Second, PortName: "a", Attached: true, Peer: "x"}.Comment())
	f.Add(hub.PeerPrefix + `{"port":"b","attached":false,"at":5}`)
	f.Add(hub.PeerPrefix + `{"port":"a","attached":true,"at":1000,"peer":"x\nl2hub-peer {\"port\":\"b\",\"attached\":false,\"at\":5}\n"}`)
	f.Fuzz(func(t *testing.T, comment string) {
		recs, _ := hub.ParsePeers(comment)
		for _, r := range recs {
			if r.Port == "" || r.At < 0 || len(r.Peer) > 256 || len(r.Reason) > 256 {
				t.Fatalf("accepted %+v", r)
			}
			again, errs := hub.ParsePeers(hub.PeerEvent{At: r.At, PortName: r.Port, Attached: r.Attached, Peer: r.Peer, Reason: r.Reason}.Comment())
			if len(errs) > 0 || len(again) != 1 || again[0] != r {
				t.Fatalf("%+v does not round-trip: %+v %v", r, again, errs)
			}
		}
	})
}

// TestNotePeerKeepsOneLine: a peer description or reason with a newline
// (a transport's error text) cannot add lines to the comment, where a
// forged record would be read back.
func TestNotePeerKeepsOneLine(t *testing.T) {
	var log peerLog
	c := hub.NewCore(hub.CoreConfig{Clock: hub.NewVirtualClock(hub.DefaultEpoch), Observers: []hub.Observer{&log}})
	id, err := c.AddPort("a", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	c.NotePeer(id, 0, "x\n"+hub.PeerPrefix+`{"port":"b","attached":false,"at":5}`, false, "read:\r\nEOF")
	ev := log.events()[0]
	recs, errs := hub.ParsePeers(ev.Comment())
	if len(errs) > 0 || len(recs) != 1 || recs[0].Port != "a" || strings.Count(ev.Comment(), "\n") != 1 {
		t.Errorf("comment %q reads back as %+v, %v; want one record of port a on two lines", ev.Comment(), recs, errs)
	}
}
