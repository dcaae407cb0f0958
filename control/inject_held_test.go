package control_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"l2hub/control"
	"l2hub/control/controltest"
	"l2hub/hub"
)

// heldTarget is a target whose port a never has room: WaitRoom returns only
// when its context ends, which it counts.
type heldTarget struct {
	*fakeTarget
	waiting, ended atomic.Int32
}

func (h *heldTarget) WaitRoom(ctx context.Context, port string) error {
	h.waiting.Add(1)
	<-ctx.Done()
	h.ended.Add(1)
	return ctx.Err()
}

func (h *heldTarget) InjectFrame(context.Context, string, []byte) (hub.DropReason, error) {
	return hub.DropNone, nil
}

// TestInjectWaitForRoomIsBounded: an injection held back by a port with no
// room (its VM stopped reading, a long stall time) reads nothing from its
// client, so neither the connection's read deadline nor the client going
// away ends it. The idle timeout does: the request fails naming the port,
// and the wait ends, freeing its slot.
func TestInjectWaitForRoomIsBounded(t *testing.T) {
	target := &heldTarget{fakeTarget: newFakeTarget()}
	path := controltest.Serve(t, &control.Server{Target: target, IdleTimeout: 50 * time.Millisecond})
	pr, pw := io.Pipe()
	defer pw.Close() // the client stays, its stream open: only the server can end the wait
	answer := make(chan error, 1)
	go func() {
		_, err := control.NewClient(path, "").Inject(context.Background(), "a", pr)
		answer <- err
	}()
	var err error
	select {
	case err = <-answer:
	case <-time.After(hangGuard):
		pw.CloseWithError(errors.New("hang guard"))
		<-answer
		t.Fatal("an injection waiting for room outlived the idle timeout")
	}
	if err == nil || !strings.Contains(err.Error(), `port "a" held the injection back`) {
		t.Errorf("got Inject into a port with no room = %v, want an error saying port a held it back", err)
	}
	if w, e := target.waiting.Load(), target.ended.Load(); w != 1 || e != 1 {
		t.Errorf("got %d waits for room, %d ended; want 1, 1", w, e)
	}
}
