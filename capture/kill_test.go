package capture

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"testing"
	"time"

	"l2hub/hub"
)

const killChildEnv = "L2HUB_CAPTURE_KILL_CHILD"

// killSeq describes packet k of the kill test's stream.
func killSeq(k int) (size int, dir hub.Direction, comment bool) {
	size = 60 + k*37%1455
	if k%2 == 1 {
		dir = hub.Egress
	}
	return size, dir, k%5 == 0
}

// killEvent is packet k of the kill test's stream (killSeq), on port a,
// as the hub observes it at the time at.
func killEvent(k int, at time.Time) hub.Event {
	size, dir, comment := killSeq(k)
	ev := hub.Event{Time: at, Port: 0, PortName: "a", Dir: dir, Frame: frame(size, 1, 2, k)}
	if comment {
		ev.Notes = []hub.Note{{Link: "a->a", Rule: "r", Action: "delay", Detail: "1ms"}}
	}
	return ev
}

// TestKillWriter kills a writing process with SIGKILL mid-stream and reads
// its file back: every packet on disk must be whole and in order, and the
// file may end at worst in one cut block.
func TestKillWriter(t *testing.T) {
	if path := os.Getenv(killChildEnv); path != "" {
		killChild(path)
		return
	}
	exe, err := os.Executable()
	if err != nil {
		t.Skipf("cannot find the test binary to re-run as a writer: %v", err)
	}
	for round := range 3 {
		t.Run(fmt.Sprintf("round-%d", round), func(t *testing.T) {
			path := tempPath(t, "run.pcapng")
			cmd := exec.Command(exe, "-test.run=^TestKillWriter$")
			cmd.Env = append(os.Environ(), killChildEnv+"="+path)
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			// The child writes until it is killed, or until its stdin
			// closes: then this test has gone away without killing it.
			stdin, err := cmd.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			defer stdin.Close()
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			// The child says "ready" once thousands of packets are on disk,
			// and goes on writing.
			line, err := bufio.NewReader(stdout).ReadString('\n')
			if line != "ready\n" {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("child said %q (%v), want ready", line, err)
			}
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			if err := cmd.Wait(); err == nil {
				t.Fatalf("child finished before the kill; the test proved nothing")
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			r, err := NewReader(bytes.NewReader(b), ReadOptions{})
			if err != nil {
				t.Fatalf("NewReader on a killed writer's file: %v", err)
			}
			n := 0
			for {
				p, err := r.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					var re *ReadError
					if !errors.Is(err, ErrTruncated) || !errors.As(err, &re) || re.Offset+int64(epbLen(1500, make([]byte, 40))) < int64(len(b)) {
						t.Fatalf("after %d whole packets: %v (file of %d bytes); want at worst a cut last block", n, err, len(b))
					}
					t.Logf("file ends in a cut block: %v", err)
					break
				}
				size, dir, comment := killSeq(n)
				want := frame(size, 1, 2, n)
				wantDir := DirIn
				if dir == hub.Egress {
					wantDir = DirOut
				}
				if !bytes.Equal(p.Data, want) || p.Dir != wantDir || (p.Comment != "") != comment {
					t.Fatalf("packet %d: got %d bytes %v comment %q, want packet %d of the stream", n+1, len(p.Data), p.Dir, p.Comment, n)
				}
				n++
			}
			if n < 2000 {
				t.Errorf("got %d packets, want at least the 2000 the child reported written", n)
			}
			t.Logf("read %d whole packets from %d bytes", n, len(b))
		})
	}
}

// killChild writes the stream, then waits, until it is killed, however
// long the parent takes to do it, or until its stdin closes (the parent is
// gone). The stream is bounded, so that a stalled parent does not fill the
// disk.
func killChild(path string) {
	go func() {
		io.Copy(io.Discard, os.Stdin)
		os.Exit(3) // not killed: the parent reports it
	}()
	s, err := Open(Config{Path: path, Overflow: OverflowBlock, BatchBytes: 8 << 10})
	if err != nil {
		fmt.Println(err)
		os.Exit(2)
	}
	s.PortAdded(hub.PortInfo{ID: 0, Name: "a", Description: "test a"})
	clock := hub.NewVirtualClock(t0)
	ready := false
	for k := 0; k < 200_000; k++ {
		ev := killEvent(k, clock.Now())
		s.Observe(&ev)
		clock.Advance(time.Microsecond)
		if !ready && s.Stats().Written >= 2000 {
			ready = true
			fmt.Println("ready")
		}
	}
	select {}
}
