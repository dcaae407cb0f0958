package report

import (
	"bufio"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"html"
	"io"
	"time"

	"l2hub/internal/atomicfile"
)

// The page's parts. page.js draws the diagram from the JSON the page
// carries; it writes every text from the capture or the logs with
// textContent, never as markup.
var (
	//go:embed page/page.css
	pageCSS string
	//go:embed page/page.js
	pageJS string
	//go:embed page/body.html
	pageBody string
)

// WriteFile writes the page (WriteHTML) to path, atomically: a reader
// sees the old file or the whole new one. It returns the page's size. The
// page goes to the file as it is written, never whole in memory.
func (m *Model) WriteFile(path string) (int, error) {
	var n int64
	err := atomicfile.Write(path, 0o644, func(w io.Writer) error {
		cw := &countingWriter{w: w}
		err := m.WriteHTML(cw)
		n = cw.n
		return err
	})
	return int(n), err
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// pageBuffer is WriteHTML's buffer: the page goes to its writer in pieces
// of this size, a frame's row at a time, never whole.
const pageBuffer = 1 << 16

// WriteHTML writes the model as one self-contained HTML page. The page
// loads nothing: its Content-Security-Policy allows only its own style and
// script (by hash) and data: images.
func (m *Model) WriteHTML(w io.Writer) error {
	bw := bufio.NewWriterSize(w, pageBuffer)
	csp := "default-src 'none'; img-src data:; style-src '" + hashOf(pageCSS) + "'; script-src '" + hashOf(pageJS) + "'"
	for _, s := range []string{
		"<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n",
		"<meta http-equiv=\"Content-Security-Policy\" content=\"" + csp + "\">\n",
		"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n",
		"<meta name=\"generator\" content=\"l2hub report\">\n",
		"<title>" + html.EscapeString(m.Title) + " · l2hub report</title>\n",
		"<style>", pageCSS, "</style>\n</head>\n<body>\n",
		pageBody,
		"<script type=\"application/json\" id=\"l2hub-data\">",
	} {
		if _, err := bw.WriteString(s); err != nil {
			return err
		}
	}
	if err := m.writeData(bw); err != nil {
		return err
	}
	for _, s := range []string{"</script>\n<script>", pageJS, "</script>\n</body>\n</html>\n"} {
		if _, err := bw.WriteString(s); err != nil {
			return err
		}
	}
	return bw.Flush()
}

func hashOf(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "sha256-" + base64.StdEncoding.EncodeToString(sum[:])
}

// The page's data is one JSON object, which the page's script reads
// (writeData). Frames and deliveries are arrays with their trailing
// defaults left out, so that a 100 000-frame capture stays a page a
// browser opens at once:
//
//	frame:    [number, time, from, label, len, bytes, comment, deliveries, drops, group+1, findings, copies, more]
//	delivery: [number, to, time after the frame's, kind, comment, overtook, bytes]
//	drop:     [to, number, reason]
//
// Times are nanoseconds since start; labels and comments index labels and
// strs; bytes are base64. The other fields: title, capture, start, dur,
// records, inferred, warnings, ports, protos, kinds, perFrame,
// check, groups, bands, markers, findings, lproto (each label's protocol).

type pagePort struct {
	Name string   `json:"name"`
	Desc string   `json:"desc"`
	Logs []string `json:"logs"`
}

type pageGroup struct {
	From  int    `json:"from"`
	Label string `json:"label"`
	Count int    `json:"count"`
	First int    `json:"first"` // index into frames
	Start int64  `json:"start"`
	End   int64  `json:"end"`
	To    []int  `json:"to"`
	Drop  string `json:"drop"`
	Nums  [2]int `json:"nums"` // first and last capture numbers
}

type pageBand struct {
	Kind     string `json:"kind"`
	Name     string `json:"name"`
	Spec     string `json:"spec"`
	Ports    []int  `json:"ports"`
	Start    int64  `json:"start"`
	End      int64  `json:"end"`
	Drops    int    `json:"drops"`
	First    int    `json:"first"`
	Last     int    `json:"last"`
	Healed   int    `json:"healed"`
	HealedAt int64  `json:"healedAt"`
	Control  bool   `json:"control,omitempty"`
	Began    int64  `json:"began,omitempty"`
	Ended    int64  `json:"ended,omitempty"`
}

type pageFinding struct {
	ID      string `json:"id"`
	Verdict string `json:"verdict"`
	Title   string `json:"title"`
	Message string `json:"msg"`
	Frames  []int  `json:"frames"`
	Count   int    `json:"count"`
	Pins    []int  `json:"pins"`
}

// DeliveryKind bits as the page names them, in bit order.
var kindNames = []string{"delayed", "duplicate", "reordered", "corrupted", "inferred", "injected"}

// jsonObject writes a JSON object field by field. Its encoder escapes <,
// > and &: the data cannot end its script element. Errors stick, and Close
// returns the first.
type jsonObject struct {
	w   *bufio.Writer
	enc *json.Encoder
	n   int
	err error
}

func newJSONObject(w *bufio.Writer) *jsonObject {
	w.WriteByte('{')
	return &jsonObject{w: w, enc: json.NewEncoder(w)}
}

// key starts a field; name is one of the page's own, no escaping needed.
func (o *jsonObject) key(name string) {
	if o.n > 0 {
		o.w.WriteByte(',')
	}
	o.n++
	o.w.WriteString(`"` + name + `":`)
}

func (o *jsonObject) field(name string, v any) {
	o.key(name)
	o.value(v)
}

func (o *jsonObject) value(v any) {
	if err := o.enc.Encode(v); err != nil && o.err == nil {
		o.err = err
	}
}

func (o *jsonObject) close() error {
	if err := o.w.WriteByte('}'); err != nil && o.err == nil {
		o.err = err
	}
	return o.err
}

// writeData writes the page's data, frame by frame: its size follows the
// capture, the memory it takes does not.
func (m *Model) writeData(w *bufio.Writer) error {
	o := newJSONObject(w)
	o.field("title", m.Title)
	o.field("capture", m.Capture)
	o.field("start", m.Start.UTC().Format(time.RFC3339Nano))
	o.field("dur", int64(m.Duration))
	o.field("records", m.Records)
	if m.Inferred {
		o.field("inferred", true)
	}
	o.field("warnings", nonNil(m.Warnings))
	// Never null: the page maps over each list, empty or not.
	ports := make([]pagePort, 0, len(m.Ports))
	for _, port := range m.Ports {
		ports = append(ports, pagePort{Name: port.Name, Desc: port.Description, Logs: nonNil(port.Consoles)})
	}
	o.field("ports", ports)
	protos := []string{ProtoARP, ProtoNXSB, ProtoNexus, ProtoTCP, ProtoUDP, ProtoICMP, ProtoIPv6, ProtoOther}
	o.field("protos", protos)
	o.field("kinds", kindNames)
	o.field("perFrame", maxPerFrame)
	o.field("check", m.Check)
	groups := make([]pageGroup, 0, len(m.Groups))
	for _, g := range m.Groups {
		groups = append(groups, pageGroup{
			From: g.From, Label: g.Label, Count: len(g.Frames), First: g.Frames[0],
			Start: int64(g.Start), End: int64(g.End), To: nonNil(g.To), Drop: g.Drop, Nums: [2]int{g.First, g.Last},
		})
	}
	o.field("groups", groups)
	bands := make([]pageBand, 0, len(m.Bands))
	for _, b := range m.Bands {
		bands = append(bands, pageBand{
			Kind: b.Kind, Name: b.Name, Spec: b.Spec, Ports: nonNil(b.Ports), Start: int64(b.Start), End: int64(b.End),
			Drops: b.Drops, First: b.First, Last: b.Last, Healed: b.Healed, HealedAt: int64(b.HealedAt),
			Control: b.Control, Began: int64(b.Began), Ended: int64(b.Ended),
		})
	}
	o.field("bands", bands)
	markers := make([][]any, 0, len(m.Markers))
	for _, mk := range m.Markers {
		markers = append(markers, []any{mk.Port, int64(mk.Time), mk.Text, mk.Class, mk.Line, mk.Log})
	}
	o.field("markers", markers)
	findings := make([]pageFinding, 0, len(m.Findings))
	for _, f := range m.Findings {
		findings = append(findings, pageFinding{
			ID: f.ID, Verdict: f.Verdict, Title: f.Title, Message: f.Message,
			Frames: nonNil(f.Frames), Count: f.Count, Pins: nonNil(f.Pins),
		})
	}
	o.field("findings", findings)

	// The frames, one row at a time; the labels and texts they cite are
	// numbered as they come and written after them.
	protoIdx := map[string]int{}
	for i, s := range protos {
		protoIdx[s] = i
	}
	labelIdx, strIdx := map[string]int{}, map[string]int{"": 0}
	labels, lproto, strs := []string{}, []int{}, []string{""}
	label := func(l Label) int {
		if i, ok := labelIdx[l.Text]; ok {
			return i
		}
		labelIdx[l.Text] = len(labels)
		labels = append(labels, l.Text)
		lproto = append(lproto, protoIdx[l.Proto])
		return len(labels) - 1
	}
	str := func(s string) int {
		if i, ok := strIdx[s]; ok {
			return i
		}
		strIdx[s] = len(strs)
		strs = append(strs, s)
		return len(strs) - 1
	}
	b64 := func(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
	o.key("frames")
	w.WriteByte('[')
	for i, f := range m.Frames {
		if i > 0 {
			w.WriteByte(',')
		}
		var dl []any
		for _, d := range f.Deliveries {
			a := []any{d.Number, d.To, int64(d.Time - f.Time), int(d.Kind), str(d.Comment), d.Overtook}
			if d.Data != nil {
				a = append(a, b64(d.Data))
			}
			dl = append(dl, trim(a))
		}
		var dr []any
		for _, d := range f.Drops {
			dr = append(dr, []any{d.To, d.Number, str(d.Reason)})
		}
		injected := 0
		if f.Injected {
			injected = 1
		}
		o.value(trim([]any{f.Number, int64(f.Time), f.From, label(f.Label), f.Len, b64(f.Data), str(f.Comment),
			orZero(dl), orZero(dr), f.Group + 1, orZero(anySlice(f.Findings)), orZero(anySlice(f.Copies)), f.More, injected}))
	}
	w.WriteByte(']')
	o.field("labels", labels)
	o.field("lproto", lproto)
	// One text at a time: an encoder holds what it encodes whole.
	o.key("strs")
	w.WriteByte('[')
	for i, s := range strs {
		if i > 0 {
			w.WriteByte(',')
		}
		o.value(s)
	}
	w.WriteByte(']')
	return o.close()
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func anySlice(s []int) []any {
	if len(s) == 0 {
		return nil
	}
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// orZero writes an empty list as 0, which trim can then leave out.
func orZero(s []any) any {
	if len(s) == 0 {
		return 0
	}
	return s
}

// trim leaves out trailing zero values (0 and ""): the page reads a
// missing element as its zero.
func trim(a []any) []any {
	n := len(a)
	for n > 0 {
		switch v := a[n-1].(type) {
		case int:
			if v != 0 {
				return a[:n]
			}
		case int64:
			if v != 0 {
				return a[:n]
			}
		case string:
			if v != "" {
				return a[:n]
			}
		default:
			return a[:n]
		}
		n--
	}
	return a[:n]
}
