package control

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"unicode"

	"l2hub/internal/yamlfile"
)

// decodeJSON decodes a JSON request body of at most max bytes into v, as
// one JSON value with v's fields only, each given once: encoding/json
// would keep the last of a key given twice, and matches keys without
// regard to case, so {"name":"p","Name":"q"} would silently mean "q". The
// errors are UserErrors that start with what.
func decodeJSON(r io.Reader, max int64, what string, v any) error {
	data, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return &UserError{fmt.Errorf("%s: read: %w", what, err)}
	}
	if int64(len(data)) > max {
		return &UserError{&tooLarge{what, max}}
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return &UserError{fmt.Errorf("%s: empty body: want one JSON object", what)}
	}
	if err := checkKeysOnce(data); err != nil {
		return &UserError{fmt.Errorf("%s: %w", what, err)}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return &UserError{fmt.Errorf("%s: %w", what, err)}
	}
	if _, err := dec.Token(); err != io.EOF {
		return &UserError{fmt.Errorf("%s: more than one JSON value", what)}
	}
	return nil
}

// checkKeysOnce refuses an object in data that gives a key twice, keys
// compared as encoding/json matches them to fields (ignoring case). What
// is not JSON it leaves to the decoder, which says where.
func checkKeysOnce(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	// One frame per open object or array; an object's expects a key next
	// (key) and holds the keys given so far, folded.
	type frame struct {
		object, key bool
		keys        map[string]string
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil // the end, or not JSON: the decoder's to report
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if k, ok := tok.(string); ok && top != nil && top.object && top.key {
			if first, twice := top.keys[foldKey(k)]; twice {
				if first != k {
					return fmt.Errorf("key %s given twice (first as %s; keys match fields whatever their case)", yamlfile.Quote(k), yamlfile.Quote(first))
				}
				return fmt.Errorf("key %s given twice", yamlfile.Quote(k))
			}
			top.keys[foldKey(k)] = k
			top.key = false
			continue
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{object: true, key: true, keys: map[string]string{}})
			continue
		case json.Delim('['):
			stack = append(stack, &frame{})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1] // Token hands out no close without its open
		}
		// A value ended: an object's next token is a key.
		if len(stack) > 0 && stack[len(stack)-1].object {
			stack[len(stack)-1].key = true
		}
	}
}

// foldKey folds k so that two keys fold alike when encoding/json would
// match them to the same field: each rune becomes the least of those
// unicode.SimpleFold equates with it (as strings.EqualFold compares).
func foldKey(k string) string {
	var b strings.Builder
	for _, r := range k {
		least := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			least = min(least, f)
		}
		b.WriteRune(least)
	}
	return b.String()
}
