// Package replay re-runs captured traffic through l2hub's real forwarding
// core, offline and in virtual time, and paces a capture's frames into a live
// hub port.
//
// Offline replay (Open, Replayer.Run) reads pcap and pcapng files as streams
// (l2hub's own captures, QEMU filter-dump files, tcpdump files), turns every
// frame a peer sent into an ingress event on a named port of a hub.Core driven
// by a hub.VirtualClock set from the capture's timestamps, and runs the same
// policy and forwarding as `l2hub serve`. Timers fire between frames at their
// own deadlines, so delayed frames are observed at their own time. What each
// port would have received goes to the observers (a capture.Sink writes it
// with the verdict comments). Several inputs are merged by timestamp, stable
// on ties (input order, then file order).
//
// Which frames are ingress, and on which port:
//   - l2hub's own pcapng captures (the section comment is a capture.Meta):
//     one port per interface a section describes, with or without frames
//     (a policy may name a port that never sent), inbound copies only;
//     outbound copies were the hub's output. The Meta's start time lines
//     policy time windows up with the live run, so replaying an ingress
//     capture with the run's seed reproduces its decisions (the README's D3).
//     The policy edits the run made through the control API, which its
//     records' comments hold (filter.Edit), are made again at their run
//     times (RunConfig.IgnoreEdits leaves them out). A run's set-policy
//     starts a section whose header records the new policy and when it
//     took over: a replay given that policy (RunConfig.Policies) puts it
//     in force there, afresh, on the same core (its learned MACs, its
//     waiting copies), as the live hub did, so that replaying a run's
//     files in order with each of its policies reproduces every decision;
//     where it has not the run's policy, it keeps the one in force, and
//     its Notes and EditResult.WhatIf say which decisions and edits are a
//     what-if. A
//     header another tool rewrote (mergecap) is still read, and each
//     section's records are checked against its statistics blocks. A
//     capture of a hub that stopped (the statistics its Close writes
//     carry the hub's counters) ends the replay at its last record or
//     note: the delayed copies still held then are discarded, as the live
//     hub discarded them (RunConfig.Drain delivers them), and the ports'
//     counters are compared with the live ones (PortResult.Live).
//   - a record cut short (a snaplen) is given to the hub at its length on
//     the wire (capture.Packet.OrigLen), the missing bytes zero; an
//     output cuts it again (Replayer.Snaplen), as its input did.
//
// Open reads every input to its end once, before anything is written:
// what they hold to replay (Replayer.Frames; Job refuses inputs with
// none) and how their records were cut.
//   - any other capture (classic pcap, foreign pcapng): one port per file
//     (or per interface of a pcapng that describes several, in any of its
//     sections: links.go), or per source MAC
//     (Config.MACs, or automatically when there is a single such input).
//     Per-VM captures such as QEMU filter-dump files record both directions
//     of a VM's link, so the frame one VM sent appears again in the file of
//     every VM that received it, and the socket multicast back end records
//     each sent frame twice (its loopback echo). Each source MAC is given an
//     owner (the input whose VM sent it): named with Config.MACs' port or
//     inferred from the first frames of every input (see Owner); copies of a
//     frame in other inputs and multicast echoes are recognised and counted,
//     not replayed; a frame whose sender's input does not cover its time
//     is no copy of one in it. Inputs whose times do not overlap and
//     which share few frames are the files one link's capture was split
//     into by time (editcap -c, a rotated classic pcap): a port per
//     source MAC, as for one input, each frame replayed from whichever
//     file holds it. Each VM stamps its file with its own clock: an input
//     whose clock ran ahead of the others' is replayed earlier than
//     stamped, the least that keeps every copy of a frame after its
//     sending (clocks.go).
//
// Given the same inputs, configuration, policy and seed, Run's output is
// byte-identical (the README's D2): no wall clock, no unseeded randomness, no
// map-order dependence.
//
// Injection (Inject) reads a capture, optionally rewrites MAC and IP
// addresses (Rewriter, IPv4 and IPv6, with the IPv4, TCP, UDP, ICMP and
// ICMPv6 checksums fixed; headers read by package packet), and
// hands each frame to a send function at its scheduled time: the recorded
// timing, a multiple of it, a fixed frame or bit rate, or as fast as
// possible. Deadlines are absolute (start + offset), so lateness never
// accumulates; the report gives the median and worst drift. A wait of more
// than MaxWait between two frames (a capture's clock that jumped) stops it
// at that frame, unless Pacing.MaxGap shortens long gaps.
//
// Concurrency contract. A Replayer is used by one goroutine; Run drives the
// core on the calling goroutine and calls observers and the Progress callback
// there. Inject calls send from its calling goroutine only. A Rewriter is
// immutable once built and safe for concurrent use.
//
// Where things are. Offline replay: replay.go (Config, Open, Replayer),
// input.go (inputs read as streams, merged by time), header.go (l2hub
// section headers), channels.go (where frames come from, which port each
// feeds), links.go (a foreign pcapng's interfaces, across its sections),
// owners.go (who sent a foreign frame), clocks.go (their clocks lined
// up), run.go (Run), ingress.go (a record
// made an ingress event), edits.go, switches.go and peers.go (what a run's
// capture records besides frames, made again), policies.go (the run's
// policies over time, which say what is a what-if), coverage.go and
// records.go (what the inputs lack),
// cutread.go, result.go, summary.go and notes.go (what a replay did and
// says). The `l2hub replay` front end: job.go, jobpolicy.go, jobreport.go,
// flags.go (JobFlags and InjectFlags: the flags of `l2hub replay` and
// `l2hub inject`, and Run, each command once they are parsed). Injection:
// inject.go, pacing.go, injectreport.go, rewrite.go,
// live.go (InjectInto, and ParsePacing and ParseRate for its flags),
// injectrun.go (RunInject: `l2hub inject`'s verdict, which drops fail it
// and which only warn, and CheckInjectCapture). errors.go holds the
// sentinel errors.
//
// Imports: hub (the core, the clock, the driver), filter (a Policy's
// counters), capture, packet (the rewriter reads headers with it), control
// (InjectInto talks to a running hub), internal/wallclock,
// internal/samefile (an output is none of the inputs), internal/progress
// (replay's progress bar) and internal/jsondoc (inject's --json document).
package replay
