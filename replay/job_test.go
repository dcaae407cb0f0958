package replay

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"l2hub/capture"
	"l2hub/capture/capturetest"
	"l2hub/hub"
	"l2hub/hub/hubtest"
	"l2hub/internal/samefile"
)

// FuzzReplayPortSpec parses arbitrary --port values of replay: each is
// refused with an error naming --port, or is NAME=MAC (a MAC mapped to the
// port NAME) or NAME=FILE (the input FILE, added if it is not an
// argument, named NAME), split at the first '='.
func FuzzReplayPortSpec(f *testing.F) {
	f.Add("a=52:54:00:12:34:0a")
	f.Add("b=packets-B.pcap")
	f.Add("a=in.pcap")
	f.Add("=x")
	f.Add("a=")
	f.Add("no-equals")
	f.Add("a=b=c")
	f.Add("a=5254.0012.340a")
	f.Fuzz(func(t *testing.T, spec string) {
		cfg, err := (&Job{Files: []string{"in.pcap"}, Ports: []string{spec}}).Config()
		if err != nil {
			if !strings.HasPrefix(err.Error(), "--port: ") {
				t.Fatalf("Config(%q) = %v, want an error naming --port", spec, err)
			}
			return
		}
		name, val, ok := strings.Cut(spec, "=")
		if !ok || name == "" || val == "" {
			t.Fatalf("accepted %q, which is not NAME=VALUE", spec)
		}
		switch {
		case len(cfg.MACs) == 1:
			if cfg.MACs[0].Port != name || len(cfg.Inputs) != 1 || cfg.Inputs[0].Path != "in.pcap" || cfg.Inputs[0].Port != "" {
				t.Fatalf("%q gave MACs %v and inputs %v, want %s's MAC and the argument alone", spec, cfg.MACs, cfg.Inputs, name)
			}
		case len(cfg.MACs) == 0:
			i := slices.IndexFunc(cfg.Inputs, func(in Input) bool { return in.Port == name })
			if i < 0 || !samefile.Same(cfg.Inputs[i].Path, val) || len(cfg.Inputs) > 2 {
				t.Fatalf("%q gave inputs %v, want the file %q named %s", spec, cfg.Inputs, val, name)
			}
		default:
			t.Fatalf("%q gave %d MACs", spec, len(cfg.MACs))
		}
	})
}

// agingCapture is an l2hub capture whose header records the live hub's
// aging time (serve records it), with a frame from a to b.
func agingCapture(t *testing.T, aging string) string {
	t.Helper()
	return oneFrameRun(t, hub.ModeSwitch, nil, capture.Meta{Version: "test", Start: hub.DefaultEpoch, Extra: map[string]string{"mode": "switch", "aging": aging}},
		hubtest.Frame(hubtest.MAC("02:00:00:00:00:0b"), hubtest.MAC("02:00:00:00:00:0a"), "one"))
}

// --aging as serve takes it: a negative one is refused in serve's words,
// and 0 is the default, here the aging the capture records (it was 5m,
// whatever the capture said, and -5s was 5m too).
func TestJobAging(t *testing.T) {
	in := agingCapture(t, "1m0s")
	for _, tc := range []struct {
		name  string
		aging *time.Duration
		want  string // the output's recorded aging, or the error
	}{
		{"unset", nil, "1m0s"},
		{"zero", ptr(time.Duration(0)), "1m0s"},
		{"given", ptr(2 * time.Minute), "2m0s"},
		{"negative", ptr(-5 * time.Second), "--aging: must not be negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out.pcapng")
			j := Job{Files: []string{in}, Aging: tc.aging, Output: out}
			_, err := j.Run(context.Background())
			if strings.HasPrefix(tc.want, "--") {
				if err == nil || err.Error() != tc.want {
					t.Errorf("got Run error %v, want %q", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := capturedAging(t, out); got != tc.want {
				t.Errorf("got the output's aging %q, want %q", got, tc.want)
			}
		})
	}
	if _, err := (&Job{Files: []string{agingCapture(t, "-5s")}}).Run(context.Background()); err == nil || err.Error() != "capture header: aging -5s: must not be negative" {
		t.Errorf("got Run error %v for a header saying aging -5s, want it refused", err)
	}
}

func ptr[T any](v T) *T { return &v }

// capturedAging is the aging an l2hub capture's header records.
func capturedAging(t *testing.T, path string) string {
	t.Helper()
	_, fm := capturetest.Section(t, path)
	return fm.Extra["aging"]
}
