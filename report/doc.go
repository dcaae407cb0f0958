// Package report draws a run: it reads an l2hub capture (and, optionally,
// the VMs' console logs and the conformance checker's findings) into a
// [Model] of a ladder diagram, and writes that model as one self-contained
// HTML page (inline CSS, SVG and JavaScript; nothing fetched from anywhere).
//
// The model has one lifeline per hub port and one arrow per frame a port
// sent, from the sender to every port that received it (matched from the
// capture's ingress and egress records), labelled by protocol (ARP, NXSB
// announce, TCP SYN, the nexus handshake's msg1/2/3, records, ...). What a
// rule did is read from the capture's comments: a drop ends at the hub with
// the rule's words, a delay has two ends, duplicates and reorders are
// marked, and the drops of a partition or a link set down become a band
// across the lifelines it cut. Console lines with a time stamp become
// markers on their VM's lifeline; the checker's findings are pinned to the
// frames they cite. Runs of alike frames from one sender (announces, ACKs)
// are grouped into one arrow with a count. Every frame keeps the capture's
// frame number, so the page and Wireshark agree.
//
// Everything read is untrusted: records, comments, interface names and
// console lines are bounded (see [Limits]) and every text reaches the page
// as JSON that the page's script shows as text, never as markup. The same
// inputs give the same bytes.
//
// Concurrency contract: Build and Write may run concurrently on different
// inputs; a Model is not modified after Build and may be read concurrently.
// With Options.Check, Build reads the capture once and the checker judges
// what it reads in a goroutine that Build waits for.
//
// Files. Building the Model: build.go (Build, its one pass over the capture),
// frames.go (lifelines and frames), match.go (each copy matched to its frame),
// egressonly.go (a capture of egress only: its frames' order and senders),
// bands.go (partitions and links down as bands), control.go (the control
// API's edits and the VMs' attaching and leaving: their markers and bands),
// check.go (the checker beside the report, its findings pinned to frames),
// layout.go (groups, and the markers kept near the capture's span, console
// lines' among them), console.go (console logs, ParseConsole),
// label.go (each frame's label), notes.go (a comment's notes) and budget.go
// (what is kept within Limits). model.go holds the Model's types, options.go
// Options, Limits and Flags (`l2hub report`'s flags, and Run: the command
// once they are parsed); html.go and page/ are the page; write.go and
// failure.go are what `l2hub report` writes and when it fails; errors.go holds
// the sentinels.
//
// Imports: capture (the capture), hub (its notes), filter (its policy
// edits), packet (the frames' headers, for the labels), conformance (the
// handshake's message sizes), conformance/checker (the findings),
// internal/atomicfile (the page written whole) and internal/samefile (the
// page is none of its inputs).
package report
