//go:build !linux

package tap_test

import "l2hub/internal/nobody"

// nobodyHelpers: none off Linux, where no test here runs as nobody.
var nobodyHelpers map[string]nobody.Helper
