package control

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

// slowChange is a Target whose ReplacePolicy says it is applying, then
// waits for release: set-policy's wait for the capture's new file, once
// the policy is in force. Its other methods are not called.
type slowChange struct {
	Target
	applying chan struct{}
	release  chan struct{}
}

func (t *slowChange) ReplacePolicy(context.Context, string, []byte) error {
	close(t.applying)
	<-t.release
	return nil
}

// TestAppliedChangeIsAnsweredPastTheGrace: a change being applied as the
// server stops is answered, however long it takes past the grace (here
// as short as can be), before the server cuts its connections; Serve
// returns only then.
func TestAppliedChangeIsAnsweredPastTheGrace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ctl.sock")
	raw, err := Listen(path, "")
	if err != nil {
		t.Fatal(err)
	}
	target := &slowChange{applying: make(chan struct{}), release: make(chan struct{})}
	s := &Server{Target: target, grace: time.Nanosecond}
	l := s.slots(raw)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- s.serve(ctx, l) }()
	answered := make(chan error, 1)
	go func() {
		answered <- NewClient(path, "").ReplacePolicy(context.Background(), "p.yaml", []byte("rules: []\n"))
	}()
	<-target.applying
	cancel()
	// The grace is over once no change may start (cutOff), or once Serve
	// returned: the change is released only then.
	returned := false
	for deadline := time.Now().Add(hangGuardSlots); !returned; time.Sleep(time.Millisecond) {
		l.mu.Lock()
		cut := l.cut
		l.mu.Unlock()
		if cut {
			break
		}
		select {
		case err := <-served:
			returned = true
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("never: the grace ran out")
		}
	}
	close(target.release)
	if err := <-answered; err != nil {
		t.Errorf("the policy was replaced, but set-policy got %v, want its answer", err)
	}
	if returned {
		t.Error("Serve returned before the change it applied was answered")
	} else if err := <-served; err != nil {
		t.Errorf("Serve: %v", err)
	}
}
