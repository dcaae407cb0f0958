package filter

import (
	"go.yaml.in/yaml/v3"
)

// loss: 5% | {probability: 5%} | {gemodel: {p, r, 1-h, 1-k}}
func (w *walker) loss(r *rule, n *yaml.Node, path string) {
	if n.Kind == yaml.ScalarNode {
		if p, ok := w.probability(n, path); ok {
			r.loss = lossCfg{model: lossRandom, p: p}
		}
		return
	}
	w.fields(n, path, map[string]func(*yaml.Node, string){
		"probability": func(v *yaml.Node, p string) {
			if r.loss.model != lossNone {
				w.errf(v, p, "give probability or gemodel, not both")
				return
			}
			if x, ok := w.probability(v, p); ok {
				r.loss = lossCfg{model: lossRandom, p: x}
			}
		},
		"gemodel": func(v *yaml.Node, p string) {
			if r.loss.model != lossNone {
				w.errf(v, p, "give probability or gemodel, not both")
				return
			}
			ge := lossCfg{model: lossGE, r: -1, bad: 1, good: 0}
			hasP := false
			w.fields(v, p, map[string]func(*yaml.Node, string){
				"p": func(v *yaml.Node, p string) {
					ge.p, hasP = w.probability(v, p)
				},
				"r": func(v *yaml.Node, p string) {
					if x, ok := w.probability(v, p); ok {
						ge.r = x
					}
				},
				"1-h": func(v *yaml.Node, p string) {
					if x, ok := w.probability(v, p); ok {
						ge.bad = x
					}
				},
				"1-k": func(v *yaml.Node, p string) {
					if x, ok := w.probability(v, p); ok {
						ge.good = x
					}
				},
			})
			if v.Kind != yaml.MappingNode {
				return
			}
			if !hasP {
				w.errf(v, p, "gemodel needs p (good->bad transition probability)")
				return
			}
			if ge.r < 0 {
				ge.r = 1 - ge.p // netem's default
			}
			r.loss = ge
		},
	})
	if n.Kind == yaml.MappingNode && r.loss.model == lossNone && len(n.Content) == 0 {
		w.errf(n, path, "loss needs probability or gemodel")
	}
}

// delay: 20ms | 20ms±5ms | {fixed, jitter, distribution, order}
func (w *walker) delay(r *rule, n *yaml.Node, path string) {
	dc := &delayCfg{}
	if n.Kind == yaml.ScalarNode {
		s, ok := w.scalar(n, path)
		if !ok {
			return
		}
		f, j, err := parseDelay(s)
		if err != nil {
			w.errf(n, path, "%v", err)
			return
		}
		dc.fixed, dc.jitter = f, j
		r.delay = dc
		return
	}
	ok := true
	w.fields(n, path, map[string]func(*yaml.Node, string){
		"fixed": func(v *yaml.Node, p string) {
			var good bool
			dc.fixed, good = w.duration(v, p)
			ok = ok && good
		},
		"jitter": func(v *yaml.Node, p string) {
			var good bool
			dc.jitter, good = w.duration(v, p)
			ok = ok && good
		},
		"distribution": func(v *yaml.Node, p string) {
			i, good := w.choice(v, p, "uniform", "normal")
			dc.normal, ok = i == 1, ok && good
		},
		"order": func(v *yaml.Node, p string) {
			i, good := w.choice(v, p, "fifo", "reorder")
			dc.reorder, ok = i == 1, ok && good
		},
	})
	if ok && n.Kind == yaml.MappingNode {
		r.delay = dc
	}
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
	hasP := false
	keys["probability"] = func(v *yaml.Node, p string) { *prob, hasP = w.probability(v, p) }
	w.fields(n, path, keys)
	if n.Kind != yaml.MappingNode {
		return false
	}
	if !hasP {
		w.errf(n, path, "%s needs probability", what)
		return false
	}
	return true
}

// reorder: 25% | {probability, gap}
func (w *walker) reorder(r *rule, n *yaml.Node, path string) {
	ro := &reorderCfg{gap: 1}
	if w.probabilityOr(n, path, "reorder", &ro.p, map[string]func(*yaml.Node, string){
		"gap": func(v *yaml.Node, p string) {
			if g, ok := w.integer(v, p, 1, maxGap); ok {
				ro.gap = g
			}
		},
	}) {
		r.reorder = ro
	}
}

// duplicate: 1% | {probability, copies}
func (w *walker) duplicate(r *rule, n *yaml.Node, path string) {
	dc := &dupCfg{copies: 1}
	if w.probabilityOr(n, path, "duplicate", &dc.p, map[string]func(*yaml.Node, string){
		"copies": func(v *yaml.Node, p string) {
			if c, ok := w.integer(v, p, 1, maxCopies-1); ok {
				dc.copies = int(c)
			}
		},
	}) {
		r.dup = dc
	}
}

// corrupt: 1% | {probability, bits, skip}
func (w *walker) corrupt(r *rule, n *yaml.Node, path string) {
	cc := &corruptCfg{bits: 1}
	if w.probabilityOr(n, path, "corrupt", &cc.p, map[string]func(*yaml.Node, string){
		"bits": func(v *yaml.Node, p string) {
			if b, ok := w.integer(v, p, 1, maxCorruptBits); ok {
				cc.bits = int(b)
			}
		},
		"skip": func(v *yaml.Node, p string) {
			if i, ok := w.choice(v, p, skipNames[:]...); ok {
				cc.skip = skipLevel(i)
			}
		},
	}) {
		r.corrupt = cc
	}
}

// rate: 10Mbit | {rate, burst, queue}
func (w *walker) rate(r *rule, n *yaml.Node, path string) {
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
			r.setRate(bps, defaultBurst, defaultQueue)
		}
		return
	}
	var bps uint64
	burst, queue := int64(defaultBurst), int64(defaultQueue)
	hasRate, ok := false, true
	w.fields(n, path, map[string]func(*yaml.Node, string){
		"rate": func(v *yaml.Node, p string) { bps, hasRate = readRate(v, p) },
		"burst": func(v *yaml.Node, p string) {
			var good bool
			burst, good = w.size(v, p, 64, maxRateBytes)
			ok = ok && good
		},
		"queue": func(v *yaml.Node, p string) {
			var good bool
			queue, good = w.size(v, p, 0, maxRateBytes)
			ok = ok && good
		},
	})
	if n.Kind != yaml.MappingNode {
		return
	}
	if !hasRate {
		w.errf(n, path, "rate needs rate (e.g. 10Mbit)")
		return
	}
	if ok {
		r.setRate(bps, burst, queue)
	}
}
