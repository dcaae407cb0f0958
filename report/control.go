// The changes made through the control API, and the VMs' attaching and
// leaving, as a capture's comments note them: recordEdits keeps them while
// Build reads the capture, controlMarkers and peerMarkers draw them as
// markers on the hub's and the ports' lifelines, and controlBands gives
// the partitions and links they set their bands (bands.go draws the bands
// the drops themselves make).

package report

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"l2hub/filter"
	"l2hub/hub"
)

// maxEdits bounds the control changes a report reads from a capture.
const maxEdits = 1 << 14

// recordEdits keeps the changes made through the control API, and the
// VMs' attaching and leaving, that record number's comment holds
// (filter.Edit, hub.PeerRecord); unreadable ones are the replay's business
// to report. It keeps what their markers and bands need, cleaned and cut,
// never a rule's text: at most maxEdits of each.
func (b *builder) recordEdits(number int, comment string) {
	edits, _ := filter.ParseEdits(comment)
	for _, e := range edits {
		if len(b.edits) == maxEdits {
			break
		}
		re := recordedEdit{op: e.Op, name: cleanText(e.Name, maxRuleText), at: e.At, number: number,
			text: cleanText("control: "+e.String(), maxMarkerText)}
		switch {
		case e.Op == filter.EditLinkDown:
			re.spec = "port " + re.name
		case e.Op == filter.EditPartitionStart && len(e.Groups) > 0:
			specs := make([]string, len(e.Groups))
			for i, g := range e.Groups {
				specs[i] = strings.Join(g, ",")
			}
			re.spec = cleanText(strings.Join(specs, "|"), b.lim.MaxComment)
		}
		b.edits = append(b.edits, re)
	}
	peers, _ := hub.ParsePeers(comment)
	for _, pc := range peers {
		if len(b.peers) == maxEdits {
			break
		}
		if len(pc.Port) > maxPortName {
			continue // no lifeline has so long a name
		}
		text := "VM attached"
		if pc.Peer != "" && pc.Attached {
			text += " (" + pc.Peer + ")"
		}
		if !pc.Attached {
			text = "VM detached"
			if pc.Reason != "" {
				text += " (" + pc.Reason + ")"
			}
		}
		b.peers = append(b.peers, recordedPeer{port: pc.Port, at: pc.At, text: cleanText(text, maxMarkerText), number: number})
	}
}

// maxPortName bounds a lifeline's name: an interface's name cut to 64
// bytes, and a number to tell it from another of that name.
const maxPortName = 128

// recordedPeer is a VM attaching to or leaving its port, as its marker
// shows it, and the record whose comment notes it.
type recordedPeer struct {
	port   string
	at     time.Duration // policy time
	text   string        // "VM attached (tcp 127.0.0.1:40112)"
	number int
}

// recordedEdit is a change made through the control API, as a report
// keeps it, and the record whose comment notes it.
type recordedEdit struct {
	op   string // filter.Edit.Op
	name string // the rule, partition or port, cleaned
	// spec is a partition's groups ("a,b|c") or a link's "port b", for
	// the band a window draws, cleaned.
	spec   string
	text   string        // its marker: "control: rule loss-a-b added"
	at     time.Duration // run time
	number int
}

// controlMarkers puts each change made through the control API on the
// hub's line at its time ("control: rule loss-a-b added"), beside the
// consoles' markers.
func (b *builder) controlMarkers() {
	ms := make([]Marker, 0, len(b.edits))
	for _, e := range b.edits {
		ms = append(ms, Marker{Port: -1, Time: b.runTime(e.at), Text: e.text, Class: "control", Line: e.number, Log: "capture"})
	}
	ms, far, first := b.nearby(ms)
	b.addMarkers(ms)
	if far > 0 {
		b.warn("%d changes made through the control API are stamped more than %s before the capture's start or after its last frame and are not drawn (the first: on record %d)", far, markerMargin, first)
	}
	b.peerMarkers()
}

// peerMarkers puts each VM's attaching and leaving, as the capture notes
// them, on its port's lifeline at its time ("VM attached (tcp ...)"), so
// the frames dropped port-down before it or after it are explained where
// they are drawn.
func (b *builder) peerMarkers() {
	ms := make([]Marker, 0, len(b.peers))
	for _, pc := range b.peers {
		port, ok := b.ports[pc.port]
		if !ok {
			continue // a port the capture does not describe: nowhere to draw it
		}
		ms = append(ms, Marker{Port: port, Time: b.runTime(pc.at), Text: pc.text, Class: "control", Line: pc.number, Log: "capture"})
	}
	ms, far, first := b.nearby(ms)
	b.addMarkers(ms)
	if far > 0 {
		b.warn("%d VM attaches or detaches are stamped more than %s before the capture's start or after its last frame and are not drawn (the first: on record %d)", far, markerMargin, first)
	}
}

// controlBands gives the bands of partitions and links the control API
// set (b.edits) their exact edges, and a band of its own to such a window
// in which nothing was dropped. A band the drops drew belongs to the window
// of its kind and name in which its first drop fell.
func (b *builder) controlBands() {
	type window struct {
		kind, name, spec string
		on, off          time.Duration // off 0: still on at the end
	}
	var ws []window
	open := map[string]int{} // kind and name -> index into ws
	for _, e := range b.edits {
		at := b.runTime(e.at)
		key := "partition\x00" + e.name
		if e.op == filter.EditLinkDown || e.op == filter.EditLinkUp {
			key = "down\x00" + e.name
		}
		switch e.op {
		case filter.EditPartitionStart, filter.EditLinkDown:
			if _, ok := open[key]; ok {
				continue
			}
			w := window{kind: "partition", name: e.name, spec: e.spec, on: at}
			if e.op == filter.EditLinkDown {
				w = window{kind: "down", spec: e.spec, on: at}
			}
			open[key] = len(ws)
			ws = append(ws, w)
		case filter.EditPartitionHeal, filter.EditLinkUp:
			if i, ok := open[key]; ok {
				ws[i].off = max(at, 1)
				delete(open, key)
			}
		}
	}
	// The bands the drops drew, by the window they may belong to (a
	// partition's name, a link's "port b"), each list in the order of
	// their first drops, which is their time order: a window's bands are a
	// run of its list.
	drawn := map[string][]int{}
	for i, id := range b.drawnKeys {
		k := b.bandKeys[id-1]
		if key, ok := windowKey(k.action, k.rule, k.detail); ok {
			drawn[key] = append(drawn[key], i)
		}
	}
	more := 0
	for _, w := range ws {
		key, _ := windowKey(w.kind, w.name, w.spec)
		list := drawn[key]
		k, _ := slices.BinarySearchFunc(list, w.on, func(i int, on time.Duration) int { return cmp.Compare(b.m.Bands[i].Start, on) })
		found := false
		for ; k < len(list); k++ {
			bd := &b.m.Bands[list[k]]
			if w.off > 0 && bd.Start > w.off {
				break
			}
			if bd.Control {
				continue
			}
			bd.Control, bd.Began, bd.Ended = true, w.on, w.off
			found = true
		}
		if found {
			continue
		}
		if len(b.m.Bands) >= maxBands {
			more++
			continue
		}
		b.m.Bands = append(b.m.Bands, Band{
			Kind: w.kind, Ports: b.bandPorts(w.kind, w.spec, -1, -1),
			Start: w.on, End: w.on, Control: true, Began: w.on, Ended: w.off,
		})
		b.nameBand(&b.m.Bands[len(b.m.Bands)-1], w.name, w.spec)
	}
	if more > 0 {
		b.warn("%d more partitions or links set through the control API are not drawn as bands: a report draws at most %d", more, maxBands)
	}
}

// windowKey is the control window a band the drops drew may belong to: a
// partition's by its name, a link set down by its spec ("port b"); a link
// a schedule set down (it has a name) belongs to none.
func windowKey(kind, name, spec string) (string, bool) {
	switch {
	case kind == "partition":
		return kind + "\x00" + name, true
	case kind == "down" && name == "":
		return kind + "\x00" + spec, true
	}
	return "", false
}
