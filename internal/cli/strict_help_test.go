package cli

import "testing"

// TestHelpCommandAsHelpFlag: "help CMD" prints what "CMD --help" does,
// the -h/--help and (on the root) --version lines of the flags included,
// though Strict's help command runs the command's help itself.
func TestHelpCommandAsHelpFlag(t *testing.T) {
	for _, path := range []string{"", "serve", "ctl ports", "ctl link"} {
		viaFlag, err := execute(path + " --help")
		if err != nil {
			t.Fatalf("tool %s --help: %v", path, err)
		}
		viaCommand, err := execute("help " + path)
		if err != nil {
			t.Fatalf("tool help %s: %v", path, err)
		}
		if viaCommand != viaFlag {
			t.Errorf("tool help %s printed\n%s\nwant what tool %s --help prints:\n%s", path, viaCommand, path, viaFlag)
		}
	}
}
