package report

import (
	"bufio"
	"bytes"
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
// sees the old file or the whole new one. It returns the page's size.
func (m *Model) WriteFile(path string) (int, error) {
	var page bytes.Buffer
	if err := m.WriteHTML(&page); err != nil {
		return 0, err
	}
	return page.Len(), atomicfile.WriteFile(path, page.Bytes(), 0o644)
}

// WriteHTML writes the model as one self-contained HTML page. The page
// loads nothing: its Content-Security-Policy allows only its own style and
// script (by hash) and data: images.
func (m *Model) WriteHTML(w io.Writer) error {
	data, err := json.Marshal(m.page()) // escapes <, > and &: the data cannot end its script element
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 1<<16)
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
	if _, err := bw.Write(data); err != nil {
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

// pageData is the JSON the page's script reads. Frames and deliveries are
// arrays with their trailing defaults left out, so that a 100 000-frame
// capture stays a page a browser opens at once:
//
//	frame:    [number, time, from, label, len, bytes, comment, deliveries, drops, group+1, findings, copies, more]
//	delivery: [number, to, time after the frame's, kind, comment, overtook, bytes]
//	drop:     [to, number, reason]
//
// Times are nanoseconds since start; labels and comments index labels and
// strs; bytes are base64.
type pageData struct {
	Title    string        `json:"title"`
	Capture  string        `json:"capture"`
	Start    string        `json:"start"`
	Duration int64         `json:"dur"`
	Records  int           `json:"records"`
	Inferred bool          `json:"inferred,omitempty"`
	Warnings []string      `json:"warnings"`
	Ports    []pagePort    `json:"ports"`
	Protos   []string      `json:"protos"`
	Labels   []string      `json:"labels"`
	LProto   []int         `json:"lproto"`
	Strs     []string      `json:"strs"`
	Frames   [][]any       `json:"frames"`
	Groups   []pageGroup   `json:"groups"`
	Bands    []pageBand    `json:"bands"`
	Markers  [][]any       `json:"markers"`
	Findings []pageFinding `json:"findings"`
	Check    *CheckSummary `json:"check"`
	Kinds    []string      `json:"kinds"`
	HexBytes int           `json:"hexBytes"`
	PerFrame int           `json:"perFrame"` // deliveries, drops and copies a frame keeps of each
}

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
var kindNames = []string{"delayed", "duplicate", "reordered", "corrupted", "inferred"}

func (m *Model) page() *pageData {
	p := &pageData{
		Title: m.Title, Capture: m.Capture, Start: m.Start.UTC().Format(time.RFC3339Nano),
		Duration: int64(m.Duration), Records: m.Records, Inferred: m.Inferred,
		Warnings: nonNil(m.Warnings), Check: m.Check, Kinds: kindNames,
		Protos: []string{ProtoARP, ProtoNXSB, ProtoNexus, ProtoTCP, ProtoUDP, ProtoICMP, ProtoIPv6, ProtoOther},
		Strs:   []string{""}, Frames: make([][]any, 0, len(m.Frames)), HexBytes: DefaultHexBytes, PerFrame: maxPerFrame,
		Groups: []pageGroup{}, Bands: []pageBand{}, Markers: [][]any{}, Findings: []pageFinding{},
		// Never null: the page maps over each list, empty or not.
		Ports: make([]pagePort, 0, len(m.Ports)), Labels: []string{}, LProto: []int{},
	}
	for _, port := range m.Ports {
		p.Ports = append(p.Ports, pagePort{Name: port.Name, Desc: port.Description, Logs: nonNil(port.Consoles)})
	}
	protoIdx := map[string]int{}
	for i, s := range p.Protos {
		protoIdx[s] = i
	}
	labels, strs := map[string]int{}, map[string]int{"": 0}
	label := func(l Label) int {
		if i, ok := labels[l.Text]; ok {
			return i
		}
		labels[l.Text] = len(p.Labels)
		p.Labels = append(p.Labels, l.Text)
		p.LProto = append(p.LProto, protoIdx[l.Proto])
		return len(p.Labels) - 1
	}
	str := func(s string) int {
		if i, ok := strs[s]; ok {
			return i
		}
		strs[s] = len(p.Strs)
		p.Strs = append(p.Strs, s)
		return len(p.Strs) - 1
	}
	b64 := func(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
	for _, f := range m.Frames {
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
		row := []any{f.Number, int64(f.Time), f.From, label(f.Label), f.Len, b64(f.Data), str(f.Comment),
			orZero(dl), orZero(dr), f.Group + 1, orZero(anySlice(f.Findings)), orZero(anySlice(f.Copies)), f.More}
		p.Frames = append(p.Frames, trim(row))
	}
	for _, g := range m.Groups {
		p.Groups = append(p.Groups, pageGroup{
			From: g.From, Label: g.Label, Count: len(g.Frames), First: g.Frames[0],
			Start: int64(g.Start), End: int64(g.End), To: nonNil(g.To), Drop: g.Drop, Nums: [2]int{g.First, g.Last},
		})
	}
	for _, b := range m.Bands {
		p.Bands = append(p.Bands, pageBand{
			Kind: b.Kind, Name: b.Name, Spec: b.Spec, Ports: nonNil(b.Ports), Start: int64(b.Start), End: int64(b.End),
			Drops: b.Drops, First: b.First, Last: b.Last, Healed: b.Healed, HealedAt: int64(b.HealedAt),
			Control: b.Control, Began: int64(b.Began), Ended: int64(b.Ended),
		})
	}
	for _, mk := range m.Markers {
		p.Markers = append(p.Markers, []any{mk.Port, int64(mk.Time), mk.Text, mk.Class, mk.Line, mk.Log})
	}
	for _, f := range m.Findings {
		p.Findings = append(p.Findings, pageFinding{
			ID: f.ID, Verdict: f.Verdict, Title: f.Title, Message: f.Message,
			Frames: nonNil(f.Frames), Count: f.Count, Pins: nonNil(f.Pins),
		})
	}
	return p
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
