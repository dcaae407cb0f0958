package promtest

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// LabelsBy gathers g and returns, for the series of the metric name, the
// values of label grouped by the value of key, in the order gathered:
// LabelsBy(t, g, "l2hub_port_drops_total", "port", "reason") is each
// port's drop reasons.
func LabelsBy(t testing.TB, g prometheus.Gatherer, name, key, label string) map[string][]string {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			var k, v string
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case key:
					k = l.GetValue()
				case label:
					v = l.GetValue()
				}
			}
			got[k] = append(got[k], v)
		}
	}
	return got
}
