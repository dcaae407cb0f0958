package control

import (
	"strings"
	"testing"
)

// TestCheckKeysOnce: a key given twice in any object of a JSON value is
// refused, keys compared as encoding/json matches them to fields (without
// regard to case); the same key in two objects, a key's text as a value,
// and what is not JSON (the decoder's to report) pass.
func TestCheckKeysOnce(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{"name":"p","name":"q"}`, `key "name" given twice`},
		{`{"name":"p","Name":"q"}`, `key "Name" given twice (first as "name"; keys match fields whatever their case)`},
		{`{"kelvin":1,"\u212aelvin":2}`, "key \"\u212aelvin\" given twice (first as \"kelvin\""}, // the Kelvin sign folds to k
		{`{"a":{"b":1,"b":2}}`, `key "b" given twice`},
		{`[{"a":1},{"b":[{"c":1,"c":2}]}]`, `key "c" given twice`},
		{`{"a":{"x":1},"a":2}`, `key "a" given twice`},
		{`{"a":[1,{"a":1}],"b":"a"}`, ""},
		{`{"a":1} {"a":1}`, ""},
		{`{"a":"a","b":{"a":"b"},"c":[{"a":1},{"a":2}]}`, ""},
		{`{"name":`, ""},
		{`not json`, ""},
	} {
		err := checkKeysOnce([]byte(tc.in))
		if got := errString(err); got != tc.want && !(tc.want != "" && strings.HasPrefix(got, tc.want)) {
			t.Errorf("got checkKeysOnce(%s) = %v, want %q", tc.in, err, tc.want)
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
