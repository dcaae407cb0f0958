package checker_test

import (
	"context"
	"fmt"
	"os"

	"l2hub/conformance/checker"
	"l2hub/hub"
	"l2hub/internal/wallclock"
)

// The checker as `l2hub serve --check nexus-v1` uses it: an observer of the
// live hub that prints milestones as they happen and gives its report at
// shutdown; a failed check is exit status 2.
func Example_live() {
	chk, err := checker.New(checker.Options{Profile: checker.ProfileNexus, Milestones: os.Stdout})
	if err != nil {
		panic(err)
	}
	h, err := hub.New(hub.Config{Clock: wallclock.Clock{}, Observers: []hub.Observer{chk}})
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // a real serve runs until SIGINT
	h.Run(ctx)

	chk.Close() // checks what is still queued
	r := chk.Report()
	r.WriteText(os.Stdout)
	if !r.OK() {
		fmt.Println("exit status 2")
	}
}

// Checking a capture file, as `l2hub check` does.
func ExampleCheckFiles() {
	r, err := checker.CheckFiles(checker.Options{}, "testdata/healthy.pcapng")
	if err != nil {
		panic(err)
	}
	f, _ := r.First(checker.MUX002)
	fmt.Println(r.OK(), f.Verdict, f.Message)
	// Output: true pass ladders complete, in order, with the expected contents: 1
}
