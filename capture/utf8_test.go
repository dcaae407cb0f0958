package capture

import (
	"strings"
	"testing"
	"unicode/utf8"

	"l2hub/hub"
)

// TestTextIsUTF8: pcapng's text options are UTF-8. A port whose address
// has a stray byte (a socket path), a note, an annotation or a Meta value
// with one is written with each such byte as the text \xNN, so that
// readers (capinfos) show the text and the byte is still named.
func TestTextIsUTF8(t *testing.T) {
	fs := newMemFS()
	cfg := memConfig(fs)
	cfg.Meta.Extra = map[string]string{"policy-name": "p\xff"}
	s := mustOpen(t, cfg)
	s.PortAdded(hub.PortInfo{ID: 0, Name: "a", Description: "unix:/tmp/x\xff\xfe.sock"})
	ev := hub.Event{Time: t0, Port: 0, PortName: "a", Frame: frame(60, 1, 2, 0),
		Notes: []hub.Note{{Rule: "r", Action: "drop", Detail: "bad\xc3byte"}}}
	s.Annotate("control at 0s: partition \xfe")
	s.Observe(&ev)
	s.Annotate("control at 1s: é\xff") // after the last frame: the trailer
	mustClose(t, s)

	pk, r := readAll(t, fs.file(t, cfg.Path))
	texts := map[string]string{
		"if_description":  r.Interfaces()[0].Description,
		"section comment": r.Section().Comment,
		"packet comment":  pk[0].Comment,
		"trailer":         r.Trailer(),
	}
	for what, s := range texts {
		if !utf8.ValidString(s) {
			t.Errorf("%s %q is not UTF-8", what, s)
		}
	}
	for what, want := range map[string]string{
		"if_description":  `unix:/tmp/x\xff\xfe.sock`,
		"section comment": `policy-name=p\xff`,
		"packet comment":  `bad\xc3byte`,
		"trailer":         `control at 1s: é\xff`,
	} {
		if !strings.Contains(texts[what], want) {
			t.Errorf("%s %q, want it to hold %q", what, texts[what], want)
		}
	}
	if !strings.Contains(pk[0].Comment, `partition \xfe`) {
		t.Errorf("packet comment %q, want the annotation with its byte named", pk[0].Comment)
	}
}
