package serve

import (
	"bytes"
	"testing"
	"time"
)

// blockedWriter takes nothing until release is closed.
type blockedWriter struct{ release chan struct{} }

func (b blockedWriter) Write(p []byte) (int, error) {
	<-b.release
	return len(p), nil
}

// TestWriteWithinGivesUpOnAWriterThatTakesNothing: the summary's write to
// a stdout nobody reads returns an error after its bound instead of
// holding serve's exit; a writer that takes it gets all of it.
func TestWriteWithinGivesUpOnAWriterThatTakesNothing(t *testing.T) {
	b := blockedWriter{release: make(chan struct{})}
	defer close(b.release)
	done := make(chan error, 1)
	go func() { done <- writeWithin(b, []byte("summary\n"), time.Millisecond) }()
	select {
	case err := <-done:
		if err == nil {
			t.Error("got no error from a write nothing took")
		}
	case <-time.After(time.Minute): // a hang guard, not a timing
		t.Fatal("writeWithin held on to a writer that takes nothing")
	}
	var out bytes.Buffer
	if err := writeWithin(&out, []byte("summary\n"), time.Minute); err != nil || out.String() != "summary\n" {
		t.Errorf("got %q, %v; want the summary whole and no error", out.String(), err)
	}
}
