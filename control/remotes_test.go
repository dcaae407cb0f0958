package control_test

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"

	"l2hub/control"
	"l2hub/hub"
)

// heard is when the remotes of remotePorts last sent something.
var heard = time.Date(2025, 3, 1, 12, 0, 0, 500_000_000, time.UTC)

// remotePorts are a VXLAN port with three remote VTEPs (one heard, one
// never heard, one quiet) and a port without remotes.
func remotePorts() []hub.PortStatus {
	return []hub.PortStatus{
		{Name: "a", Attached: true, Peer: "tcp 127.0.0.1:7001 from 127.0.0.1:40000"},
		{Name: "ov", Attached: true, Peer: "vxlan 10.0.0.1:4789 vni 42 to 10.0.0.2:4789,10.0.0.30:4789,10.0.0.4:4789",
			Remotes: []hub.RemoteStatus{
				{Addr: "10.0.0.2", Sent: 12, Received: 9, LastHeard: heard},
				{Addr: "10.0.0.30", Sent: 12},
				{Addr: "10.0.0.4", Sent: 1234, Received: 5, LastHeard: heard.Add(-time.Minute), Quiet: true},
			}},
	}
}

func TestRemoteText(t *testing.T) {
	now := heard.Add(90*time.Second + 400*time.Millisecond)
	for _, tc := range []struct {
		name string
		r    hub.RemoteStatus
		want string
	}{
		{"heard", hub.RemoteStatus{Addr: "10.0.0.2", Sent: 12, Received: 9, LastHeard: heard}, "remote 10.0.0.2  sent 12  received 9  heard 1m30s ago"},
		{"never", hub.RemoteStatus{Addr: "10.0.0.3", Sent: 12}, "remote 10.0.0.3  sent 12  received 0  heard never"},
		{"quiet", hub.RemoteStatus{Addr: "10.0.0.4", Sent: 1, Received: 5, LastHeard: heard.Add(-time.Minute), Quiet: true},
			"remote 10.0.0.4  sent 1  received 5  heard 2m30s ago  quiet"},
		{"just-now", hub.RemoteStatus{Addr: "10.0.0.5", LastHeard: now.Add(-200 * time.Millisecond)}, "remote 10.0.0.5  sent 0  received 0  heard 0s ago"},
		{"ahead-of-this-clock", hub.RemoteStatus{Addr: "10.0.0.6", LastHeard: now.Add(time.Minute)}, "remote 10.0.0.6  sent 0  received 0  heard 0s ago"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := control.RemoteText(tc.r, now); got != tc.want {
				t.Errorf("got RemoteText(%+v) = %q, want %q", tc.r, got, tc.want)
			}
		})
	}
}

// TestCtlPortsShowsRemotes: ctl ports puts a port's remote VTEPs under its
// row, one line each, aligned among themselves, and leaves the table's
// columns as they were.
func TestCtlPortsShowsRemotes(t *testing.T) {
	var ports []control.PortStatus
	for _, p := range remotePorts() {
		ports = append(ports, control.PortStatus{PortStatus: p, Link: "up"})
	}
	var got bytes.Buffer
	if err := control.WritePorts(&got, ports); err != nil {
		t.Fatal(err)
	}
	var plain bytes.Buffer // the same ports without their remotes
	for i := range ports {
		ports[i].Remotes = nil
	}
	if err := control.WritePorts(&plain, ports); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(got.String(), "\n"), "\n")
	table := strings.Split(strings.TrimSuffix(plain.String(), "\n"), "\n")
	if len(lines) != 6 || len(table) != 3 {
		t.Fatalf("got %d lines (%d without remotes), want a header, 2 ports and 3 remotes:\n%s", len(lines), len(table), got.String())
	}
	for i, j := range []int{0, 1, 2} { // header, a, ov: as without remotes
		if lines[j] != table[i] {
			t.Errorf("got line %d %q, want the table's %q", j, lines[j], table[i])
		}
	}
	for i, want := range []*regexp.Regexp{
		regexp.MustCompile(`^  remote 10\.0\.0\.2   sent 12    received 9  heard [0-9hms]+ ago$`),
		regexp.MustCompile(`^  remote 10\.0\.0\.30  sent 12    received 0  heard never$`),
		regexp.MustCompile(`^  remote 10\.0\.0\.4   sent 1234  received 5  heard [0-9hms]+ ago  quiet$`),
	} {
		if line := lines[3+i]; !want.MatchString(line) {
			t.Errorf("got remote line %q, want it to match %s\n%s", line, want, got.String())
		}
	}
}

// TestMetricsExportRemotes: a VXLAN port's remote VTEPs have their
// datagram counters, their quiet flag and, once heard, when they were
// last heard, labelled by port and remote; the exposition lints clean.
func TestMetricsExportRemotes(t *testing.T) {
	text := collectorText(t, func(context.Context) ([]hub.PortStatus, error) { return remotePorts(), nil })
	wantMetrics(t, text,
		`l2hub_vxlan_remote_sent_datagrams_total{port="ov",remote="10.0.0.2"} 12`,
		`l2hub_vxlan_remote_sent_datagrams_total{port="ov",remote="10.0.0.4"} 1234`,
		`l2hub_vxlan_remote_received_datagrams_total{port="ov",remote="10.0.0.2"} 9`,
		`l2hub_vxlan_remote_received_datagrams_total{port="ov",remote="10.0.0.30"} 0`,
		`l2hub_vxlan_remote_last_heard_timestamp_seconds{port="ov",remote="10.0.0.2"} 1.7408304005e+09`,
		`l2hub_vxlan_remote_last_heard_timestamp_seconds{port="ov",remote="10.0.0.4"} 1.7408303405e+09`,
		`l2hub_vxlan_remote_quiet{port="ov",remote="10.0.0.2"} 0`,
		`l2hub_vxlan_remote_quiet{port="ov",remote="10.0.0.4"} 1`,
	)
	for _, absent := range []string{
		`l2hub_vxlan_remote_last_heard_timestamp_seconds{port="ov",remote="10.0.0.30"}`, // never heard: no sample
		`{port="a",remote=`, // a port without remotes has no remote series
	} {
		if strings.Contains(text, absent) {
			t.Errorf("metrics have %q, want none", absent)
		}
	}
	problems, err := promlint.New(strings.NewReader(text)).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
}

// TestMetricsExportLearningInOneScrape: a VXLAN port's learning table is
// exported by the same collector as its remotes, from the one call of
// ports each scrape makes (serve used to register a collector of its own
// for it, which asked the hub for every port's status a second time);
// a port without one has no learning series.
func TestMetricsExportLearningInOneScrape(t *testing.T) {
	calls := 0
	ports := func(context.Context) ([]hub.PortStatus, error) {
		calls++
		ps := remotePorts()
		ps[1].Learning = &hub.LearningStatus{Entries: 12, Size: 4096, Evicted: 3, Moves: 2}
		return ps, nil
	}
	text := collectorText(t, ports)
	if calls != 1 {
		t.Errorf("got %d calls of ports for one scrape, want 1", calls)
	}
	wantMetrics(t, text,
		`l2hub_vxlan_learned_macs{port="ov"} 12`,
		`l2hub_vxlan_learned_macs_limit{port="ov"} 4096`,
		`l2hub_vxlan_learning_evictions_total{port="ov"} 3`,
		`l2hub_vxlan_mac_moves_total{port="ov"} 2`,
	)
	if strings.Contains(text, `l2hub_vxlan_learned_macs{port="a"}`) {
		t.Errorf("port a, which has no learning table, has a learned_macs series")
	}
	problems, err := promlint.New(strings.NewReader(text)).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}
