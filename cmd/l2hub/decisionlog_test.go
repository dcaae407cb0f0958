package main

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"l2hub/control"
	"l2hub/hub"
	"l2hub/hub/hubtest"
)

func TestDecisionLogOnlyAtDebug(t *testing.T) {
	for _, tt := range []struct {
		level slog.Level
		want  bool
	}{{slog.LevelDebug, true}, {slog.LevelInfo, false}, {slog.LevelWarn, false}} {
		log := slog.New(slog.NewTextHandler(&bytes.Buffer{}, &slog.HandlerOptions{Level: tt.level}))
		if got := newDecisionLog(log) != nil; got != tt.want {
			t.Errorf("got newDecisionLog at %v != nil = %v, want %v", tt.level, got, tt.want)
		}
	}
}

func TestDecisionLogLine(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{
		Level: slog.LevelDebug,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
	d := newDecisionLog(log)
	frame := make([]byte, 60)
	d.Observe(&hub.Event{PortName: "a", Dir: hub.Ingress, Frame: frame}) // no rule acted: not logged
	d.Observe(&hub.Event{PortName: "a", Dir: hub.Ingress, Frame: frame, Dropped: true,
		Notes: []hub.Note{{Link: "a->b", Rule: "loss-a", Action: "drop", Detail: "p=0.05 draw=0.0213"}}})
	d.Observe(&hub.Event{PortName: "b", Dir: hub.Egress, Frame: frame[:42],
		Notes: []hub.Note{{Rule: "slow", Action: "delay", Detail: "20ms"}}})
	want := `level=DEBUG msg=decision port=a dir=ingress len=60 why="dropped: a->b: rule loss-a: drop (p=0.05 draw=0.0213)"` + "\n" +
		`level=DEBUG msg=decision port=b dir=egress len=42 why="rule slow: delay (20ms)"` + "\n"
	if buf.String() != want {
		t.Errorf("got log\n%s\nwant\n%s", buf.String(), want)
	}
}

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
