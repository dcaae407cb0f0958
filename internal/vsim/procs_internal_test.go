package vsim

import (
	"os"
	"runtime"
	"testing"
)

// countDefaults makes setDefaultProcs count its calls, for the test.
func countDefaults(t *testing.T) *int {
	t.Helper()
	if procs.open != 0 {
		t.Fatalf("%d Sims open: the test needs none", procs.open)
	}
	calls := new(int)
	setDefaultProcs = func() {
		*calls++
		runtime.SetDefaultGOMAXPROCS()
	}
	old := runtime.GOMAXPROCS(0)
	t.Cleanup(func() {
		setDefaultProcs = runtime.SetDefaultGOMAXPROCS
		if os.Getenv("GOMAXPROCS") == "" {
			runtime.SetDefaultGOMAXPROCS()
		} else {
			runtime.GOMAXPROCS(old)
		}
	})
	return calls
}

// TestRestoresTheDefaultGOMAXPROCS: a process at the runtime's default
// GOMAXPROCS gets the default back when the last Sim closes, through
// runtime.SetDefaultGOMAXPROCS, which keeps the runtime's automatic updates
// on; runtime.GOMAXPROCS(n) would turn them off for good.
func TestRestoresTheDefaultGOMAXPROCS(t *testing.T) {
	if os.Getenv("GOMAXPROCS") != "" {
		t.Skip("GOMAXPROCS is set in the environment: the runtime's default is not in use")
	}
	calls := countDefaults(t)
	runtime.SetDefaultGOMAXPROCS()
	def := runtime.GOMAXPROCS(0)
	pinProcs()
	pinProcs()
	if got := runtime.GOMAXPROCS(0); got != 1 {
		t.Errorf("got GOMAXPROCS %d with two Sims open, want 1", got)
	}
	unpinProcs()
	if got := runtime.GOMAXPROCS(0); got != 1 || *calls != 0 {
		t.Errorf("got GOMAXPROCS %d and %d default restores with one Sim still open, want 1 and 0", got, *calls)
	}
	unpinProcs()
	if got := runtime.GOMAXPROCS(0); got != def || *calls != 1 {
		t.Errorf("got GOMAXPROCS %d after %d calls of SetDefaultGOMAXPROCS, want the default %d after 1", got, *calls, def)
	}
}

// TestRestoresAnExplicitGOMAXPROCS: a GOMAXPROCS set by hand, to other
// than the default, is what the last Close gives back.
func TestRestoresAnExplicitGOMAXPROCS(t *testing.T) {
	countDefaults(t)
	set := runtime.NumCPU() + 3 // above the CPU count: never the default
	runtime.GOMAXPROCS(set)
	pinProcs()
	if got := runtime.GOMAXPROCS(0); got != 1 {
		t.Errorf("got GOMAXPROCS %d with a Sim open, want 1", got)
	}
	unpinProcs()
	if got := runtime.GOMAXPROCS(0); got != set {
		t.Errorf("got GOMAXPROCS %d after the Sim closed, want %d as set", got, set)
	}
}
