// Package tied starts child processes whose parent-death signal means the
// death of this process, not of whichever thread happened to fork them.
//
// Linux's parent-death signal (SysProcAttr.Pdeathsig) fires when the
// thread that forked the child ends, not only when the process does, and
// the Go runtime ends a thread whose goroutine exits while locked to it
// (runtime.LockOSThread without a matching unlock: network namespace code
// does so on a failed restore, on purpose). Any goroutine's exec.Cmd.Start
// may run on a thread that another goroutine later locks and ends, and the
// child would then get its signal while this process lives on. Start forks
// every child from one goroutine locked to its thread for the life of the
// process, so the signal comes only when the process dies.
//
// The forking goroutine, once started, runs until the process ends: a
// package's goroutine leak check ignores the function named LeakIgnore.
//
// Concurrency contract: safe for concurrent use.
//
// Imports: nothing of l2hub.
package tied
