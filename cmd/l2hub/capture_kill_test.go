package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"l2hub/capture"
	"l2hub/hub/hubtest"
	"l2hub/transport"
)

// readCapture reads a capture file to its end or its first error and
// returns how many packets came before, and the error (nil at a clean end).
func readCapture(t *testing.T, path string) (int, error) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := capture.NewReader(f, capture.ReadOptions{})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, err := range r.All() {
		if err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// TestKilledCaptureIsRepaired is issue 15's kill -9 at 1500 B: the real
// binary is killed while two VMs send it full-size frames as fast as it
// takes them. The capture may end in a cut block, never in anything
// else; `l2hub capture repair` trims it, after which the file reads to its
// end with every whole frame kept, by l2hub's reader and by tshark.
func TestKilledCaptureIsRepaired(t *testing.T) {
	tshark, _ := exec.LookPath("tshark")
	if tshark == "" {
		t.Log("tshark is not installed: checking the repaired files with l2hub's reader only")
	}
	// Where the kill lands is chance: a round cuts a block only when it
	// lands in a write. Run at least three, and more (up to ten) until one
	// has left a cut block to repair.
	cuts := 0
	for round := 1; round <= 10 && (round <= 3 || cuts == 0); round++ {
		t.Run(fmt.Sprintf("round-%d", round), func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "run.pcapng")
			p := startBinary(t, nil, "serve", "--port", "a=tcp:127.0.0.1:0", "--port", "b=tcp:127.0.0.1:0",
				"--control", "off", "--capture", path)
			addrs := tcpPorts(t, p.stdout.String())
			vms := map[string]*transport.StreamConn{"a": dialVM(t, addrs["a"]), "b": dialVM(t, addrs["b"])}
			var wg sync.WaitGroup
			for name, vm := range vms {
				src, dst := macA, macB
				if name == "b" {
					src, dst = macB, macA
				}
				f := make([]byte, 1514)
				copy(f, hubtest.Frame(dst, src, "full size"))
				wg.Go(func() { // keep reading, so that the hub never waits for this VM
					buf := make([]byte, transport.DefaultMaxFrame)
					for {
						if _, err := vm.ReadFrame(buf); err != nil {
							return
						}
					}
				})
				wg.Go(func() {
					for vm.WriteFrame(f) == nil {
					}
				})
			}
			const size = 4 << 20
			for deadline := time.Now().Add(hangGuard); ; time.Sleep(5 * time.Millisecond) {
				if fi, err := os.Stat(path); err == nil && fi.Size() >= size {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the capture did not reach %d bytes; stderr:\n%s", size, p.stderr.String())
				}
			}
			// The size moves right after a write: kill a moment later, at
			// a point that has nothing to do with the writes.
			time.Sleep(time.Duration(round*3) * time.Millisecond)
			if err := p.cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			<-p.done
			p.done <- nil
			for _, vm := range vms {
				vm.Close()
			}
			wg.Wait()

			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			before, rerr := readCapture(t, path)
			var re *capture.ReadError
			cut := rerr != nil
			if cut && (!errors.Is(rerr, capture.ErrTruncated) || !errors.As(rerr, &re) || fi.Size()-re.Offset > 1<<16) {
				t.Fatalf("the killed hub's capture, after %d whole frames: %v (file of %d bytes); want at worst a cut last block", before, rerr, fi.Size())
			}
			out, err := exec.Command(l2hubBinary(t), "capture", "repair", path).CombinedOutput()
			if err != nil {
				t.Fatalf("l2hub capture repair: %v\n%s", err, out)
			}
			if want := map[bool]string{true: "trimmed a cut last block", false: "nothing to repair"}[cut]; !bytes.Contains(out, []byte(want)) {
				t.Errorf("l2hub capture repair said %q, want %q", out, want)
			}
			after, err := readCapture(t, path)
			if err != nil || after != before {
				t.Fatalf("the repaired capture: %d frames, %v; want the %d whole frames and a clean end", after, err, before)
			}
			if tshark != "" {
				cmd := exec.Command(tshark, "-r", path, "-T", "fields", "-e", "frame.number")
				var stderr bytes.Buffer
				cmd.Stderr = &stderr
				out, err := cmd.Output()
				if err != nil {
					t.Fatalf("tshark on the repaired capture: %v\n%s", err, stderr.String())
				}
				if lines := strings.Count(string(out), "\n"); lines != after {
					t.Errorf("tshark read %d frames from the repaired capture, l2hub %d", lines, after)
				}
			}
			if cut {
				cuts++
			}
			t.Logf("%d whole frames; the kill left a cut block: %v", after, cut)
		})
	}
	t.Logf("%d rounds left a cut block, which repair trimmed", cuts)
}
