package tied

// LeakIgnore is the function at the top of the forking goroutine's stack,
// for goleak.IgnoreAnyFunction.
const LeakIgnore = "l2hub/internal/tied.fork"
