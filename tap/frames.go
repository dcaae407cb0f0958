package tap

import (
	"errors"

	"l2hub/hub"
)

// readOne is ReadFrames for a transport that hands over one frame per read:
// read fills buf as a ReadFrame does, and the frame is copied into a
// hub.Frame of its own size (a frame sits in queues for a while: it should
// not hold a buffer sized for the largest).
func readOne(frames []*hub.Frame, limit int, buf []byte, read func([]byte) (int, error)) (int, error) {
	if len(frames) == 0 {
		return 0, nil
	}
	n, err := read(buf[:min(limit, len(buf))])
	if err != nil {
		return 0, err
	}
	frames[0] = hub.FrameOf(buf[:n])
	return 1, nil
}

// writeEach is WriteFrames for a transport that sends one frame per call:
// it stops at the first frame write refuses and reports how many went.
func writeEach(frames []*hub.Frame, write func([]byte) error) (int, error) {
	for i, f := range frames {
		if err := write(f.Bytes()); err != nil {
			var fe *hub.FrameError
			if !errors.As(err, &fe) && errors.Is(err, hub.ErrFrameTooLarge) {
				// Out of bounds for this transport: this frame, not the
				// transport, is at fault.
				err = &hub.FrameError{Reason: hub.DropOversize, Len: f.Len()}
			}
			return i, err
		}
	}
	return len(frames), nil
}
