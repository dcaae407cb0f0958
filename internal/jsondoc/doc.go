// Package jsondoc writes JSON as every --json document of l2hub is
// written: indented, HTML left unescaped (WriteJSON), and with the
// document's schema number first (WriteDocument). The packages that print
// a command's output (replay, control, cmd/l2hub) share it without
// linking cobra.
//
// Concurrency: functions only; nothing here keeps state.
//
// Imports: nothing of l2hub.
package jsondoc
