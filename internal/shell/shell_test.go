package shell

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestQuoteReadsBackInAShell: sh parses the quoted line into the very
// words, whatever they hold; plain words stay unquoted.
func TestQuoteReadsBackInAShell(t *testing.T) {
	args := []string{"-append", "console=ttyS0 quiet", "it's", "", "$HOME", "`id`", "a\nb", `back\slash`, "*", "#not-a-comment", "~", "plain-word_1.2=x,y:z/w"}
	line := Quote(args)
	if want := `-append 'console=ttyS0 quiet' 'it'\''s' ''`; !strings.HasPrefix(line, want) || !strings.HasSuffix(line, " plain-word_1.2=x,y:z/w") {
		t.Errorf("Quote = %s, want it to start %s and leave the plain word bare", line, want)
	}
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("skipped: no sh to read the line back")
	}
	out, err := exec.Command(sh, "-c", `printf '%s\0' `+line).Output()
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
	if !slices.Equal(got, args) {
		t.Errorf("sh read back %q, want %q", got, args)
	}
}

func TestIdent(t *testing.T) {
	for in, want := range map[string]string{"vm-a": "VM_A", "session": "SESSION", "node-a": "NODE_A", "Ab9.x y": "AB9_X_Y", "é": "_", "": ""} {
		if got := Ident(in); got != want {
			t.Errorf("Ident(%q) = %q, want %q", in, got, want)
		}
	}
}
