// Package profile writes the CPU and allocation profiles a command's
// --cpuprofile and --memprofile flags ask for, for go tool pprof.
//
// Concurrency: the CPU profile is the process's one; call Start once per
// process, and its stop function once.
//
// Imports: nothing of l2hub.
package profile
