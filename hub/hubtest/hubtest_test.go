package hubtest_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"l2hub/hub"
	"l2hub/hub/hubtest"
)

func TestBridgeSim(t *testing.T) {
	hubtest.TestBridge(t, hubtest.SimBridge)
}

func TestFloodOrderIsByPortName(t *testing.T) {
	// Ports added out of order: a flood still reaches them by name.
	s := hubtest.New(t, hubtest.Config{Mode: hub.ModeHub, Ports: []string{"zeta", "alpha", "mid", "beta"}})
	s.Send("mid", hubtest.Frame(hubtest.Broadcast, hubtest.MAC("02:00:00:00:00:01"), "x"))
	var got []string
	for _, d := range s.Deliveries() {
		got = append(got, d.Port)
	}
	if want := []string{"alpha", "beta", "zeta"}; !slices.Equal(got, want) {
		t.Errorf("got flood order %v, want %v", got, want)
	}
}

// refModel is the obvious, slow bridge: a map of MAC -> (port, last seen) and
// a sorted port list. The core must agree with it frame for frame.
type refModel struct {
	mode  hub.Mode
	ports []string
	aging time.Duration
	table map[[6]byte]struct {
		port string
		seen time.Duration
	}
}

func (m *refModel) forward(now time.Duration, from string, frame []byte) []string {
	dst, src := [6]byte(frame[0:6]), [6]byte(frame[6:12])
	var out []string
	flood := func() []string {
		for _, p := range m.ports {
			if p != from {
				out = append(out, p)
			}
		}
		return out
	}
	if m.mode == hub.ModeHub {
		return flood()
	}
	if src[0]&1 == 0 {
		m.table[src] = struct {
			port string
			seen time.Duration
		}{from, now}
	}
	if dst[0]&1 == 0 {
		if e, ok := m.table[dst]; ok && now-e.seen <= m.aging {
			if e.port == from {
				return nil
			}
			return []string{e.port}
		}
	}
	return flood()
}

func TestDifferentialAgainstReferenceModel(t *testing.T) {
	for _, mode := range []hub.Mode{hub.ModeHub, hub.ModeSwitch} {
		for seed := uint64(1); seed <= 5; seed++ {
			t.Run(fmt.Sprintf("%s/seed-%d", mode, seed), func(t *testing.T) {
				ports := []string{"p0", "p1", "p2", "p3", "p4"}
				aging := 3 * time.Second
				sim := hubtest.New(t, hubtest.Config{Mode: mode, Ports: ports, AgingTime: aging})
				ref := &refModel{mode: mode, ports: ports, aging: aging, table: map[[6]byte]struct {
					port string
					seen time.Duration
				}{}}
				rng := rand.New(rand.NewPCG(seed, 0x5eed))
				// Eight hosts that wander between ports, plus broadcast and multicast.
				macs := make([][6]byte, 8)
				for i := range macs {
					macs[i] = [6]byte{0x02, 0, 0, 0, 0, byte(i + 1)}
				}
				home := make([]string, len(macs))
				for i := range home {
					home[i] = ports[rng.IntN(len(ports))]
				}
				for i := range 5000 {
					if rng.IntN(50) == 0 {
						sim.Advance(time.Duration(rng.IntN(2000)) * time.Millisecond)
					}
					if rng.IntN(200) == 0 { // a host moves
						home[rng.IntN(len(home))] = ports[rng.IntN(len(ports))]
					}
					s := rng.IntN(len(macs))
					var dst [6]byte
					switch r := rng.IntN(10); {
					case r == 0:
						dst = hubtest.Broadcast
					case r == 1:
						dst = hubtest.MAC("01:00:5e:00:00:fb")
					default:
						dst = macs[rng.IntN(len(macs))]
					}
					f := hubtest.Frame(dst, macs[s], fmt.Sprint(i))
					want := ref.forward(sim.Now(), home[s], f)
					before := len(sim.Deliveries())
					sim.Send(home[s], f)
					var got []string
					for _, d := range sim.Deliveries()[before:] {
						got = append(got, d.Port)
					}
					if !slices.Equal(got, want) {
						t.Fatalf("frame %d from %s (%x -> %x): got delivered to %v, want %v",
							i, home[s], macs[s], dst, got, want)
					}
				}
			})
		}
	}
}
