package capture

import (
	"encoding/json"
	"reflect"
	"testing"
)

// TestStatsJSONNames: Stats marshals with snake_case names, as the rest of
// l2hub's JSON (serve's summary says queue_full and write_error), never
// with Go's field names; every field has one.
func TestStatsJSONNames(t *testing.T) {
	b, err := json.Marshal(Stats{Observed: 1, Written: 2, Bytes: 3, Files: 4, QueueFull: 5, WriteError: 6, ReaderGone: 8, Stuck: 9, Closed: 7})
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]uint64
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]uint64{"observed": 1, "written": 2, "bytes": 3, "files": 4, "queue_full": 5, "write_error": 6, "reader_gone": 8, "stuck": 9, "closed": 7}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Stats marshals as %s, want the keys of %v", b, want)
	}
}
