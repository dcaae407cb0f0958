package unixhttp

import (
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

// Serve serves h on a unix socket in a directory of its own, until the
// test ends, and returns the socket's path. The directory is under the
// system's temporary directory, not t.TempDir, whose long paths can pass
// a socket path's limit.
func Serve(t testing.TB, h http.HandlerFunc) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "l2h")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "c.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return path
}
