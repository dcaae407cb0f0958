package main

import (
	"bytes"
	"context"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"l2hub/control"
	"l2hub/hub/hubtest"
)

// TestServeLogsDecisionsAtDebug: at --log-level debug serve logs the drop a
// loss rule decided, and nothing for a frame no rule touched; at info it
// logs no decision.
func TestServeLogsDecisionsAtDebug(t *testing.T) {
	for _, level := range []string{"debug", "info"} {
		t.Run(level, func(t *testing.T) {
			ctl := filepath.Join(t.TempDir(), "ctl.sock")
			s := startServe(t, "serve", "--control", ctl, "--log-level", level,
				"--port", "a=tcp:127.0.0.1:0", "--port", "b=tcp:127.0.0.1:0", "--loss", "a->b=100%")
			addrs := tcpPorts(t, s.stdout.String())
			a, b := dialVM(t, addrs["a"]), dialVM(t, addrs["b"])
			waitAttached(t, ctl, 2)
			lost := hubtest.Frame(hubtest.Broadcast, macA, "lost")
			if err := a.WriteFrame(lost); err != nil {
				t.Fatal(err)
			}
			fine := hubtest.Frame(hubtest.Broadcast, macB, "delivered")
			if err := b.WriteFrame(fine); err != nil {
				t.Fatal(err)
			}
			if got := readFrame(t, a); !bytes.Equal(got, fine) {
				t.Fatalf("a got %x, want %x", got, fine)
			}
			// b's frame came through another reader: a's may still be on
			// its way through the hub. Wait until the rule has dropped it.
			waitForCond(t, "the loss rule to drop a's frame", func() bool {
				ports, err := control.NewClient(ctl, "").Ports(context.Background())
				return err == nil && slices.ContainsFunc(ports, func(p control.PortStatus) bool {
					return p.Stats.Drops["policy"] == 1 // on b, where it would have gone
				})
			})
			if err := s.stop(); err != nil {
				t.Fatal(err)
			}
			var decisions []string
			for _, l := range strings.Split(s.stderr.String(), "\n") {
				if strings.Contains(l, "msg=decision") {
					decisions = append(decisions, l)
				}
			}
			if level != "debug" {
				if len(decisions) > 0 {
					t.Errorf("at --log-level %s got decision lines %q, want none", level, decisions)
				}
				return
			}
			if len(decisions) != 1 {
				t.Fatalf("got decision lines %q, want one for the frame the loss rule dropped", decisions)
			}
			want := `msg=decision port=a dir=ingress len=` + strconv.Itoa(len(lost)) + ` why="dropped: a->b: rule a->b: drop (p=1 `
			if !strings.Contains(decisions[0], want) {
				t.Errorf("got decision line %q, want one containing %q", decisions[0], want)
			}
		})
	}
}
