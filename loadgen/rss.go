package loadgen

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// RSS returns the process's resident set size in bytes, from
// /proc/self/statm (Linux). It returns an error elsewhere.
func RSS() (uint64, error) { return rssOf(0) }

// rssOf returns process pid's resident set size (this process's for 0).
func rssOf(pid int) (uint64, error) {
	proc := "self"
	if pid > 0 {
		proc = strconv.Itoa(pid)
	}
	b, err := os.ReadFile("/proc/" + proc + "/statm")
	if err != nil {
		return 0, fmt.Errorf("resident set size: %w", err)
	}
	return parseStatm(b, os.Getpagesize())
}

// parseStatm reads the second field of statm (resident pages).
func parseStatm(b []byte, pageSize int) (uint64, error) {
	f := bytes.Fields(b)
	if len(f) < 2 {
		return 0, fmt.Errorf("statm %q: want at least two fields", b)
	}
	pages, err := strconv.ParseUint(string(f[1]), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("statm resident pages: %w", err)
	}
	return pages * uint64(pageSize), nil
}

// rssSampler follows the resident set while a scenario runs: before the
// senders start, the peak of each half of the sending, and at its end.
// Where RSS is unavailable every figure stays 0.
type rssSampler struct {
	pid           int // the process followed: 0 for this one
	before, after uint64
	peak          [2]atomic.Uint64 // by half
	half          atomic.Int32     // 0, then 1 once markMid ran
	mid           atomic.Uint64
	quit          chan struct{}
	wg            sync.WaitGroup
}

func (s *rssSampler) start(every time.Duration) {
	s.before, _ = rssOf(s.pid)
	s.quit = make(chan struct{})
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-s.quit:
				return
			case <-t.C:
				s.sample()
			}
		}
	}()
}

// sample reads the resident set and folds it into the current half's peak.
func (s *rssSampler) sample() uint64 {
	v, _ := rssOf(s.pid)
	p := &s.peak[s.half.Load()]
	for {
		old := p.Load()
		if v <= old || p.CompareAndSwap(old, v) {
			return v
		}
	}
}

// markMid records the resident set half way through and starts the second
// half.
func (s *rssSampler) markMid() {
	s.mid.Store(s.sample())
	s.half.Store(1)
}

// mark records the resident set at the senders' end.
func (s *rssSampler) mark() { s.after = s.sample() }

func (s *rssSampler) stop() {
	if s.quit != nil {
		close(s.quit)
		s.wg.Wait()
		s.quit = nil
	}
}
