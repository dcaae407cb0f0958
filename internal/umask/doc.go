// Package umask tells tests which permission bits the process's umask
// takes from the files it creates, so that a test of a file's mode holds
// under any umask a user or a CI system runs it with (022, 002, 077).
//
// Concurrency contract: safe for concurrent use.
//
// Imports: nothing of l2hub.
package umask
