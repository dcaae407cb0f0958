package cli

import (
	"encoding/json"
	"io"
)

// WriteJSON writes v as indented JSON and a newline, as every --json
// document is written; a document's schema field is its caller's.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // "a->b" as it is: no page embeds this
	return enc.Encode(v)
}
