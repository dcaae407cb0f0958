package capture

import (
	"fmt"
	"strings"
	"testing"
)

// epbLen, with which the rotation bound and a batch's room are counted,
// is the size appendEPB writes, for every padding and comment (one cut
// into several options too).
func TestEPBLenIsWhatAppendEPBWrites(t *testing.T) {
	for capLen := range 10 {
		for _, comment := range []string{"", "x", "abcde", strings.Repeat("é", 40000)} {
			t.Run(fmt.Sprintf("caplen-%d-comment-%d", capLen, len(comment)), func(t *testing.T) {
				data, c := make([]byte, capLen), []byte(comment)
				if got, want := len(appendEPB(nil, 0, 1, data, capLen, flagsInbound, c)), epbLen(capLen, c); got != want {
					t.Errorf("got len(appendEPB(...)) = %d, want epbLen = %d", got, want)
				}
			})
		}
	}
}

// A statistics block is stamped with its interface's last record, high
// word and low: here the records span a 2^32 ns boundary, so the first
// record's high word would be another time.
func TestStatisticsBlockIsStampedWithTheLastRecord(t *testing.T) {
	st := ifStats{first: 1<<32 - 10, last: 1<<32 + 10, records: 2}
	b := appendISB(nil, 0, &st, nil, "", nil)
	if got := uint64(le.Uint32(b[12:]))<<32 | uint64(le.Uint32(b[16:])); got != st.last {
		t.Errorf("got block timestamp %d ns, want the last record's %d", got, st.last)
	}
}
