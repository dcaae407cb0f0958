// Package unixhttp serves an HTTP handler on a unix socket of its own, for
// tests that show what a client (l2hub ctl, wait, control.Client) makes of
// a given answer of a hub's control API, without a hub: answers an older
// or a stopping hub gives, error bodies of any shape.
//
// Imports: nothing of l2hub.
package unixhttp
