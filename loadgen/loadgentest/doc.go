// Package loadgentest holds the benchmark bodies that drive the load
// generator's VMs from a testing.B, so that package testing stays out of
// the l2hub binary: only tests import this package.
//
// Imports: loadgen and transport; only tests import it.
package loadgentest
