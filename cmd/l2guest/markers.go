package main

import (
	"fmt"
	"net"
	"net/netip"
)

// The markers l2guest prints after "GUEST: ", which the labs wait for and
// judge by (testdata/labs); labs_test builds its list of what l2guest can
// print from these, so a marker changed here is checked against the labs.

// upMarker is printed once the NIC is up, before the checks run.
func upMarker(ip netip.Prefix, mac net.HardwareAddr, uptime string) string {
	return fmt.Sprintf("up ip=%s mac=%s uptime=%s", ip, mac, uptime)
}

// passedMarker is a check that passed, with its detail if it has one.
func passedMarker(name, detail string) string {
	if detail == "" {
		return name + " ok"
	}
	return name + " ok " + detail
}

// failedMarker is a check (or the config, or the network setup) that
// failed with err.
func failedMarker(name string, err error) string {
	return fmt.Sprintf("%s FAIL %v", name, err)
}

// doneMarker is the run's verdict, the last line.
func doneMarker(ok bool) string {
	if ok {
		return "done ok"
	}
	return "done FAIL"
}

// resumeWatchingMarker is printed once the resume check has a first reply
// from peer and watches the path to it go down.
func resumeWatchingMarker(peer netip.Addr) string {
	return fmt.Sprintf("resume watching peer=%s", peer)
}

// resumeLostMarker is printed when the path to peer went down after
// replies answered pings.
func resumeLostMarker(peer netip.Addr, replies int) string {
	return fmt.Sprintf("resume lost peer=%s after %d replies", peer, replies)
}
