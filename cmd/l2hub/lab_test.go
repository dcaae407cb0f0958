package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"l2hub/lab"
)

// buildFakeQEMU builds the lab runner's fake QEMU (a script player) into
// a temporary directory.
func buildFakeQEMU(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "fakeqemu")
	if out, err := exec.Command("go", "build", "-o", bin, "l2hub/lab/internal/fakeqemu").CombinedOutput(); err != nil {
		t.Fatalf("go build fakeqemu: %v\n%s", err, out)
	}
	return bin
}

// outDir is the --out of args.
func outDir(args []string) string {
	for i, a := range args {
		if a == "--out" && i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}

// l2hub lab: exit 0 for a lab that passes, 1 with the classification for
// one that fails, and the lab file's errors with their line and column.
func TestLabCommand(t *testing.T) {
	fake := buildFakeQEMU(t)
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	pass := write("pass.yaml", `
name: pass
vms:
  - {name: a, mac: "52:54:00:00:00:0a", qemu: "${Q}", args: [-say, "seed ${SEED}", -say, up, -hang], expect: [{marker: up, within: 60s}]}
`)
	fail := write("fail.yaml", `
name: fail
vms:
  - {name: a, mac: "52:54:00:00:00:0a", qemu: "${Q}", args: [-say, up, -say, "nexus FAIL", -hang], fail_on: [FAIL], expect: [{marker: done}]}
`)
	unfired := write("unfired.yaml", `
name: unfired
vms:
  - {name: a, mac: "52:54:00:00:00:0a", qemu: "${Q}", args: [-say, up, -hang], expect: [{marker: up}]}
triggers: [{on: "a: handshake ok", do: "link a down"}]
`)
	serial := write("serial.yaml", `
name: serial
vms:
  - {name: a, mac: "52:54:00:00:00:0a", qemu: "${Q}", args: [-serial, "unix:${RUN}/s,server=on,wait=off", -say, up, -hang], expect: [{marker: up}]}
`)
	bad := write("bad.yaml", "name: bad\nvms:\n  - {name: a, mac: \"52:54:00:00:00:0a\", qemu: \"${Q}\", expect: [{marker: up, within: soon}]}\n")
	tests := []struct {
		name string
		args []string
		code int      // 0, or the exitError code (-1: any other error)
		want []string // in stdout, or in the error
	}{
		{"pass", []string{"lab", pass, "--var", "Q=" + fake, "--seed", "5", "--out", filepath.Join(dir, "r1")}, 0,
			[]string{"seed 5", "PASS pass", "run directory: " + filepath.Join(dir, "r1")}},
		{"fail", []string{"lab", fail, "--var", "Q=" + fake, "--out", filepath.Join(dir, "r2")}, 1,
			[]string{"failure: FAIL_ON (phase run, VM a", "missing marker: \"done\"", "rerun: l2hub lab " + fail + " --var Q=" + fake, "lab failed: FAIL_ON"}},
		{"unfired", []string{"lab", unfired, "--var", "Q=" + fake, "--out", filepath.Join(dir, "r9")}, 1,
			[]string{"failure: TRIGGER_NOT_FIRED (phase run, VM a", `trigger-1 (on a: "handshake ok": link a down) never fired`, "lab failed: TRIGGER_NOT_FIRED"}},
		{"comma-out", []string{"lab", serial, "--var", "Q=" + fake, "--out", filepath.Join(dir, "r,10")}, -1,
			[]string{`its path holds a comma, and VM a's args[1] "unix:${RUN}/s,server=on,wait=off" after -serial uses ${RUN}`}},
		{"repeat", []string{"lab", pass, "--var", "Q=" + fake, "--repeat", "2", "--seed", "8", "--out", filepath.Join(dir, "r3")}, 0,
			[]string{"=== run 2 of 2: seed 9", "0 of 2 runs failed"}},
		{"repeat-seeds-wrap", []string{"lab", pass, "--var", "Q=" + fake, "--repeat", "3", "--seed", "18446744073709551614", "--out", filepath.Join(dir, "r11")}, -1,
			[]string{"--repeat 3 from seed 18446744073709551614: the seeds would pass 18446744073709551615 and wrap around to 0"}},
		{"keep-failing-one-pass", []string{"lab", pass, "--var", "Q=" + fake, "--keep-failing", "--out", filepath.Join(dir, "r12")}, 0,
			[]string{"PASS pass", "emptied except junit.xml (--keep-failing)"}},
		{"bad-file", []string{"lab", bad, "--var", "Q=" + fake}, -1, []string{bad + ":3:85: vms[0].expect[0].within: \"soon\""}},
		{"bad-file-out", []string{"lab", bad, "--var", "Q=" + fake, "--out", filepath.Join(dir, "r5")}, -1, []string{bad + ":3:85: vms[0].expect[0].within: \"soon\""}},
		{"bad-until", []string{"lab", pass, "--var", "Q=" + fake, "--until", "nope", "--out", filepath.Join(dir, "r4")}, -1, []string{"--until nope: no such phase"}},
		// A typed flag's bad value is an argument error like the others,
		// wherever --out comes.
		{"bad-soak", []string{"lab", pass, "--var", "Q=" + fake, "--out", filepath.Join(dir, "r6"), "--soak", "nope"}, -1, []string{"--soak nope: want a duration"}},
		{"bad-grace", []string{"lab", pass, "--grace", "nope", "--var", "Q=" + fake, "--out", filepath.Join(dir, "r7")}, -1, []string{"--grace nope: want a duration"}},
		{"bad-repeat", []string{"lab", pass, "--repeat", "x", "--out", filepath.Join(dir, "r8")}, -1, []string{"--repeat x: want a whole number, 1 or more"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), tt.args, &stdout, &stderr)
			code := 0
			text := stdout.String()
			if err != nil {
				var ee *exitError
				if errors.As(err, &ee) {
					code = ee.code
				} else {
					code = -1
				}
				text += "\n" + err.Error()
			}
			if code != tt.code {
				t.Errorf("got exit %d (%v), want %d:\n%s", code, err, tt.code, text)
			}
			for _, w := range tt.want {
				if !strings.Contains(text, w) {
					t.Errorf("got\n%s\nwant it to contain %q", text, w)
				}
			}
			// What --out's junit.xml must hold: a lab that could not start
			// says why in a test case in error; --repeat's runs are a suite
			// each.
			junitWant := map[string][]string{
				"bad-file-out":          {`tests="1" failures="0" errors="1"`, `<testcase name="lab file"`, `<error message=`, `type="ERROR"`, `vms[0].expect[0].within: &#34;soon&#34;`},
				"bad-until":             {`tests="1" failures="0" errors="1"`, `<testcase name="arguments"`, `<error message=`, `type="ERROR"`, `--until nope: no such phase`},
				"bad-soak":              {`<testcase name="arguments"`, `--soak nope: want a duration`},
				"bad-grace":             {`<testcase name="arguments"`, `--grace nope: want a duration`},
				"bad-repeat":            {`<testcase name="arguments"`, `--repeat x: want a whole number`},
				"unfired":               {`<testcase name="trigger-1: on a: &#34;handshake ok&#34;: link a down" classname="unfired.triggers" time="0">`, `type="TRIGGER_NOT_FIRED"`},
				"comma-out":             {`<testcase name="arguments"`, `give --out a directory without a comma`},
				"repeat":                {`<testsuite name="pass seed 8"`, `<testsuite name="pass seed 9"`, `tests="2" failures="0"`},
				"repeat-seeds-wrap":     {`<testcase name="arguments"`, `wrap around to 0`},
				"keep-failing-one-pass": {`<testsuite name="pass"`, `failures="0"`},
			}
			if tt.name == "keep-failing-one-pass" {
				if entries, _ := os.ReadDir(outDir(tt.args)); len(entries) != 1 {
					t.Errorf("got %d files in the passing run's directory, want junit.xml alone", len(entries))
				}
			}
			if want := junitWant[tt.name]; want != nil {
				junit, err := os.ReadFile(filepath.Join(outDir(tt.args), "junit.xml"))
				for _, w := range want {
					if err != nil || !bytes.Contains(junit, []byte(w)) {
						t.Errorf("got junit.xml %s (%v), want %s in it", junit, err, w)
					}
				}
			}
		})
	}
}

// `l2hub lab --help` and the README's "Run a lab" name every file a run
// writes (a run with a checker and a disk, so that all of them are there).
func TestLabHelpNamesRunFiles(t *testing.T) {
	fake := buildFakeQEMU(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "lab.yaml")
	text := `
name: files
hub: {check: nexus-v1}
vms:
  - {name: a, mac: "52:54:00:00:00:0a", qemu: "${Q}", args: [-say, up, -frame, arp, -hang], expect: [{marker: up}], disks: [{file: blk-a.img, size: 1M}]}
`
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "run")
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"lab", file, "--var", "Q=" + fake, "--out", out}, &stdout, &stderr); err != nil {
		t.Fatalf("l2hub lab: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	entries, err := os.ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	// How the texts name each file: a console log by its pattern, a disk
	// by the key that asks for it.
	named := map[string]string{"a.log": "<vm>.log", "blk-a.img": "disks"}
	var want []string
	for _, e := range entries {
		if n, ok := named[e.Name()]; ok {
			want = append(want, n)
		} else {
			want = append(want, e.Name())
		}
	}
	stdout.Reset()
	if err := run(context.Background(), []string{"lab", "--help"}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	_, help, _ := strings.Cut(stdout.String(), "The run directory")
	help, _, _ = strings.Cut(help, "\n\n")
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, _ := strings.Cut(string(readme), "**The run directory**")
	section, _, _ = strings.Cut(section, "\n\n")
	for _, text := range []struct{ name, body string }{{"l2hub lab --help", help}, {"README's run directory", section}} {
		if text.body == "" {
			t.Errorf("%s: no paragraph on the run directory", text.name)
		}
		for _, w := range want {
			if !strings.Contains(text.body, w) {
				t.Errorf("%s does not name %s, which the run wrote (run directory: %v)", text.name, w, want)
			}
		}
	}
}

// Every `l2hub lab` example of the help and the README works as written
// from where it says to run it: an l2hub checkout with the guest built
// (e2e/out/guest), or an open-nexus-OS checkout ($PWD) for the ones that
// name /path/to/l2hub. Both are made up in a temporary directory; the
// lab files are the repository's.
func TestLabExamplesLoad(t *testing.T) {
	root := t.TempDir()
	osDir := filepath.Join(root, "open-nexus-OS")
	labs, err := filepath.Glob(filepath.Join("..", "..", "testdata", "labs", "*.yaml"))
	if err != nil || len(labs) == 0 {
		t.Fatalf("no lab files: %v", err)
	}
	made := []string{
		filepath.Join(root, "e2e", "out", "guest", "vmlinuz"),
		filepath.Join(root, "e2e", "out", "guest", "initramfs.cpio.gz"),
		filepath.Join(osDir, "target-os2vm", "riscv64imac-unknown-none-elf", "release", "neuron-boot.bin"),
	}
	for _, f := range labs {
		made = append(made, filepath.Join(root, "testdata", "labs", filepath.Base(f)))
	}
	for _, f := range made {
		data := []byte(nil)
		if strings.HasSuffix(f, ".yaml") {
			if data, err = os.ReadFile(filepath.Join("..", "..", "testdata", "labs", filepath.Base(f))); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"lab", "--help"}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, help, _ := strings.Cut(stdout.String(), "Examples:")
	help, _, _ = strings.Cut(help, "Flags:")
	var examples []string
	for _, text := range []string{help, string(readme)} {
		for line := range strings.Lines(text) {
			if l := strings.TrimSpace(line); strings.HasPrefix(l, "l2hub lab ") {
				l, _, _ = strings.Cut(l, "#")
				examples = append(examples, strings.TrimSpace(l))
			}
		}
	}
	if len(examples) < 6 {
		t.Fatalf("got %d examples of l2hub lab in its help and the README, want more: %q", len(examples), examples)
	}
	for _, ex := range examples {
		args := strings.Fields(ex)[2:]
		cwd := root
		if strings.HasPrefix(args[0], "/path/to/l2hub/") {
			args[0], cwd = filepath.Join(root, strings.TrimPrefix(args[0], "/path/to/l2hub/")), osDir
		}
		file := args[0]
		if !filepath.IsAbs(file) {
			file = filepath.Join(cwd, file)
		}
		var vars []string
		for i := 1; i+1 < len(args); i++ {
			if args[i] == "--var" {
				vars = append(vars, strings.ReplaceAll(args[i+1], "$PWD", cwd))
			}
		}
		vs, err := lab.ParseVars(vars)
		if err != nil {
			t.Errorf("%s: %v", ex, err)
			continue
		}
		lookPath := func(name string) (string, error) { return "/usr/bin/" + name, nil }
		if _, err := lab.Load(file, lab.LoadOptions{Vars: vs, LookPath: lookPath}); err != nil {
			t.Errorf("%s, run in %s: %v", ex, cwd, err)
		}
	}
}
