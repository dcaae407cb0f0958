package cli

import "testing"

// TestLoadHelpRefusesLongSetInGo: a command whose Long is set in Go and
// that has a help file is refused, as one with its Example set is: the
// text would be given twice, and one of the two silently lost.
func TestLoadHelpRefusesLongSetInGo(t *testing.T) {
	root := helpTree()
	find(t, root, "serve").Long = "Serve."
	err := LoadHelp(root, files(map[string]string{"serve.txt": "Serve, from the file.\n"}), nil)
	if want := `help file serve.txt: "tool serve" has its help set already`; errText(err) != want {
		t.Errorf("got LoadHelp error %q, want %q", errText(err), want)
	}
}
