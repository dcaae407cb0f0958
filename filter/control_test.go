package filter

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestStatsConcurrentWithDecide(t *testing.T) {
	// Run under -race: Stats reads while the loop decides and adds partitions.
	p := mustParse(t, goldenPolicy)
	stop := readStats(p)
	for i := range 2000 {
		decide(p, time.Duration(i)*time.Millisecond, link("a", "b"), plain())
		if i == 1000 {
			if _, err := p.AddPartition(time.Second, "", [][]string{{"a"}, {"b"}}); err != nil {
				t.Error(err)
			}
		}
	}
	stop()
	st := p.Stats()
	if st.Rules[0].Matched != 1001 || len(st.Partitions) != 1 || !st.Partitions[0].Active {
		t.Errorf("got %+v, want 1001 matched by lossy and one active partition", st)
	}
}

func TestDescribeJSON(t *testing.T) {
	p := mustLoad(t, "partition.yaml")
	b, err := json.Marshal(p.Describe(3 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var d Description
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	if len(d.Partitions) != 2 || !d.Partitions[0].Active || d.Partitions[0].Groups != "a,b|c" ||
		d.Partitions[1].Schedule != "start after rule hello matched 10 times on a->c, for 1s" {
		t.Errorf("got partitions %+v", d.Partitions)
	}
	if d.Groups["west"][1] != "b" || d.Rules[0].Match != "link=a->c payload=\"hello\"" {
		t.Errorf("got groups %v rules %+v", d.Groups, d.Rules)
	}
	if s := d.String(); !strings.Contains(s, "partition west-c a,b|c 2s-5s: ACTIVE") {
		t.Errorf("String() = %q, want the active partition", s)
	}
}
