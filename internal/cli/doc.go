// Package cli is the cobra behaviour l2hub's command wants of every
// command and that is not l2hub's own wiring: argument counts said with an
// example (WantArgs), unknown flags with the nearest known one
// (SuggestFlag), an unknown or mistyped subcommand refused with cobra's
// suggestions wherever it is given, after a group, to help or with --help
// (Strict, Execute), and commands' long help and examples read from text
// files (LoadHelp). JSON documents are internal/jsondoc's.
//
// Concurrency: a command tree is built and executed by one goroutine;
// nothing here starts one.
//
// Files: args.go (WantArgs), flags.go (SuggestFlag), strict.go (Strict,
// Execute, UnknownCommand), help.go (LoadHelp: help
// files and their placeholders).
//
// Imports: internal/suggest (did-you-mean hints).
package cli
