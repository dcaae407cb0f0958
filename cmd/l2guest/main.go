package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"sort"
	"strings"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "l2guest:", err)
		os.Exit(1)
	}
}

// run is the whole agent. It returns an error only when it could not print
// a "GUEST: done" line; a failed check is a FAIL marker, not an error.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("l2guest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cmdlinePath := fs.String("cmdline", "/proc/cmdline", "read the l2.* settings from this file")
	listChecks := fs.Bool("checks", false, "print the checks this build supports, one per line, and exit")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *listChecks {
		names := checkNames()
		sort.Strings(names)
		_, err := fmt.Fprintln(stdout, strings.Join(names, "\n"))
		return err
	}

	con := &console{w: stdout}
	raw, err := os.ReadFile(*cmdlinePath)
	if err != nil {
		return err
	}
	cfg, err := ParseCmdline(string(raw))
	if err != nil {
		con.mark("%s", failedMarker("config", err))
		con.mark("%s", doneMarker(false))
		return nil
	}
	mac, err := setupNet(ctx, cfg)
	if err != nil {
		con.mark("%s", failedMarker("net", err))
		con.mark("%s", doneMarker(false))
		return nil
	}
	con.mark("%s", upMarker(cfg.IP, mac, uptime()))
	e := &env{
		cfg:     cfg,
		self:    cfg.IP.Addr(),
		bind:    netip.IPv4Unspecified(),
		console: con,
		ports:   defaultPorts(),
	}
	runChecks(ctx, e)
	return nil
}

// uptime returns the guest's seconds since boot, as /proc/uptime says.
func uptime() string {
	b, err := os.ReadFile("/proc/uptime")
	if err != nil {
		return "?"
	}
	up, _, _ := strings.Cut(string(b), " ")
	return strings.TrimSpace(up)
}

// errNoLink is returned when the NIC never shows up (driver missing).
var errNoLink = errors.New("no such network interface")
