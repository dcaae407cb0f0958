package serve

import (
	"bytes"
	"log/slog"
	"testing"

	"l2hub/hub"
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
