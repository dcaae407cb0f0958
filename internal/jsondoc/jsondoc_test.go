package jsondoc

import (
	"bytes"
	"io"
	"testing"
)

func TestWriteJSON(t *testing.T) {
	var out bytes.Buffer
	if err := WriteJSON(&out, map[string]any{"link": "a->b", "n": []int{1}}); err != nil {
		t.Fatal(err)
	}
	want := "{\n  \"link\": \"a->b\",\n  \"n\": [\n    1\n  ]\n}\n"
	if out.String() != want {
		t.Errorf("got WriteJSON = %q, want %q", out.String(), want)
	}
}

// WriteDocument writes what WriteJSON writes of the struct with Schema and
// the value embedded, which the commands wrote before it.
func TestWriteDocument(t *testing.T) {
	type fields struct {
		Link string `json:"link"`
		N    []int  `json:"n,omitempty"`
	}
	for _, v := range []*fields{{Link: "a->b<c>&", N: []int{1, 2}}, {}, nil} {
		var want, got bytes.Buffer
		if err := WriteJSON(&want, struct {
			Schema int `json:"schema"`
			*fields
		}{3, v}); err != nil {
			t.Fatal(err)
		}
		if err := WriteDocument(&got, 3, v); err != nil {
			t.Fatal(err)
		}
		if got.String() != want.String() {
			t.Errorf("got WriteDocument(3, %+v) = %q, want %q", v, got.String(), want.String())
		}
	}
	if err := WriteDocument(io.Discard, 1, []int{1}); err == nil {
		t.Errorf("got WriteDocument of a list: no error, want one")
	}
}
