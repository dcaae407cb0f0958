// Package idle tells when every goroutine of the process but the caller is
// blocked (Settle): the one place l2hub reads the runtime's goroutine
// states, for the netstack simulation (internal/vsim), which moves virtual
// time only when the whole process is idle. It parses runtime.Stack's dump,
// the only public view of every goroutine's state. (testing/synctest's Wait
// answers the same question inside a bubble, but counts a goroutine waiting
// for a mutex as busy, and the network stacks wait on mutexes.)
//
// It is a test facility: the process must not run work that depends on
// wall-clock timers or I/O while it waits.
//
// Imports: nothing of l2hub.
package idle
