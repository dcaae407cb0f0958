package report

import (
	"errors"
	"fmt"

	"l2hub/capture"
)

// Failure is why a report whose page was written must still fail, as
// replay's does: a capture (at path) that broke part-way, or one cut short
// unless truncOK accepts that. It is nil when the capture was read to its
// end.
func (m *Model) Failure(path string, truncOK bool) error {
	switch {
	case m.Stopped == nil:
		return nil
	case !errors.Is(m.Stopped, capture.ErrTruncated):
		return fmt.Errorf("report stopped early on bad input (the page shows the %d records before it): %s: %w", m.Records, path, m.Stopped)
	case !truncOK:
		return fmt.Errorf("%s: %w (the page shows the %d records before the cut; --allow-truncated accepts a capture cut short)", path, m.Stopped, m.Records)
	}
	return nil
}
