package lab

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestRunOnARealFullDisk runs a lab (the test binary as its runner) into a
// 256 KiB tmpfs, mounted in a mount namespace of its own (unshare -m,
// root only) that goes with the runner, and copies the run directory out
// before it does. A's console fills the disk; the lab passes. The runner
// exits 1, for summary.json and junit.xml are not written, and each is
// either missing or whole, never a truncated or empty file, and no
// temporary file is left beside it; a.log's stop is said in the output.
func TestRunOnARealFullDisk(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("skipping: mounting a small tmpfs to fill needs root")
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Skip("skipping: unshare (util-linux) is not installed")
	}
	dir := t.TempDir()
	lab := `
name: full
timeout: 60s
vms:
  - name: a
    mac: 52:54:00:12:34:0a
    qemu: ` + fakeQEMU + `
    args: [-say, "GUEST: up", -spam, "20000", -say, "GUEST: done ok"]
    expect: [{marker: "GUEST: done ok", within: 60s}]
`
	file := filepath.Join(dir, "lab.yaml")
	if err := os.WriteFile(file, []byte(lab), 0o644); err != nil {
		t.Fatal(err)
	}
	mnt, copied := filepath.Join(dir, "mnt"), filepath.Join(dir, "copied")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	// Root without CAP_SYS_ADMIN (a container's) cannot make the
	// namespace: unshare itself fails, as the runner would with 1.
	if out, err := exec.Command(unshare, "-m", "--propagation", "private", "mount", "-t", "tmpfs", "-o", "size=256k", "none", mnt).CombinedOutput(); err != nil {
		t.Skipf("skipping: cannot mount a tmpfs in a mount namespace of its own: %v\n%s", err, out)
	}
	const script = `mount -t tmpfs -o size=256k none "$1" || exit 99
"$2" -test.run='^$'
rc=$?
cp -a "$1/run" "$3"
exit $rc`
	runner := exec.Command(unshare, "-m", "--propagation", "private", "sh", "-c", script, "sh", mnt, os.Args[0], copied)
	runner.Env = append(os.Environ(), runnerEnv+"="+file, runnerDirEnv+"="+filepath.Join(mnt, "run"))
	var out bytes.Buffer
	runner.Stdout, runner.Stderr = &out, &out
	err = runner.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("got runner error %v, want it to exit 1\n%s", err, out.String())
	}
	switch ee.ExitCode() {
	case 99:
		t.Skipf("skipping: cannot mount a tmpfs in a mount namespace of its own:\n%s", out.String())
	case 1:
	default:
		t.Fatalf("got runner exit %v, want 1\n%s", err, out.String())
	}
	for _, want := range []string{"PASS full", "summary.json not written: ", "not written: the lab passed", "note: a.log stops after "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the runner printed no %q:\n%s", want, out.String())
		}
	}
	entries, err := os.ReadDir(copied)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("got %s left in the run directory, want no temporary file", e.Name())
		}
	}
	if data, err := os.ReadFile(filepath.Join(copied, "summary.json")); err == nil {
		if err := json.Unmarshal(data, new(Summary)); err != nil {
			t.Errorf("got summary.json of %d bytes that does not parse (%v), want it whole or missing", len(data), err)
		}
	}
	if data, err := os.ReadFile(filepath.Join(copied, "junit.xml")); err == nil {
		if err := xml.Unmarshal(data, new(junitSuites)); err != nil {
			t.Errorf("got junit.xml of %d bytes that does not parse (%v), want it whole or missing", len(data), err)
		}
	}
}
