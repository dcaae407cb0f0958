package lab

import (
	"context"
	"fmt"
	"os"
)

// runnerEnv makes the test binary a lab runner of its own (TestMain), for
// a test that kills the runner or gives it a full disk: it runs the lab
// file it names into the run directory in runnerDirEnv, and exits as
// l2hub lab would (0 for a pass, 1 with Verdict's error, 2 for a run that
// could not be set up).
const (
	runnerEnv    = "L2LAB_TEST_RUNNER"
	runnerDirEnv = "L2LAB_TEST_RUNNER_DIR"
)

func runAsRunner(file string) int {
	l, err := Load(file, LoadOptions{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	s, err := Run(context.Background(), l, Options{Out: os.Stdout, Dir: os.Getenv(runnerDirEnv)})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if err := Verdict([]*Summary{s}, 1); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}
