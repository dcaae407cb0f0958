package serve_test

import (
	"context"
	"testing"

	"l2hub/hub"
	"l2hub/serve"
	"l2hub/transport"
)

// TestQueueSettingReachesTheHub: queue: and overflow: (--queue,
// --overflow) set every port's flow control, and a port's own queue=
// option overrides it; the setting is not only parsed but in force.
func TestQueueSettingReachesTheHub(t *testing.T) {
	cfg := serve.Config{Mode: hub.ModeHub, Queue: 8, Overflow: hub.OverflowDrop, Control: "off", Ports: []transport.Spec{
		{Name: "a", Transport: transport.TCP, Address: "127.0.0.1:0"},
		{Name: "b", Transport: transport.TCP, Address: "127.0.0.1:0", Options: transport.SpecOptions{"queue": "32"}},
	}}
	sess := startSession(t, cfg, nil)
	ports, err := sess.Ports(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]hub.FlowStatus{
		"a": {Overflow: hub.OverflowDrop, QueueLen: 8},
		"b": {Overflow: hub.OverflowDrop, QueueLen: 32},
	}
	for _, p := range ports {
		w, ok := want[p.Name]
		if !ok {
			t.Errorf("got port %q, want only a and b", p.Name)
			continue
		}
		delete(want, p.Name)
		if p.Flow.QueueLen != w.QueueLen || p.Flow.Overflow != w.Overflow {
			t.Errorf("got port %s queue %d, overflow %s; want queue %d, overflow %s", p.Name, p.Flow.QueueLen, p.Flow.Overflow, w.QueueLen, w.Overflow)
		}
	}
	for name := range want {
		t.Errorf("port %s missing from Ports", name)
	}
}
