// Package shell renders command lines for people to read and paste.
//
// Concurrency: Quote and Ident are pure.
//
// Imports: nothing of l2hub.
package shell
