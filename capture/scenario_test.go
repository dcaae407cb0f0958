package capture

import (
	"time"

	"l2hub/hub"
)

// A step of a hand-built hub run: a port being added, or an event.
type step struct {
	port *hub.PortInfo
	ev   *hub.Event
}

func addPort(id hub.PortID, name, descr string) step {
	return step{port: &hub.PortInfo{ID: id, Name: name, Description: descr}}
}

func event(at time.Duration, id hub.PortID, name string, dir hub.Direction, f []byte, dropped bool, notes ...hub.Note) step {
	return step{ev: &hub.Event{Time: t0.Add(at), Port: id, PortName: name, Dir: dir, Frame: f, Dropped: dropped, Notes: notes}}
}

func run(s *Sink, steps []step) {
	for _, st := range steps {
		if st.port != nil {
			s.PortAdded(*st.port)
		} else {
			s.Observe(st.ev)
		}
	}
}

// scenario is a small two-VM run with a third port joining late: a flood, a
// policy drop, a delayed copy, a duplicate, a corrupted copy, an overflow
// and a frame longer than the golden snaplen (128).
func scenario() []step {
	const a, b, c = 0, 1, 2
	f1 := frame(60, 1, 0xff, 1)
	f1[0] = 0xff // broadcast
	f2 := frame(98, 1, 2, 2)
	f3 := frame(74, 2, 1, 3)
	f4 := frame(64, 1, 2, 4)
	f5 := frame(200, 3, 0xff, 5)
	f5[0] = 0xff
	f5bad := append([]byte(nil), f5...)
	f5bad[20] ^= 1 << 3
	f6 := frame(60, 2, 1, 6)
	ms := time.Millisecond
	return []step{
		addPort(a, "a", "tcp 127.0.0.1:7001 from 127.0.0.1:53122"),
		addPort(b, "b", "udp 127.0.0.1:7002 peer 127.0.0.1:7102"),
		event(0, a, "a", hub.Ingress, f1, false),
		event(0, b, "b", hub.Egress, f1, false),
		event(1*ms, a, "a", hub.Ingress, f2, true,
			hub.Note{Link: "a->b", Rule: "loss-a", Action: "drop", Detail: "p=0.5 draw=0.1234"}),
		event(2*ms, b, "b", hub.Ingress, f3, false,
			hub.Note{Link: "b->a", Rule: "slow", Action: "delay", Detail: "10ms"}),
		event(12*ms+345, a, "a", hub.Egress, f3, false,
			hub.Note{Rule: "slow", Action: "delay", Detail: "10ms"}),
		event(13*ms, a, "a", hub.Ingress, f4, false,
			hub.Note{Link: "a->b", Rule: "dup", Action: "duplicate", Detail: "copies=2"}),
		event(13*ms, b, "b", hub.Egress, f4, false),
		event(13*ms, b, "b", hub.Egress, f4, false,
			hub.Note{Rule: "dup", Action: "duplicate", Detail: "copy 2 of 2"}),
		addPort(c, "c", "netstack 10.0.0.3/24"),
		event(20*ms, c, "c", hub.Ingress, f5, false,
			hub.Note{Link: "c->a", Rule: "flip", Action: "corrupt", Detail: "bit 3 of byte 20"}),
		event(20*ms, a, "a", hub.Egress, f5bad, false,
			hub.Note{Rule: "flip", Action: "corrupt", Detail: "bit 3 of byte 20"}),
		event(20*ms, b, "b", hub.Egress, f5, false),
		event(25*ms, b, "b", hub.Ingress, f6, true,
			hub.Note{Link: "b->a", Action: "overflow", Detail: "egress queue full (64 frames)"}),
	}
}

// scenarioWant is what a reader must find in the scenario's pcapng capture
// at both points with snaplen.
func scenarioWant(snaplen int) []wantPacket {
	var want []wantPacket
	ids := map[hub.PortID]int{}
	for _, st := range scenario() {
		if st.port != nil {
			ids[st.port.ID] = len(ids)
			continue
		}
		ev := st.ev
		dir := DirIn
		if ev.Dir == hub.Egress {
			dir = DirOut
		}
		comment := ev.Comment()
		if ev.Dropped {
			comment = "dropped: " + comment
		}
		want = append(want, wantPacket{
			iface: ids[ev.Port], ifName: ev.PortName, dir: dir, at: ev.Time.Sub(t0),
			data: ev.Frame[:min(len(ev.Frame), snaplen)], origLen: len(ev.Frame), comment: comment,
		})
	}
	return want
}
