// Package unixpath holds the longest path a unix socket can be bound or
// dialled at, for every package that checks or shows one: control (its
// socket), transport (a port's), serve (the address it shows) and lab
// (where a run's sockets go).
//
// Concurrency contract: a constant only.
//
// Imports: nothing of l2hub.
package unixpath
