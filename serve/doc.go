// Package serve is the serve application: a Session binds the configured
// ports (transport), builds the live hub with the policy (filter), the
// capture (capture), the live checker (conformance/checker) and the virtual
// DSoftBus peers (conformance/vnode), runs them, and is the control API's
// Target (control). Run is all of `l2hub serve`; Flags is its command
// line (the flags that override a config file's fields, and the log's),
// so the command only binds them and calls Run. The load generator (loadgen) and future front
// ends drive the same Session in-process.
//
// A Config comes from a YAML file (LoadConfig, strict: every problem is
// named with file:line:col and field), from a section of a larger file
// (ParseConfigNode: an l2hub lab file's hub), from code, or both; Validate checks
// it whole before anything binds, and New refuses a start that cannot bind
// every port before it creates a capture file.
//
// Concurrency contract. New, Start and Stop are called in that order from
// one goroutine; Stop waits for everything Start started. Every other
// method (the control.Target methods, Bound, Peers, Stats, CaptureStats) is
// safe for concurrent use once New returned; changes run on the hub's
// loop, ordered with respect to frames.
//
// Files. The Session: session.go (Options, New, Start, Stop, what it bound),
// capture.go (its capture: opened, its header's meta, how the checker
// numbers frames), control.go and rules.go (the control API's Target: the
// policy, partitions, links, injection; one rule's edits), summary.go
// (Summary), ready.go (the ready file), nopeer.go (why a port may have no VM), decisionlog.go (the
// debug log of decisions) and metrics.go with capture_metrics.go and
// macmove_metrics.go (its Prometheus registry). The Config: config.go (Config,
// CaptureConfig), config_yaml.go (LoadConfig, ParseConfig, ParseConfigNode),
// config_validate.go (Validate), config_ports.go (checks across ports) and
// outputs.go (no output an input or another output). The command: run.go (Run,
// the control listener, the banner, QEMU's flags), flags.go (Flags),
// command.go (Flags.Run: the command once its flags are parsed) and
// stderrlog.go (its logs on stderr).
//
// Imports: hub, transport, tap (a TAP device's namespace, to find two ports
// on one device), filter, capture, conformance,
// conformance/checker, conformance/vnode, control, internal/wallclock,
// internal/yamlfile, internal/ready (the ready file, sd_notify),
// internal/atomicfile (the summary written whole, its path checked first),
// internal/samefile (an output that is an input or another output is
// refused before anything binds),
// internal/buildinfo (the build's metric), internal/logq (the words of its
// drop notice, should serve's own fail) and internal/shell (NETDEV_
// names in the QEMU flags), internal/unixpath (whether a socket's
// absolute path fits), internal/procctl (the process's console, which a
// JSON log takes in) and transport/netstack (gVisor's log put into
// serve's). Nothing imports serve but the command, the
// load generator and the lab runner (lab), which serves the control API
// with ServeControl and acts through it as l2hub ctl does.
package serve
