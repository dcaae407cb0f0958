package replay

import (
	"slices"
	"strings"
	"testing"

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
