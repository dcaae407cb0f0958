package filter

import (
	"encoding/hex"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// match fills r's matcher and returns its description.
func (w *walker) match(r *rule, n *yaml.Node, path string) []string {
	m := &r.m
	var desc []string
	add := func(key string, vals ...string) {
		desc = append(desc, key+"="+strings.Join(vals, ","))
	}
	// each runs parse on every entry of a value-or-list.
	each := func(v *yaml.Node, p string, parse func(s string) error) []string {
		items, ok := w.items(v, p)
		if !ok {
			return nil
		}
		var vals []string
		for _, it := range items {
			s, ok := w.scalar(it, p)
			if !ok {
				continue
			}
			if err := parse(s); err != nil {
				w.errf(it, p, "%v", err)
				continue
			}
			vals = append(vals, s)
		}
		return vals
	}
	portSet := func(key string, dst *map[string]bool) func(v *yaml.Node, p string) {
		return func(v *yaml.Node, p string) {
			set := map[string]bool{}
			vals := each(v, p, func(s string) error {
				ports, err := w.p.expand(s)
				for _, x := range ports {
					set[x] = true
				}
				return err
			})
			*dst = set
			add(key, vals...)
		}
	}
	w.fields(n, path, map[string]func(*yaml.Node, string){
		"from": portSet("from", &m.from),
		"to":   portSet("to", &m.to),
		"link": func(v *yaml.Node, p string) {
			m.links = map[[2]string]bool{}
			add("link", each(v, p, func(s string) error {
				ls, err := w.p.parseLink(s)
				m.addLinks(ls.pairs())
				return err
			})...)
		},
		"ethertype": func(v *yaml.Node, p string) {
			m.needParse = true
			m.etherType = []uint16{}
			add("ethertype", each(v, p, func(s string) error {
				t, err := parseEtherType(s)
				m.etherType = append(m.etherType, t)
				return err
			})...)
		},
		"src_mac": func(v *yaml.Node, p string) { w.mac(&m.srcMAC, v, p, add, "src_mac") },
		"dst_mac": func(v *yaml.Node, p string) { w.mac(&m.dstMAC, v, p, add, "dst_mac") },
		"broadcast": func(v *yaml.Node, p string) {
			if b, ok := w.boolean(v, p); ok {
				m.broadcast = triNo
				if b {
					m.broadcast = triYes
				}
				add("broadcast", strconv.FormatBool(b))
			}
		},
		"multicast": func(v *yaml.Node, p string) {
			if b, ok := w.boolean(v, p); ok {
				m.multicast = triNo
				if b {
					m.multicast = triYes
				}
				add("multicast", strconv.FormatBool(b))
			}
		},
		"src_ip": func(v *yaml.Node, p string) { w.prefixes(&m.srcIP, v, p, each, add, "src_ip"); m.needParse = true },
		"dst_ip": func(v *yaml.Node, p string) { w.prefixes(&m.dstIP, v, p, each, add, "dst_ip"); m.needParse = true },
		"protocol": func(v *yaml.Node, p string) {
			m.needParse = true
			m.proto = []uint8{}
			add("protocol", each(v, p, func(s string) error {
				x, err := parseProtocol(s)
				m.proto = append(m.proto, x)
				return err
			})...)
		},
		"src_port": func(v *yaml.Node, p string) { w.portRange(&m.srcPort, v, p, add, "src_port"); m.needParse = true },
		"dst_port": func(v *yaml.Node, p string) { w.portRange(&m.dstPort, v, p, add, "dst_port"); m.needParse = true },
		"tcp_flags": func(v *yaml.Node, p string) {
			if s, ok := w.scalar(v, p); ok {
				mask, value, err := parseTCPFlags(s)
				if err != nil {
					w.errf(v, p, "%v", err)
					return
				}
				m.tcpMask, m.tcpValue, m.needParse = mask, value, true
				add("tcp_flags", strconv.Quote(s))
			}
		},
		"payload": func(v *yaml.Node, p string) {
			if s, ok := w.scalar(v, p); ok {
				w.payload(m, []byte(s), v, p)
				add("payload", strconv.Quote(s))
			}
		},
		"payload_hex": func(v *yaml.Node, p string) {
			if s, ok := w.scalar(v, p); ok {
				b, err := hex.DecodeString(strings.NewReplacer(" ", "", ":", "").Replace(s))
				if err != nil {
					w.errf(v, p, "%q is not hex bytes (write 4e585342 or \"4e 58 53 42\")", s)
					return
				}
				w.payload(m, b, v, p)
				add("payload_hex", hex.EncodeToString(b))
			}
		},
		"length": func(v *yaml.Node, p string) {
			if s, ok := w.scalar(v, p); ok {
				lo, hi, err := parseIntRange(s, parseSize)
				if err != nil {
					w.errf(v, p, "%v", err)
					return
				}
				m.minLen, m.maxLen = int(lo), int(hi)
				add("length", s)
			}
		},
		"first": func(v *yaml.Node, p string) {
			if x, ok := w.integer(v, p, 1, 1<<62); ok {
				r.win.first = x
				add("first", strconv.FormatInt(x, 10))
			}
		},
		"matches": func(v *yaml.Node, p string) {
			if s, ok := w.scalar(v, p); ok {
				lo, hi, err := parseIntRange(s, parseCount)
				if err == nil && lo < 1 {
					err = fmt.Errorf("matches are counted from 1; %q starts at %d", s, lo)
				}
				if err != nil {
					w.errf(v, p, "%v", err)
					return
				}
				r.win.lo, r.win.hi = lo, hi
				add("matches", s)
			}
		},
		"every": func(v *yaml.Node, p string) {
			if x, ok := w.integer(v, p, 1, 1<<62); ok {
				r.win.every = x
				add("every", strconv.FormatInt(x, 10))
			}
		},
		"during": func(v *yaml.Node, p string) {
			if s, ok := w.scalar(v, p); ok {
				from, to, err := parseTimeRange(s)
				if err != nil {
					w.errf(v, p, "%v", err)
					return
				}
				m.during, m.from0, m.to0 = true, from, to
				add("during", s)
			}
		},
	})
	return desc
}

func (w *walker) mac(dst **[6]byte, v *yaml.Node, p string, add func(string, ...string), key string) {
	s, ok := w.scalar(v, p)
	if !ok {
		return
	}
	mac, err := parseMAC(s)
	if err != nil {
		w.errf(v, p, "%v", err)
		return
	}
	*dst = &mac
	add(key, s)
}

func (w *walker) prefixes(dst *[]netip.Prefix, v *yaml.Node, p string, each func(*yaml.Node, string, func(string) error) []string, add func(string, ...string), key string) {
	*dst = []netip.Prefix{}
	add(key, each(v, p, func(s string) error {
		pf, err := parsePrefix(s)
		*dst = append(*dst, pf)
		return err
	})...)
}

func (w *walker) portRange(dst *portRange, v *yaml.Node, p string, add func(string, ...string), key string) {
	s, ok := w.scalar(v, p)
	if !ok {
		return
	}
	lo, hi, err := parseIntRange(s, parsePort)
	if err != nil {
		w.errf(v, p, "%v", err)
		return
	}
	if hi < 0 {
		hi = 65535
	}
	*dst = portRange{set: true, lo: uint16(lo), hi: uint16(hi)}
	add(key, s)
}

func (w *walker) payload(m *matcher, b []byte, v *yaml.Node, p string) {
	if m.payload != nil {
		w.errf(v, p, "give payload or payload_hex, not both")
		return
	}
	if len(b) == 0 || len(b) > maxPayloadLen {
		w.errf(v, p, "payload prefix must be 1-%d bytes, got %d", maxPayloadLen, len(b))
		return
	}
	m.payload, m.needParse = b, true
}
