package filter

import (
	"cmp"
	"encoding/hex"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"l2hub/internal/yamlfile"
)

// match fills ms from a rule's match mapping, its Description included.
func (w *walker) match(ms *MatchSpec, n *yaml.Node, path string) {
	var desc []string
	defer func() { ms.Description = strings.Join(desc, " ") }()
	defer func() {
		// Each problem is reported at the value it blames, which is set
		// aside so that Compile does not report it again.
		for _, pr := range ms.problems() {
			w.errf(yamlfile.Lookup(n, pr.field), yamlfile.JoinPath(path, pr.field), "%v", pr.err)
			ms.clear(pr.field)
		}
	}()
	add := func(key string, vals ...string) {
		desc = append(desc, key+"="+strings.Join(vals, ","))
	}
	// each runs parse on every entry of a value-or-list; parse returns
	// what the entry means, as keys (a port's name, an address as a CIDR;
	// the ports a group stands for, the directed pairs of a link), and an
	// entry all of whose keys entries before it hold is refused: it adds
	// nothing to the list, so it is likely a typo for another.
	each := func(v *yaml.Node, p string, parse func(s string) (keys []string, err error)) []string {
		items, ok := w.items(v, p)
		if !ok {
			return nil
		}
		var vals []string
		first := map[string]*yaml.Node{}
		for _, it := range items {
			s, ok := w.scalar(it, p)
			if !ok {
				continue
			}
			keys, err := parse(s)
			if err != nil {
				w.errf(it, p, "%v", err)
				continue
			}
			// by are the entries before it that hold its keys, in list order.
			var by []*yaml.Node
			for _, k := range keys {
				at, held := first[k]
				if !held {
					by = nil
					break
				}
				if !slices.Contains(by, at) {
					by = append(by, at)
				}
			}
			if len(by) > 0 {
				slices.SortFunc(by, func(a, b *yaml.Node) int { return cmp.Or(a.Line-b.Line, a.Column-b.Column) })
				var places []string
				for _, e := range by {
					as := ""
					if e.Value != s {
						as = ", as " + quote(e.Value)
					}
					places = append(places, fmt.Sprintf("line %d, column %d%s", e.Line, e.Column, as))
				}
				w.errf(it, p, "%s is listed twice (first at %s)", quote(s), strings.Join(places, "; and "))
				continue
			}
			for _, k := range keys {
				if _, held := first[k]; !held {
					first[k] = it
				}
			}
			vals = append(vals, s)
		}
		return vals
	}
	portSet := func(key string, dst *[]string) func(v *yaml.Node, p string) {
		return func(v *yaml.Node, p string) {
			set := []string{}
			vals := each(v, p, func(s string) ([]string, error) {
				ports, err := w.scope.expand(s)
				set = append(set, ports...)
				return ports, err
			})
			*dst = set
			add(key, vals...)
		}
	}
	// yes reads a true/false criterion into *dst.
	yes := func(dst **bool, key string) func(v *yaml.Node, p string) {
		return func(v *yaml.Node, p string) {
			if b, ok := w.boolean(v, p); ok {
				*dst = &b
				add(key, strconv.FormatBool(b))
			}
		}
	}
	w.fields(n, path, map[string]func(*yaml.Node, string){
		"from": portSet("from", &ms.From),
		"to":   portSet("to", &ms.To),
		"link": func(v *yaml.Node, p string) {
			ms.Links = [][2]string{}
			add("link", each(v, p, func(s string) ([]string, error) {
				ls, err := w.scope.parseLink(s)
				pairs := ls.pairs()
				ms.Links = append(ms.Links, pairs...)
				keys := make([]string, len(pairs))
				for i, pr := range pairs {
					keys[i] = pr[0] + "->" + pr[1]
				}
				return keys, err
			})...)
		},
		"ethertype": func(v *yaml.Node, p string) {
			ms.EtherTypes = []uint16{}
			add("ethertype", each(v, p, func(s string) ([]string, error) {
				t, err := parseEtherType(s)
				ms.EtherTypes = append(ms.EtherTypes, t)
				return []string{strconv.Itoa(int(t))}, err
			})...)
		},
		"vlan":      yes(&ms.VLAN, "vlan"),
		"qinq":      yes(&ms.QinQ, "qinq"),
		"src_mac":   func(v *yaml.Node, p string) { w.mac(&ms.SrcMAC, v, p, add, "src_mac") },
		"dst_mac":   func(v *yaml.Node, p string) { w.mac(&ms.DstMAC, v, p, add, "dst_mac") },
		"broadcast": yes(&ms.Broadcast, "broadcast"),
		"multicast": yes(&ms.Multicast, "multicast"),
		"src_ip":    func(v *yaml.Node, p string) { w.prefixes(&ms.SrcIP, v, p, each, add, "src_ip") },
		"dst_ip":    func(v *yaml.Node, p string) { w.prefixes(&ms.DstIP, v, p, each, add, "dst_ip") },
		"protocol": func(v *yaml.Node, p string) {
			ms.Protocols = []uint8{}
			add("protocol", each(v, p, func(s string) ([]string, error) {
				x, err := parseProtocol(s)
				if err == nil {
					ms.Protocols = append(ms.Protocols, x)
				}
				return []string{strconv.Itoa(int(x))}, err
			})...)
		},
		"src_port": func(v *yaml.Node, p string) { w.portRange(&ms.SrcPort, v, p, add, "src_port") },
		"dst_port": func(v *yaml.Node, p string) { w.portRange(&ms.DstPort, v, p, add, "dst_port") },
		"tcp_flags": func(v *yaml.Node, p string) {
			if s, ok := w.scalar(v, p); ok {
				mask, value, err := parseTCPFlags(s)
				if err != nil {
					w.errf(v, p, "%v", err)
					return
				}
				ms.TCPFlags = &TCPFlagsSpec{Mask: mask, Value: value}
				add("tcp_flags", strconv.Quote(s))
			}
		},
		"payload": func(v *yaml.Node, p string) {
			if s, ok := w.scalar(v, p); ok {
				w.payload(ms, []byte(s), v, p)
				add("payload", strconv.Quote(s))
			}
		},
		"payload_hex": func(v *yaml.Node, p string) {
			if s, ok := w.scalar(v, p); ok {
				b, err := hex.DecodeString(strings.NewReplacer(" ", "", ":", "").Replace(s))
				if err != nil {
					w.errf(v, p, "%s is not hex bytes (write 4e585342 or \"4e 58 53 42\")", quote(s))
					return
				}
				w.payload(ms, b, v, p)
				add("payload_hex", hex.EncodeToString(b))
			}
		},
		"length": func(v *yaml.Node, p string) {
			if s, ok := w.scalar(v, p); ok {
				lo, hi, err := parseIntRange(s, parseSize)
				if err == nil {
					if err = checkLength(lo, hi); err != nil {
						err = fmt.Errorf("%s %w", shown(s), err)
					}
				}
				if err != nil {
					w.errf(v, p, "%v", err)
					return
				}
				ms.Length = &Range{Min: lo, Max: hi}
				add("length", s)
			}
		},
		"first": func(v *yaml.Node, p string) {
			if x, ok := w.integer(v, p, 1, 1<<62); ok {
				ms.First = x
				add("first", strconv.FormatInt(x, 10))
			}
		},
		"matches": func(v *yaml.Node, p string) {
			if s, ok := w.scalar(v, p); ok {
				lo, hi, err := parseIntRange(s, parseCount)
				switch {
				case err != nil:
				case strings.HasPrefix(strings.TrimSpace(s), "-"):
					// open below ("-100"): from the first match
					lo = 1
					if hi < lo {
						err = fmt.Errorf("matches are counted from 1; %s ends at %d", quote(s), hi)
					}
				case lo < 1:
					err = fmt.Errorf("matches are counted from 1; %s starts at %d", quote(s), lo)
				}
				if err != nil {
					w.errf(v, p, "%v", err)
					return
				}
				ms.Matches = &Range{Min: lo, Max: hi}
				add("matches", s)
			}
		},
		"every": func(v *yaml.Node, p string) {
			if x, ok := w.integer(v, p, 1, 1<<62); ok {
				ms.Every = x
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
				ms.During = &DurationRange{Min: from, Max: to}
				add("during", s)
			}
		},
	})
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

func (w *walker) prefixes(dst *[]netip.Prefix, v *yaml.Node, p string, each func(*yaml.Node, string, func(string) ([]string, error)) []string, add func(string, ...string), key string) {
	*dst = []netip.Prefix{}
	add(key, each(v, p, func(s string) ([]string, error) {
		pf, err := parsePrefix(s)
		*dst = append(*dst, pf)
		return []string{pf.String()}, err
	})...)
}

func (w *walker) portRange(dst **PortRange, v *yaml.Node, p string, add func(string, ...string), key string) {
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
	*dst = &PortRange{Lo: uint16(lo), Hi: uint16(hi)}
	add(key, s)
}

func (w *walker) payload(ms *MatchSpec, b []byte, v *yaml.Node, p string) {
	if ms.Payload != nil {
		w.errf(v, p, "give payload or payload_hex, not both")
		return
	}
	if len(b) == 0 || len(b) > maxPayloadLen {
		w.errf(v, p, "payload prefix must be 1-%d bytes, got %d", maxPayloadLen, len(b))
		return
	}
	ms.Payload = b
}
