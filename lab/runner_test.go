package lab

import (
	"context"
	"fmt"
	"os"
)

// runnerEnv makes the test binary a lab runner of its own (TestMain), for
// a test that kills the runner: it runs the lab file it names into the run
// directory in runnerDirEnv.
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
	if _, err := Run(context.Background(), l, Options{Out: os.Stdout, Dir: os.Getenv(runnerDirEnv)}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	return 0
}
