package replay

import (
	"bytes"
	"context"
	"testing"
	"time"

	"l2hub/capture"
	"l2hub/hub"
)

// FuzzReplay feeds arbitrary bytes to the replay input path, as one capture
// and split into two per-VM files, through a policy that acts on every link:
// no input may panic, and a replay must be deterministic.
func FuzzReplay(f *testing.F) {
	live := l2hubCapture(f, 12)
	pv := perVMCaptures(f, 12)
	f.Add(live, 0)
	f.Add(live[:len(live)/2], 0)
	f.Add(append(bytes.Clone(pv.a), pv.b...), len(pv.a))
	f.Add(pv.a[:len(pv.a)-7], 0)
	f.Add(writePcap(f, time.Unix(0, 0), []pcapRecord{{0, []byte{1, 2, 3}}, {1, make([]byte, 14)}}), 0)
	f.Add([]byte{0x0a, 0x0d, 0x0d, 0x0a, 0x1c, 0, 0, 0, 0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0}, 0)
	pol := `seed: 3
rules:
  - {name: loss, loss: 30%}
  - {name: delay, delay: 1ms±1ms, reorder: 10%}
  - {name: dup, duplicate: 20%}
  - {name: flip, corrupt: 20%}
`
	f.Fuzz(func(t *testing.T, data []byte, split int) {
		var ins []Input
		if split > 0 && split < len(data) {
			ins = []Input{memInput("packets-A.pcap", data[:split]), memInput("packets-B.pcap", data[split:])}
		} else {
			ins = []Input{memInput("in.pcapng", data)}
		}
		once := func() ([]byte, *Result) {
			r, err := Open(Config{Inputs: ins, MaxBlock: 1 << 16})
			if err != nil {
				return nil, nil
			}
			var out bytes.Buffer
			res, err := r.Run(context.Background(), RunConfig{
				Policy:  mustPolicy(t, pol, nil),
				Mode:    hub.ModeSwitch,
				Capture: memCapture(&out, capture.Meta{Version: "fuzz"}),
			})
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if res.Replayed+res.Egress+res.Duplicates+res.Echoes != res.Packets {
				t.Fatalf("accounting: %d replayed + %d egress + %d duplicates + %d echoes != %d packets",
					res.Replayed, res.Egress, res.Duplicates, res.Echoes, res.Packets)
			}
			res.WriteSummary(&bytes.Buffer{})
			return out.Bytes(), res
		}
		a, _ := once()
		b, _ := once()
		if !bytes.Equal(a, b) {
			t.Fatalf("two replays of the same input differ: %s", firstDiff(b, a))
		}
	})
}

// FuzzRewrite rewrites arbitrary frames (headers of any length, any
// claimed IHL, tags, quoted headers): it must never read or write out of
// bounds.
func FuzzRewrite(f *testing.F) {
	f.Add(udpFrame(f, macA, macB, ipA, ipB, 1, 2, 3, "x"))
	f.Add(tcpFrame(f, macB, macA, ipB, ipA, 1, 2, 3, true, ""))
	f.Add(icmpFrame(f, macA, macB, ipA, ipB, 1))
	f.Add(arpFrame(f, macA, ipA, ipB))
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x81, 0, 0, 1, 0x08, 0x00, 0x45})
	rw, err := NewRewriter([]string{"52:54:00:12:34:0b=52:54:00:12:34:0c"}, []string{"10.42.0.11=10.42.0.12"})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		rw.Rewrite(bytes.Clone(frame))
	})
}
