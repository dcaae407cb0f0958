package nobody

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// UID and GID are nobody's.
const (
	UID = 65534
	GID = 65534
)

const helperEnv = "L2HUB_NOBODY_HELPER"

// A Helper is code a test runs as nobody: it gets the arguments Command was
// given and returns the process's exit status.
type Helper func(args []string) int

// Main runs the helper that the environment names, if any, and exits with
// its status; otherwise it returns. Call it first in TestMain.
func Main(helpers map[string]Helper) {
	name := os.Getenv(helperEnv)
	if name == "" {
		return
	}
	h, ok := helpers[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "nobody: no helper %q\n", name)
		os.Exit(2)
	}
	os.Exit(h(os.Args[1:]))
}

// Command returns a command that runs the helper name with args as nobody.
// It skips t unless the test runs as root. The test binary is copied to a
// directory nobody can read, since go test builds it in one only its user
// can.
func Command(t testing.TB, name string, args ...string) *exec.Cmd {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skip("skipping: only root can run a helper as another user (nobody) to act as the attacker")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Skipf("skipping: cannot find the test binary to run as nobody: %v", err)
	}
	dir, err := os.MkdirTemp("", "l2hub-nobody-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "helper")
	if err := copyFile(bin, exe); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(bin, 0o755); err != nil { // whatever the umask took
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), helperEnv+"="+name)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: UID, Gid: GID}}
	return cmd
}

func copyFile(dst, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
