package checker

import (
	"bytes"
	"strings"
	"testing"
)

// mustPass are the checks a complete healthy nexus-v1 run passes.
var mustPass = []string{DISC001, DISC002, DISC003, DISC004, DISC005, DISC006, DISC008,
	SESS001, SESS002, SESS003, SESS004, SESS005, SESS006, MUX001, MUX002, MUX003, MUX004, PROXY001, PROXY002, PROXY003}

func verdictOf(r Report, id string) (Verdict, bool) {
	f, ok := r.First(id)
	return f.Verdict, ok
}

func dump(r Report) string {
	var b bytes.Buffer
	r.WriteText(&b)
	return b.String()
}

func TestHealthyRun(t *testing.T) {
	for _, mss := range []int{1460, 100, 7} {
		t.Run("mss-"+itoa(mss), func(t *testing.T) {
			var lines []string
			r := feed(t, Options{OnMilestone: func(l string) { lines = append(lines, l) }}, healthy(t, mss).frames)
			if r.Fail != 0 || r.Warn != 0 {
				t.Fatalf("got %d fail, %d warn, want none:\n%s", r.Fail, r.Warn, dump(r))
			}
			for _, id := range mustPass {
				if v, ok := verdictOf(r, id); !ok || v != Pass {
					t.Errorf("got %s = %v (found %v), want pass:\n%s", id, v, ok, dump(r))
				}
			}
			for _, id := range []string{NX01, NX02, NX03, NX04, NX05, NX07, NX08, NX09, NX10, NX12} {
				if v, ok := verdictOf(r, id); !ok || v != Info {
					t.Errorf("got %s = %v (found %v), want info", id, v, ok)
				}
			}
			want := []string{"nexus discovery ok node-a", "nexus discovery ok node-b", "nexus session ok node-a->node-b",
				"nexus mux ok", "nexus proxy ok service=samgrd", "nexus proxy ok service=bundlemgrd"}
			if got := strings.Join(lines, "\n"); got != strings.Join(want, "\n") {
				t.Errorf("got milestones\n%s\nwant\n%s", got, strings.Join(want, "\n"))
			}
		})
	}
}

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			break
		}
	}
	return string(b[i:])
}
