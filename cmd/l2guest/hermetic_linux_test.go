package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"

	"github.com/vishvananda/netlink"
)

// The agent configures the network of the machine it runs on (setupNet:
// IPv6 off, an address and a default route on l2.dev, eth0 by default).
// In the guest that is its job; on a developer's host, a bug that let a
// test reach it (a bad command line taken for the defaults) would do the
// same to the host. So the tests, as root, run in a network namespace of
// their own: the test binary starts itself again in a new one, whose only
// link is a loopback, brought up for the tests that use 127.0.0.0/8.

// hermeticEnv marks the test binary started in its own namespace.
const hermeticEnv = "L2GUEST_TEST_NETNS"

// runHermetic starts the test binary again, with its arguments, in a new
// network namespace, when it runs as root outside one; it returns the
// child's exit status and true, or false when the tests run here.
func runHermetic() (int, bool) {
	if os.Geteuid() != 0 || os.Getenv(hermeticEnv) != "" {
		return 0, false
	}
	cmd := exec.Command(os.Args[0], os.Args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), hermeticEnv+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET}
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		return exit.ExitCode(), true
	case err != nil:
		fmt.Fprintf(os.Stderr, "l2guest tests: start in a network namespace of their own: %v\n", err)
		return 1, true
	}
	return 0, true
}

// setUpHermetic brings up the loopback of the namespace runHermetic made.
func setUpHermetic() error {
	if os.Getenv(hermeticEnv) == "" {
		return nil
	}
	lo, err := netlink.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("l2guest tests: own network namespace: %w", err)
	}
	if err := netlink.LinkSetUp(lo); err != nil {
		return fmt.Errorf("l2guest tests: own network namespace: lo up: %w", err)
	}
	return nil
}
