// Package yamlfile is the one place l2hub reads a YAML file for people: it
// decodes one document strictly (aliases refused, nesting and size
// bounded, a panic in the YAML library turned into an error) and reports
// every problem as file:line:col, the field's path and what is wrong
// ("lab.yaml:7:14: ports[1].address: ..."). The policy (filter), the
// serve config (serve) and the lab file (lab) walk their node trees with it.
//
// Imports: internal/suggest (the "did you mean" of an unknown field).
package yamlfile
