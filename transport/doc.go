// Package transport holds what attaches to a hub port through a socket or
// in memory: QEMU's socket back ends (length-prefixed streams over TCP and
// unix sockets, datagrams over UDP and unix datagram sockets, the socket
// multicast group), VXLAN to other hosts' segments (a VTEP that speaks with
// the Linux kernel's and Open vSwitch's), an in-memory pipe for tests, the
// port spec syntax users
// write ("a=tcp:127.0.0.1:7001"), and the runners that keep a port's
// transport going (accept, dial and redial, bind). A tap port's runner opens
// its host TAP device through package tap; the in-process netstack host is
// in transport/netstack.
//
// Every transport is a [hub.PortIO]: [StreamConn], [DatagramConn],
// [VXLANConn] (RFC 7348) and [PipeEnd] (and tap.TAPDevice). The hub reads and writes them in batches: a
// stream hands over every whole frame one read brought in and writes a
// batch with one writev, each frame's length prefix taken from its
// headroom; datagram sockets use recvmmsg and sendmmsg (Linux) and report
// the kernel's own drops (SO_RXQ_OVFL with each datagram, SO_MEMINFO when
// asked). The framing is symmetric, so the
// same types serve the VM side of tests and load generators, one frame per
// call ([StreamConn.ReadFrame], WriteFrame; [DialStream],
// [JoinMcastLikeQEMU]).
//
// Untrusted input is bounded: a stream's length prefix is checked against the
// configured maximum before anything is read or allocated for the body, and
// a datagram is read into a buffer one byte larger than the maximum so that
// truncation is seen. Bad frames that leave the connection usable are
// returned as *[hub.FrameError] (the reader counts them and reads on; a zero
// length prefix frames a zero-length runt); a length prefix above the
// maximum is fatal to its connection and wraps [hub.ErrFrameTooLarge]. So
// is a frame that began and did not end within [FrameTimeout] (its
// sender stopped mid-frame; it is reported first as a runt, to be
// counted, and wraps [ErrFrameTimeout]); the wait between frames has no
// bound.
// A multicast port hears only the members that joined on its local=
// interface, as the flags it prints have them do (see [JoinMcast]).
// The socket files the hub binds (unix, unixgram) have mode
// [DefaultSocketMode] (0600) whatever the umask, or a port's mode=, set
// before a stream socket listens: whoever can connect is that port's VM.
//
// Concurrency contract. Each PortIO follows [hub.PortIO]: one goroutine
// reads, one writes, Close may come from any goroutine, unblocks both, is
// safe to call more than once, and afterwards its reads and writes return
// [net.ErrClosed], with one exception: [DatagramConn.ReadFrames]
// hands over the datagrams a batch already took from the socket (Linux),
// then [net.ErrClosed]; the hub counts any it can no longer forward. A
// [Runner] is driven by one goroutine calling Run, which starts none of
// its own: one context (the caller's, ended early by Close) stops it, and
// the connections it handed the hub are closed before Run returns. Close
// and Spec are safe from any goroutine. [Spec] values are plain data.
//
// Files. Streams: stream.go (StreamConn, DialStream) and stream_*.go (its
// peer's backlog and hang-up). Datagrams: datagram.go (DatagramConn,
// ListenUDP, ListenUnixgram), dgram_*.go (Linux's recvmmsg and sendmmsg,
// socket buffers, kernel drops) and mcast*.go (the multicast group). VXLAN:
// vxlan.go (VXLANConn, OpenVXLAN), vxlan_config.go (VXLANConfig, VTEP
// addresses), vxlan_frames.go (encapsulation, reads and writes), vxlan_fdb.go
// (the MAC-to-VTEP table), vxlan_remotes.go (remote VTEPs heard or quiet),
// vxlan_self.go (its own datagrams told apart), vxlan_linux.go and
// vxlan_other.go (its socket, the host's addresses). pipe.go is PipeEnd.
// Specs: spec.go (Spec, ParseSpec), spec_validate.go (Validate) and
// spec_qemu.go (QEMU's flags, the notes on a spec). Runners: runner.go
// (Runner, Options, Open; a bound socket's runner), runner_stream.go (accept,
// dial), optional.go (a port left down), tap_*.go (a tap port's runner) and
// mtupeers.go (a TAP's MTU against a VXLAN port's). unixsock.go binds socket files, limiter.go rate-limits logs, and
// errors.go holds the sentinels and SpecError.
//
// Imports: hub (the PortIO contract), tap (the TAP device behind a tap
// port), internal/wallclock, internal/yamlfile (positioned errors in a
// port's YAML options) and internal/unixpath (the longest socket path);
// nothing else of l2hub.
package transport
