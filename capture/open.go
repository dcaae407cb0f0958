package capture

import (
	"context"
	"os"
)

// OpenFile opens the capture at path for reading, stopped when ctx ends:
// opening a named pipe waits for its writer (a reader started before the
// hub that writes it), so that open runs apart and, when ctx ends first,
// is released by opening the pipe to read and write as well (which never
// waits), held until the waiting open returns. It then returns ctx's
// cause. A path that is no named pipe, or a ctx that never ends, is
// opened as os.Open does; a pipe this user may not write is left to its
// open, which closes what it opened whenever it returns.
func OpenFile(ctx context.Context, path string) (*os.File, error) {
	fi, err := os.Stat(path)
	if err != nil || fi.Mode()&os.ModeNamedPipe == 0 || ctx == nil || ctx.Done() == nil {
		return os.Open(path)
	}
	type opened struct {
		f   *os.File
		err error
	}
	done := make(chan opened, 1)
	go func() {
		f, err := os.Open(path)
		done <- opened{f, err}
	}()
	select {
	case o := <-done:
		return o.f, o.err
	case <-ctx.Done():
	}
	closeOpened := func(o opened) {
		if o.f != nil {
			o.f.Close()
		}
	}
	if w, err := os.OpenFile(path, os.O_RDWR, 0); err == nil {
		closeOpened(<-done)
		w.Close()
		return nil, context.Cause(ctx)
	}
	go func() { closeOpened(<-done) }()
	return nil, context.Cause(ctx)
}
