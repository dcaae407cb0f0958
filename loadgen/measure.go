package loadgen

// This file holds how a Suite measures one scenario on one target: its
// repetitions (measure) and how they combine into one Result (combine),
// with the error prefixes of the scenarios that measured nothing.

import (
	"cmp"
	"context"
	"errors"
	"runtime/pprof"
	"slices"
	"time"
)

// Prefixes of Result.Err for the scenarios that measured nothing through
// no fault of the target: Report.Evaluate leaves them out.
const (
	SkippedPrefix     = "skipped: "     // the target cannot offer the scenario (ErrUnsupported)
	InterruptedPrefix = "interrupted: " // the run was cancelled while it ran
)

// measure runs sc Count times and combines the runs. A run that fails ends
// the repetition; the result combines it with the runs before it (so their
// loss still counts) and carries its error. A run the context cut short is
// left out of it, as its drain never ran: the result is the runs before
// it, or, when there were none, the cut-short run's with Runs 0.
func (s *Suite) measure(ctx context.Context, sc Scenario, t Target) Result {
	var runs []Result
	for range s.Count {
		var r Result
		var err error
		// Everything the scenario starts, target included, inherits the
		// label: go tool pprof -tagfocus scenario=NAME.
		pprof.Do(ctx, pprof.Labels("scenario", sc.withTarget(t).Name()), func(ctx context.Context) {
			r, err = Run(ctx, sc, t)
		})
		if err != nil {
			interrupted := ctx.Err() != nil && errors.Is(err, ctx.Err())
			var res Result
			switch {
			case !interrupted:
				res = combine(append(runs, r))
			case len(runs) > 0:
				// The run cut short counted what was in flight as lost.
				res = combine(runs)
			default:
				res = r // Runs 0: no run completed
			}
			res.Err = err.Error()
			switch {
			case errors.Is(err, ErrUnsupported):
				res.Err = SkippedPrefix + res.Err
			case interrupted:
				res.Err = InterruptedPrefix + res.Err
			}
			return res
		}
		runs = append(runs, r)
	}
	return combine(runs)
}

// combine makes one result of several runs of a scenario: the run with the
// median rate, with the counts summed over every run, the latency
// percentiles the median of the runs' and the maximum the largest (see
// Result.Runs).
func combine(runs []Result) Result {
	byRate := slices.Clone(runs)
	slices.SortStableFunc(byRate, func(a, b Result) int { return cmp.Compare(a.Rate, b.Rate) })
	res := byRate[len(byRate)/2]
	res.Runs = len(runs)
	if len(runs) == 1 {
		if res.Lost > 0 {
			res.LossyRuns = 1
		}
		return res
	}
	res.Sent, res.SendErrors, res.Expected, res.Received, res.Lost = 0, 0, 0, 0, 0
	res.Late, res.Duplicates, res.Unchecked, res.Unwanted, res.Echoes, res.Foreign, res.WindowStalls, res.Unsent = 0, 0, 0, 0, 0, 0, 0, 0
	res.LossyRuns, res.LatencyMax, res.SendLagMax = 0, 0, 0
	res.Counters = nil
	for _, r := range runs {
		res.Sent += r.Sent
		res.SendErrors += r.SendErrors
		res.Expected += r.Expected
		res.Received += r.Received
		res.Lost += r.Lost
		res.Late += r.Late
		res.Duplicates += r.Duplicates
		res.Unchecked += r.Unchecked
		res.Unwanted += r.Unwanted
		res.Echoes += r.Echoes
		res.Foreign += r.Foreign
		res.WindowStalls += r.WindowStalls
		res.Unsent += r.Unsent
		if r.Lost > 0 {
			res.LossyRuns++
		}
		res.LatencyMax = max(res.LatencyMax, r.LatencyMax)
		res.SendLagMax = max(res.SendLagMax, r.SendLagMax)
		for k, v := range r.Counters {
			if res.Counters == nil {
				res.Counters = map[string]uint64{}
			}
			res.Counters[k] += v
		}
	}
	res.LossRatio = 0
	if res.Expected > 0 {
		res.LossRatio = float64(res.Lost) / float64(res.Expected)
	}
	median := func(f func(Result) time.Duration) time.Duration {
		v := make([]time.Duration, len(runs))
		for i, r := range runs {
			v[i] = f(r)
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	res.LatencyP50 = median(func(r Result) time.Duration { return r.LatencyP50 })
	res.LatencyP99 = median(func(r Result) time.Duration { return r.LatencyP99 })
	res.LatencyP999 = median(func(r Result) time.Duration { return r.LatencyP999 })
	res.SendLagP99 = median(func(r Result) time.Duration { return r.SendLagP99 })
	return res
}
