//go:build !linux

package transport

import (
	"errors"
	"fmt"
)

// openTAPRunner refuses: TAP devices and network namespaces are Linux's.
func openTAPRunner(*runnerBase) (Runner, error) {
	return nil, fmt.Errorf("TAP devices need Linux: %w", errors.ErrUnsupported)
}
