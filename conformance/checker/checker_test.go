package checker

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"l2hub/conformance"
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

// TestReportCountsVerdicts: the report's counts, in the struct, the
// verdict line and the JSON, are those of its findings, for every verdict
// (a golden report of a healthy run has no warning to count).
func TestReportCountsVerdicts(t *testing.T) {
	c := host{mustMAC("52:54:00:12:34:0c"), netip.MustParseAddr("10.42.0.12")}
	b := newBuilder(t)
	b.add(b.udp(hostA, hostA.ip, c.mac, c.ip, 37020, 37020, announceOf(t, conformance.RoleA))) // DISC-006 warn
	b.fragments(hostA, hostB, announceOf(t, conformance.RoleA))                                // NET-002 warn
	r := feed(t, Options{}, b.frames)
	want := map[Verdict]int{}
	for _, f := range r.Findings {
		want[f.Verdict]++
	}
	got := map[Verdict]int{Pass: r.Pass, Info: r.Info, Warn: r.Warn, Fail: r.Fail}
	for _, v := range []Verdict{Fail, Warn, Pass, Info} {
		if want[v] == 0 {
			t.Fatalf("no %v finding to count, want the capture to give each verdict:\n%s", v, dump(r))
		}
		if got[v] != want[v] {
			t.Errorf("got %d %v in the report, want %d, its %v findings:\n%s", got[v], v, want[v], v, dump(r))
		}
	}
	line := fmt.Sprintf("%d fail, %d warn, %d pass, %d info (", want[Fail], want[Warn], want[Pass], want[Info])
	if text := dump(r); !strings.Contains(text, line) {
		t.Errorf("got verdict line %q, want one with %q", strings.SplitN(text, "\n", 2)[0], line)
	}
	j, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var counts struct{ Pass, Info, Warn, Fail int }
	if err := json.Unmarshal(j, &counts); err != nil {
		t.Fatal(err)
	}
	if counts.Warn != want[Warn] || counts.Fail != want[Fail] || counts.Pass != want[Pass] || counts.Info != want[Info] {
		t.Errorf("got JSON counts %+v, want %d fail, %d warn, %d pass, %d info", counts, want[Fail], want[Warn], want[Pass], want[Info])
	}
}
