package jsondoc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
)

// WriteJSON writes v as indented JSON and a newline, as every --json
// document is written; a document's schema field is its caller's.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // "a->b" as it is: no page embeds this
	return enc.Encode(v)
}

// WriteDocument writes v, which encodes as a JSON object (or null, taken
// as {}), as WriteJSON does, with "schema": schema put before its fields,
// as every --json document starts: what WriteJSON writes of a struct with
// a Schema int `json:"schema"` field and v embedded after it. v's own
// fields must not include a schema.
func WriteDocument(w io.Writer, schema int, v any) error {
	var compact bytes.Buffer
	enc := json.NewEncoder(&compact)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	fields := bytes.TrimSpace(compact.Bytes())
	if string(fields) == "null" { // an embedded nil pointer adds no fields
		fields = []byte("{}")
	}
	if len(fields) < 2 || fields[0] != '{' {
		return fmt.Errorf("JSON document: %T is not an object", v)
	}
	doc := []byte(`{"schema":` + strconv.Itoa(schema))
	if len(fields) > 2 {
		doc = append(doc, ',')
	}
	doc = append(doc, fields[1:]...)
	var out bytes.Buffer
	if err := json.Indent(&out, doc, "", "  "); err != nil {
		return err
	}
	out.WriteByte('\n')
	_, err := w.Write(out.Bytes())
	return err
}
