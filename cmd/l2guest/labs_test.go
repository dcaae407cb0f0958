package main

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"l2hub/conformance"
	"l2hub/lab"
)

// guestMarkers are lines l2guest can print, one of each kind, through its
// console: every check's result, every node milestone, and the run's own.
// Each is built by the function l2guest prints it with (markers.go,
// nexusPassed, conformance.Milestone), never copied, so a marker renamed
// there is one the labs' patterns are checked against.
func guestMarkers() []string {
	var b strings.Builder
	con := &console{w: &b}
	ip, peer := netip.MustParsePrefix("10.42.0.10/24"), netip.MustParseAddr("10.42.0.11")
	mac := net.HardwareAddr{0x52, 0x54, 0x00, 0x12, 0x34, 0x0a}
	bad := errors.New("bad")
	con.mark("%s", upMarker(ip, mac, "3.57"))
	con.mark("%s", failedMarker("config", bad))
	con.mark("%s", failedMarker("net", bad))
	con.mark("%s", resumeWatchingMarker(peer))
	con.mark("%s", resumeLostMarker(peer, 3))
	for _, name := range append(checkNames(), "sync") {
		if name == "sleepN" {
			name = "sleep1"
		}
		con.mark("%s", passedMarker(name, ""))
		con.mark("%s", passedMarker(name, "detail"))
		con.mark("%s", failedMarker(name, bad))
	}
	con.mark("%s", doneMarker(true))
	con.mark("%s", doneMarker(false))
	roles := []conformance.Role{conformance.RoleA, conformance.RoleB}
	for _, r := range roles {
		con.mark("%s", passedMarker("nexus", nexusPassed(r, "announces=1", 2)))
	}
	names := []string{conformance.MilestoneAnnounce, conformance.MilestoneDiscovery, conformance.MilestoneSession,
		conformance.MilestoneMux, conformance.MilestoneProxy, conformance.MilestoneProbe}
	statuses := []conformance.Status{conformance.StatusOK, conformance.StatusFail, conformance.StatusDenied, conformance.StatusAbsent}
	for _, r := range roles {
		for _, n := range names {
			for _, st := range statuses {
				con.mark("%s", conformance.Milestone{Role: r, Name: n, Status: st, Detail: "peer=" + r.Peer().String()})
			}
		}
	}
	return strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
}

// TestLabPatternsMatchGuestMarkers: every pattern a lab file in
// testdata/labs waits for, fails on, counts as evidence or triggers on in
// l2guest's output ("GUEST: ...") matches a line l2guest can print; one
// that cannot (a wrong case: "nexus session FAIL" for the milestone's
// "nexus session fail") would never be seen.
func TestLabPatternsMatchGuestMarkers(t *testing.T) {
	guest := t.TempDir()
	for _, f := range []string{"vmlinuz", "initramfs.cpio.gz"} {
		if err := os.WriteFile(filepath.Join(guest, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	files, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "labs", "*.yaml"))
	markers := guestMarkers()
	checked := 0
	for _, f := range files {
		if filepath.Base(f) == "os2vm.yaml" {
			continue // the OS's markers, not l2guest's
		}
		l, err := lab.Load(f, lab.LoadOptions{Vars: map[string]string{"GUEST": guest}, LookPath: func(name string) (string, error) { return "/usr/bin/" + name, nil }})
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		type use struct {
			where string
			p     lab.Pattern
		}
		var uses []use
		for _, vm := range l.VMs {
			for _, e := range vm.Expect {
				uses = append(uses, use{"vm " + vm.Name + " expect", e.Marker})
			}
			for _, p := range vm.FailOn {
				uses = append(uses, use{"vm " + vm.Name + " fail_on", p})
			}
		}
		for _, ph := range l.Phases {
			for i := range l.VMs {
				for _, p := range ph.Markers[i] {
					uses = append(uses, use{"phase " + ph.Name + " markers", p})
				}
				if i < len(ph.Evidence) {
					for _, p := range ph.Evidence[i] {
						uses = append(uses, use{"phase " + ph.Name + " evidence", p})
					}
				}
			}
		}
		for _, tr := range l.Triggers {
			if tr.OnVM >= 0 {
				uses = append(uses, use{"trigger " + tr.Text, tr.On})
			}
		}
		for _, u := range uses {
			if !strings.Contains(u.p.String(), "GUEST:") {
				continue // the kernel's ("Kernel panic")
			}
			checked++
			if !slices.ContainsFunc(markers, u.p.Match) {
				t.Errorf("%s: %s: %q matches no line l2guest prints, such as:\n%s", filepath.Base(f), u.where, u.p, strings.Join(markers, "\n"))
			}
		}
	}
	if checked == 0 {
		t.Fatalf("got no l2guest pattern in %v, want the pair labs'", files)
	}
}
