package filter

import (
	"go.yaml.in/yaml/v3"
)

// The impairments as the policy file writes them. Each returns its spec,
// or nil when it is not complete; defaults are Compile's.

// loss: 5% | {probability: 5%} | {gemodel: {p, r, 1-h, 1-k}}
func (w *walker) loss(n *yaml.Node, path string) *LossSpec {
	if n.Kind == yaml.ScalarNode {
		if p, ok := w.probability(n, path); ok {
			return &LossSpec{Probability: p}
		}
		return nil
	}
	var ls *LossSpec
	w.fields(n, path, map[string]func(*yaml.Node, string){
		"probability": func(v *yaml.Node, p string) {
			if ls != nil {
				w.errf(v, p, "give probability or gemodel, not both")
				return
			}
			if x, ok := w.probability(v, p); ok {
				ls = &LossSpec{Probability: x}
			}
		},
		"gemodel": func(v *yaml.Node, p string) {
			if ls != nil {
				w.errf(v, p, "give probability or gemodel, not both")
				return
			}
			ge := &GEModelSpec{}
			hasP, good := false, false // p given; and valid, its own error said if not
			optional := func(dst **float64) func(*yaml.Node, string) {
				return func(v *yaml.Node, p string) {
					if x, ok := w.probability(v, p); ok {
						*dst = &x
					}
				}
			}
			w.fields(v, p, map[string]func(*yaml.Node, string){
				"p": func(v *yaml.Node, p string) {
					hasP = true
					ge.P, good = w.probability(v, p)
				},
				"r":   optional(&ge.R),
				"1-h": optional(&ge.BadLoss),
				"1-k": optional(&ge.GoodLoss),
			})
			if v.Kind != yaml.MappingNode {
				return
			}
			if !hasP {
				w.errf(v, p, "gemodel needs p (good->bad transition probability)")
				return
			}
			if good {
				ls = &LossSpec{GE: ge}
			}
		},
	})
	if n.Kind == yaml.MappingNode && ls == nil && len(n.Content) == 0 {
		w.errf(n, path, "loss needs probability or gemodel")
	}
	return ls
}

// delay: 20ms | 20ms±5ms | {fixed, jitter, distribution, order}
func (w *walker) delay(n *yaml.Node, path string) *DelaySpec {
	dc := &DelaySpec{}
	if n.Kind == yaml.ScalarNode {
		s, ok := w.scalar(n, path)
		if !ok {
			return nil
		}
		f, j, err := parseDelay(s)
		if err != nil {
			w.errf(n, path, "%v", err)
			return nil
		}
		dc.Fixed, dc.Jitter = f, j
		return dc
	}
	ok, given := true, false
	w.fields(n, path, map[string]func(*yaml.Node, string){
		"fixed": func(v *yaml.Node, p string) {
			given = true
			var good bool
			dc.Fixed, good = w.duration(v, p)
			ok = ok && good
		},
		"jitter": func(v *yaml.Node, p string) {
			given = true
			var good bool
			dc.Jitter, good = w.duration(v, p)
			ok = ok && good
		},
		"distribution": func(v *yaml.Node, p string) {
			i, good := w.choice(v, p, "uniform", "normal")
			dc.Normal, ok = i == 1, ok && good
		},
		"order": func(v *yaml.Node, p string) {
			i, good := w.choice(v, p, "fifo", "reorder")
			dc.Reorder, ok = i == 1, ok && good
		},
	})
	if n.Kind != yaml.MappingNode {
		return nil
	}
	if !given {
		w.errf(n, path, "delay needs fixed or jitter")
		return nil
	}
	if ok {
		return dc
	}
	return nil
}

// probabilityOr parses the two spellings of a probabilistic impairment: a
// bare probability ("1%"), or a mapping whose probability is required beside
// the impairment's own keys. It reports whether the impairment is complete.
func (w *walker) probabilityOr(n *yaml.Node, path, what string, prob *float64, keys map[string]func(*yaml.Node, string)) bool {
	if n.Kind == yaml.ScalarNode {
		p, ok := w.probability(n, path)
		if ok {
			*prob = p
		}
		return ok
	}
	// A probability given but refused has been reported as such: it is not
	// missing too.
	hasP, good := false, false
	keys["probability"] = func(v *yaml.Node, p string) {
		hasP = true
		*prob, good = w.probability(v, p)
	}
	w.fields(n, path, keys)
	if n.Kind != yaml.MappingNode {
		return false
	}
	if !hasP {
		w.errf(n, path, "%s needs probability", what)
		return false
	}
	return good
}

// reorder: 25% | {probability, gap}
func (w *walker) reorder(n *yaml.Node, path string) *ReorderSpec {
	ro := &ReorderSpec{}
	if w.probabilityOr(n, path, "reorder", &ro.Probability, map[string]func(*yaml.Node, string){
		"gap": func(v *yaml.Node, p string) {
			if g, ok := w.integer(v, p, 1, maxGap); ok {
				ro.Gap = g
			}
		},
	}) {
		return ro
	}
	return nil
}

// duplicate: 1% | {probability, copies}
func (w *walker) duplicate(n *yaml.Node, path string) *DuplicateSpec {
	dc := &DuplicateSpec{}
	if w.probabilityOr(n, path, "duplicate", &dc.Probability, map[string]func(*yaml.Node, string){
		"copies": func(v *yaml.Node, p string) {
			if c, ok := w.integer(v, p, 1, maxCopies-1); ok {
				dc.Copies = int(c)
			}
		},
	}) {
		return dc
	}
	return nil
}

// corrupt: 1% | {probability, bits, skip}
func (w *walker) corrupt(n *yaml.Node, path string) *CorruptSpec {
	cc := &CorruptSpec{}
	if w.probabilityOr(n, path, "corrupt", &cc.Probability, map[string]func(*yaml.Node, string){
		"bits": func(v *yaml.Node, p string) {
			if b, ok := w.integer(v, p, 1, maxCorruptBits); ok {
				cc.Bits = int(b)
			}
		},
		"skip": func(v *yaml.Node, p string) {
			if i, ok := w.choice(v, p, skipNames[:]...); ok {
				cc.Skip = skipNames[i]
			}
		},
	}) {
		return cc
	}
	return nil
}

// rate: 10Mbit | {rate, burst, queue}
func (w *walker) rate(n *yaml.Node, path string) *RateSpec {
	readRate := func(v *yaml.Node, p string) (uint64, bool) {
		s, ok := w.scalar(v, p)
		if !ok {
			return 0, false
		}
		bps, err := parseRate(s)
		if err != nil {
			w.errf(v, p, "%v", err)
			return 0, false
		}
		return bps, true
	}
	if n.Kind == yaml.ScalarNode {
		if bps, ok := readRate(n, path); ok {
			return &RateSpec{BitsPerSecond: bps}
		}
		return nil
	}
	rs := &RateSpec{}
	hasRate, ok := false, true
	w.fields(n, path, map[string]func(*yaml.Node, string){
		"rate": func(v *yaml.Node, p string) {
			hasRate = true
			var good bool
			rs.BitsPerSecond, good = readRate(v, p)
			ok = ok && good
		},
		"burst": func(v *yaml.Node, p string) {
			var good bool
			rs.Burst, good = w.size(v, p, minBurst, maxRateBytes)
			ok = ok && good
		},
		"queue": func(v *yaml.Node, p string) {
			q, good := w.size(v, p, 0, maxRateBytes)
			rs.Queue, ok = &q, ok && good
		},
	})
	if n.Kind != yaml.MappingNode {
		return nil
	}
	if !hasRate {
		w.errf(n, path, "rate needs rate (e.g. 10Mbit)")
		return nil
	}
	if ok {
		return rs
	}
	return nil
}
