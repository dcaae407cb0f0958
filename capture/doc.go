// Package capture writes and reads the packet captures of an l2hub segment.
//
// A [Sink] is a hub.Observer that records every frame at the hub's capture
// points (ingress: what a peer sent, before any policy; egress: what a peer
// was given) into one pcapng file for the whole segment, with one interface
// per port (if_name is the port's name, if_description its transport and
// address; text is UTF-8, as pcapng requires, with any other byte written
// as \xNN), the direction in epb_flags (inbound at ingress, outbound at
// egress), nanosecond timestamps from the hub's clock and, on every frame a
// rule touched, a comment saying what the rule did and why ("dropped: a->b:
// rule loss-a: drop (p=0.05 draw=0.0213)"); events that are not frames (a
// partition started through the control API) ride, as a line of their own,
// on the next frame's comment ([Sink.Annotate]), or, when no frame follows,
// in the statistics blocks that end the file ([Reader.Trailer]); a change
// to the policy adds a second line, "l2hub-edit" and the change in JSON
// (filter.Edit), from which a replay makes it again. Up to 512 KiB of them
// wait for a frame, which carries them in as many comments as they need
// (64 KiB each, whole lines; a longer line goes on in the next, after
// "l2hub: continued: ", which a Reader heeds only after a full comment, so that
// one added by hand stays a line of its own), so that Wireshark's rewriters (editcap, mergecap,
// tshark -w) keep them in place and a Reader joins them back. The section header's
// comments (one line each, so that capinfos -T keeps one row per file)
// record the l2hub version, the seed, hashes of the configuration and
// policy and the hub's start time ([Meta]), so that a capture says how to
// reproduce itself; nothing about the host is written unless asked. Each
// pcapng file ends with an Interface Statistics Block per port: the first
// and last record's times, and a comment counting the file's records from
// and for the port's peer and how many of them it marks dropped. The files
// Close ends also carry the hub's own counters of every port given with
// [Sink.SetPortStats], since the port was added: isb_ifrecv its received
// frames, isb_ifdrop its drops for every reason (the total of the reasons
// l2hub ctl ports lists), and, in the comment, its sent frames and the
// drops by reason. pcapng means isb_ifdrop for drops "due to lack of
// resources"; l2hub puts every drop there, so that the number Wireshark
// shows as dropped is the port's one total. Files ended earlier (rotation,
// SetMeta) and ports without counters get neither option.
// [Stdout] ("-") or a named pipe as the path streams the capture for a live
// Wireshark: one stream, in which SetMeta starts a new pcapng section (a
// classic pcap stream, which has none, just goes on).
// Classic pcap (microsecond or nanosecond, Ethernet, snaplen 262144 by
// default, every frame whole, as tcpdump's) and one file per port, like
// QEMU's filter-dump, are options, as
// are a snaplen and rotation by size or packet count ([RotatedPath]); every
// rotated file is self-contained. When the run's description changes (a
// policy replaced while the hub runs), [Sink.SetMeta] starts the next
// numbered file, whose header carries the new [Meta].
//
// Deterministic bytes: the files are a function of the events alone (order,
// times from the hub's clock, bytes, notes, ports) and of the counters
// SetPortStats gave as Close reads them, little-endian whatever the host,
// so a run under a virtual clock, closed once the hub stopped, gives
// byte-identical captures.
//
// Nothing lost: a write(2) carries whole blocks only (a batch goes out in
// writes of at most 64 KiB, each ending where a block ends, and a larger
// block in one of its own), so a process killed between writes leaves a
// file that ends on a whole block. A kill during a
// write can still cut it (the kernel stops a write between pages when the
// process gets SIGKILL): a Reader then returns every whole packet and
// reports the cut tail as ErrTruncated, and [Repair] trims the tail so
// that other tools (tshark) read the file to its end. A length field that
// is wrong can also run past the end of the file, but over what still
// reads as whole blocks: the Reader reports that as ErrCorrupt, and
// Repair leaves it.
// What a kill loses is what was still in memory: at most the queue and one
// FlushInterval. Close writes everything queued, waiting for as long as the
// writer makes progress: a file or stream that takes nothing for
// Config.CloseTimeout (a pipe whose reader stopped reading) makes Close
// give up with ErrWriteStuck, naming it, and, where the runtime's poller
// waits on it (a named pipe or piped standard output, on Linux), ends the
// blocked write; the frames still queued then count as Stats.Stuck, not
// as write errors. A failed write is logged
// once per file with the path and the error, counted, and never reaches the
// hub loop: that file's later frames are dropped and counted, and a partial
// write is cut off again where the file allows it. Every RetryInterval the
// failed sequence tries to go on in its next numbered file (a full disk
// that has room again); when it can, it logs the new file and how many
// frames are missing, and the first frame it writes there (or, if none,
// the trailer) says so too, with the lost frames' times and the failure
// ([GapPrefix]), and carries the annotations the lost frames would have
// carried (policy edits, VM changes), so that a replay knows what it
// lacks and still makes the edits. They share that one comment
// ([MaxComment], 16 KiB) with the frame's own notes and annotations, whole
// lines, oldest first; the lines left out are counted ([LinesLeftOut]),
// and a replay warns that it cannot make them.
//
// Concurrency contract. Observe and PortAdded are called on the hub loop;
// they copy the event into a bounded in-memory queue and return, doing no
// I/O and, in steady state, no allocation. One writer goroutine per Sink
// encodes the queued records and writes them in batches of whole blocks; it
// is woken once per batch (Config.BatchBytes) and otherwise every
// Config.FlushInterval, the package's only use of the wall clock (with
// Close's CloseTimeout and the spacing of the warning below), which decides
// when bytes reach the disk and never which bytes (save, after a write
// failed, when the next file is tried, and what a stuck one misses at
// Close). When the queue holds Config.QueueBytes, OverflowDrop (the
// default) drops the new event and counts it in Stats.QueueFull, so the
// hub never waits for a disk, and the next record kept (or the trailer)
// says how many are missing there ([GapPrefix], [Gaps]); a second
// goroutine, which does no I/O but the log, warns at the first drop (the
// writer may be stuck in the write that made it fall behind) and then at
// most every 10 seconds while drops go on; Close stops it, and waits for
// it, before anything else, so it never warns once Close has returned
// (the writer's summary counts the drops). OverflowBlock makes Observe wait
// instead, for offline replay where nothing may be lost. All Sink methods are safe for
// concurrent use.
//
// A [Reader] streams pcap (both magics, both byte orders: QEMU filter-dump
// and tcpdump files) and pcapng (several sections; interfaces with any
// if_tsresol and if_tsoffset; enhanced, simple and obsolete packet blocks;
// epb_flags and comments; custom blocks, systemd journal entries and
// Sysdig events as records that are not packets, numbered as Wireshark numbers them (Sysdig
// events with flags, 0x208, 0x217 and 0x222, as newer releases do: tshark 4.0 skips them
// unnumbered); unknown blocks skipped) one block at a time, bounded by ReadOptions.MaxBlock
// whatever a length field claims. Errors say which record and byte offset
// reading stopped at; packets already returned stay valid. A Reader is for
// one goroutine.
//
// Files. Writing: sink.go (Sink, Open, Observe, Annotate, SetMeta: the hub
// loop's side), run.go (the writer goroutine, its warnings, Close), writer.go
// (queued records encoded into files), output.go (one sequence of files,
// opened, rotated and closed), flush.go (batches written in whole blocks; a
// failed write), gap.go (what a failure or a full queue lost, and the lines
// that say so), pcapng.go (pcapng blocks), comment.go (a frame's comment),
// meta.go (Meta, the section header's comments) and config.go (Config, Format,
// Points, paths and streams; stream_*.go makes a pipe pollable). Reading:
// read.go (Reader, Packet, classic pcap), readpcapng.go (pcapng blocks),
// cut.go (a cut tail told from a corrupt one), join.go (comments and trailers
// joined back), linktype.go, open.go (OpenFile: a named pipe's open, bounded
// by a context) and repair.go (Repair). errors.go holds the sentinels and
// ReadError.
//
// Imports: hub (frames, events and the clock's times come through it) and
// internal/wallclock (the clock of flushes and retries when none is given).
package capture
