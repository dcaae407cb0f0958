package ready

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// barrier returns a testHook that holds the first n callers at step
// until all n have come, so that n claims interleave there.
func barrier(step string, n int) func(string) {
	var mu sync.Mutex
	arrived := 0
	all := make(chan struct{})
	return func(s string) {
		if s != step {
			return
		}
		mu.Lock()
		arrived++
		switch {
		case arrived == n:
			close(all)
		case arrived > n:
			mu.Unlock()
			return
		}
		mu.Unlock()
		<-all
	}
}

// writeAtOnce runs Write on path from two goroutines that meet at step,
// and returns what each got.
func writeAtOnce(t *testing.T, path, step string) (files []*File, errs []error) {
	t.Helper()
	testHook = barrier(step, 2)
	defer func() { testHook = nil }()
	files, errs = make([]*File, 2), make([]error, 2)
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Go(func() { files[i], errs[i] = Write(path, Info{PID: os.Getpid(), Control: string(rune('a' + i))}) })
	}
	wg.Wait()
	return files, errs
}

// TestTwoHubsAtOnce: two hubs that write one ready file at the same time
// (each has checked the path and made its file before either publishes,
// or each has found the same file left behind before either locks it)
// never both take it: one publishes, the other is refused with
// ErrLiveHub, and the file at the path is the one the first holds.
func TestTwoHubsAtOnce(t *testing.T) {
	for _, tt := range []struct {
		name, step string
		before     func(t *testing.T, path string)
	}{
		{"new-path", "link", nil},
		{"file-left-behind", "lock", func(t *testing.T, path string) {
			// A file this process wrote and let go of, as one left by a
			// hub that exited: replaceable by either.
			if err := WriteFile(path, Info{PID: os.Getpid(), Control: "left"}); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "hub.ready")
			if tt.before != nil {
				tt.before(t, path)
			}
			files, errs := writeAtOnce(t, path, tt.step)
			var won *File
			for i := range 2 {
				switch {
				case errs[i] == nil && won == nil:
					won = files[i]
				case errs[i] == nil:
					t.Errorf("both hubs took %s", path)
				case !errors.Is(errs[i], ErrLiveHub):
					t.Errorf("hub %d: got %v, want ErrLiveHub", i, errs[i])
				}
			}
			if won == nil {
				t.Fatalf("neither hub took %s: %v", path, errs)
			}
			fi, err := os.Lstat(path)
			if err != nil || !os.SameFile(fi, won.written) {
				t.Errorf("the file at %s is not the one the hub that took it holds (%v)", path, err)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 1 {
				t.Errorf("%d files in the directory, want only the ready file", len(entries))
			}
			// Held, it is refused to a later hub too; removed, it is free.
			if _, err := Write(path, Info{PID: os.Getpid()}); !errors.Is(err, ErrLiveHub) {
				t.Errorf("a later hub: got %v, want ErrLiveHub", err)
			}
			if err := won.Remove(); err != nil {
				t.Fatal(err)
			}
			f, err := Write(path, Info{PID: os.Getpid()})
			if err != nil {
				t.Fatalf("after Remove: %v", err)
			}
			f.Remove()
		})
	}
}
