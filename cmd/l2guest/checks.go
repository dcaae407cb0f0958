package main

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"
)

// A check is one step of l2.run. It returns the detail of its "ok" marker or
// an error for its "FAIL" marker; it may print progress markers of its own
// (e.mark) in between. ctx carries the check's deadline.
type check struct {
	run func(ctx context.Context, e *env) (string, error)
	// timeout overrides l2.timeout (sleepN runs for its own N).
	timeout time.Duration
}

// checks are the fixed-name checks; sleepN is parsed in lookupCheck.
var checks = map[string]check{
	"ping":   {run: checkPing},
	"mcast":  {run: checkMcast},
	"bcast":  {run: checkBcast},
	"udp":    {run: checkUDP},
	"tcp":    {run: checkTCP},
	"resume": {run: checkResume},
	"nexus":  {run: checkNexus},
	"none":   {run: func(context.Context, *env) (string, error) { return "", nil }},
}

func lookupCheck(name string) (check, error) {
	if c, ok := checks[name]; ok {
		return c, nil
	}
	if s, ok := strings.CutPrefix(name, "sleep"); ok {
		n, err := strconv.Atoi(s)
		// Compare seconds, not a Duration: N×1s overflows for a large N
		// and could wrap into range.
		if err != nil || n < 0 || n > int(maxSleep/time.Second) {
			return check{}, fmt.Errorf("%q: want sleepN with N seconds in [0,%d]", name, int(maxSleep/time.Second))
		}
		d := time.Duration(n) * time.Second
		return check{run: func(ctx context.Context, _ *env) (string, error) {
			select {
			case <-time.After(d):
				return "", nil
			case <-ctx.Done():
				return "", ctx.Err()
			}
		}, timeout: d + time.Second}, nil
	}
	return check{}, fmt.Errorf("unknown check %q", name)
}

// checkNames lists what l2.run accepts, for l2guest -checks.
func checkNames() []string {
	names := []string{"sleepN"}
	for n := range checks {
		names = append(names, n)
	}
	return names
}

// ports are the well-known ports of the checks. Guests use the defaults;
// host-side tests pick free ones.
type ports struct {
	mcast netip.AddrPort // group and port
	bcast uint16
	tcp   uint16
	udp   uint16
	sync  uint16
}

func defaultPorts() ports {
	return ports{
		mcast: netip.MustParseAddrPort("239.255.0.1:5000"),
		bcast: 5001,
		tcp:   5002,
		udp:   5003,
		sync:  5009,
	}
}

// env is what checks share: the configuration, the console, and where to
// bind (the unspecified address in a guest, a loopback address in tests).
type env struct {
	cfg     Config
	self    netip.Addr
	bind    netip.Addr
	console *console
	ports   ports
}

func (e *env) mark(format string, args ...any) { e.console.mark(format, args...) }

// console serialises marker lines.
type console struct {
	mu sync.Mutex
	w  io.Writer
}

// mark prints one "GUEST: ..." line.
func (c *console) mark(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fmt.Fprintf(c.w, "GUEST: "+format+"\n", args...)
}

// runChecks runs l2.run in order, then the sync barrier, then prints the
// verdict line. A failed check does not stop the others: the markers after
// it still tell the host what works. It reports whether all passed.
func runChecks(ctx context.Context, e *env) bool {
	ok := true
	for _, name := range e.cfg.Run {
		if !runOne(ctx, e, name) {
			ok = false
		}
	}
	if e.cfg.Sync && len(e.cfg.Peers) > 0 && !onlyNone(e.cfg.Run) {
		if !runOne(ctx, e, "sync") {
			ok = false
		}
	}
	e.mark("%s", doneMarker(ok))
	return ok
}

func runOne(ctx context.Context, e *env, name string) bool {
	c, err := lookupCheck(name)
	if name == "sync" {
		c, err = check{run: checkSync}, nil
	}
	if err != nil {
		e.mark("%s", failedMarker(name, err))
		return false
	}
	timeout := e.cfg.Timeout
	if c.timeout > 0 {
		timeout = c.timeout
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	detail, err := c.run(cctx, e)
	if err != nil {
		e.mark("%s", failedMarker(name, err))
		return false
	}
	e.mark("%s", passedMarker(name, detail))
	return true
}

func onlyNone(run []string) bool {
	for _, r := range run {
		if r != "none" {
			return false
		}
	}
	return true
}

// deadline returns ctx's deadline, or a minute from now when it has none.
func deadline(ctx context.Context) time.Time {
	if d, ok := ctx.Deadline(); ok {
		return d
	}
	return time.Now().Add(time.Minute)
}
