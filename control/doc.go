// Package control is l2hub's live control API: HTTP with JSON bodies, served
// on a unix socket by default (or loopback TCP, or any TCP address with a
// bearer token), and the client `l2hub ctl` uses.
//
//	GET    /v1/ports                   ports: peers, counters, link state, active partitions
//	GET    /v1/policy                  the policy in force
//	PUT    /v1/policy?name=FILE        replace it (validated whole; refused whole)
//	GET    /v1/rules                   per-rule counters
//	POST   /v1/partitions              {"name": "p1", "groups": [["a"], ["b"]]}; no groups: start the policy's partition p1
//	DELETE /v1/partitions/{name}       heal
//	POST   /v1/links/{port}/{up|down}  set a port's link state
//	GET    /metrics                    Prometheus metrics
//
// The server holds no hub state itself: it calls a Target, which runs each
// change on the hub loop, so a change is ordered with respect to frames.
// Server and Client are safe for concurrent use.
package control
