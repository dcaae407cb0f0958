//go:build unix

package control_test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"l2hub/control"
)

// TestTokenFileThatIsNoFile: a device (/dev/null) or a directory given as
// a token file is refused as what it is, with no advice to chmod it
// (chmod 600 /dev/null would break the system); a pipe, as in
// `echo TOKEN | l2hub serve --control-token-file /dev/stdin`, is read.
func TestTokenFileThatIsNoFile(t *testing.T) {
	dir := t.TempDir()
	for name, read := range map[string]func(string) (string, error){
		"control": control.ReadTokenFile,
		"metrics": control.ReadMetricsTokenFile,
	} {
		for _, tc := range []struct{ path, want string }{
			{os.DevNull, "token file " + os.DevNull + " is a device, not a token file"},
			{dir, "token file " + dir + " is a directory, not a token file"},
		} {
			got, err := read(tc.path)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s: got ReadTokenFile(%s) = %q, %v; want an error containing %q", name, tc.path, got, err, tc.want)
			} else if strings.Contains(err.Error(), "chmod") {
				t.Errorf("%s: got ReadTokenFile(%s) error %v; want no chmod advice", name, tc.path, err)
			}
		}

		fifo := filepath.Join(t.TempDir(), "fifo")
		if err := syscall.Mkfifo(fifo, 0o600); err != nil {
			t.Fatal(err)
		}
		const token = "pipedtoken0123456789"
		wrote := make(chan error, 1)
		go func() { // the FIFO's open waits for the reader's
			f, err := os.OpenFile(fifo, os.O_WRONLY, 0)
			if err == nil {
				_, err = f.WriteString(token + "\n")
				f.Close()
			}
			wrote <- err
		}()
		got, err := read(fifo)
		if werr := <-wrote; werr != nil {
			t.Fatalf("%s: writing the FIFO: %v", name, werr)
		}
		if err != nil || got != token {
			t.Errorf("%s: got ReadTokenFile(a FIFO) = %q, %v; want %q", name, got, err, token)
		}
	}
}
