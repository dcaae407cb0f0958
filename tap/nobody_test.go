//go:build linux

package tap_test

import (
	"fmt"
	"strings"
	"testing"

	"l2hub/internal/nobody"
	"l2hub/tap"
	"l2hub/tap/taptest"
)

// nobodyHelpers are what the tests here run as nobody (see TestMain).
var nobodyHelpers = map[string]nobody.Helper{
	// open-tap DEVICE NETNS: OpenTAP, printing "opened" or the error.
	"open-tap": func(args []string) int {
		d, err := tap.OpenTAP(tap.TAPConfig{Name: args[0], Netns: args[1]})
		if err != nil {
			fmt.Println("error:", err)
			return 0
		}
		d.Close()
		fmt.Println("opened")
		return 0
	},
}

// Namespaces nobody may use: entering an existing one and creating a
// named one fail with what to grant and how (a named namespace is a file
// only root may make), not with a bare netlink error.
func TestTAPNetnsAsNobody(t *testing.T) {
	taptest.NeedTAP(t)
	for _, tc := range []struct {
		name          string
		exists        bool
		want, wantNot []string // NS stands for the namespace's name
	}{
		{"enter-existing", true, []string{"enter network namespace", "operation not permitted", "CAP_SYS_ADMIN", "setcap cap_sys_admin,cap_net_admin+ep"}, []string{"while creating netlink socket"}},
		{"create-named", false, []string{"create network namespace", "takes root", "sudo ip netns add NS"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ns := taptest.UniqueName(t)
			if tc.exists {
				addNetns(t, ns)
				defer taptest.RemoveByName(ns)
			}
			out, err := nobody.Command(t, "open-tap", ns, ns).CombinedOutput()
			if err != nil {
				t.Fatalf("helper: %v: %s", err, out)
			}
			got := string(out)
			if !strings.HasPrefix(got, "error: ") {
				t.Fatalf("OpenTAP as nobody = %q, want an error", got)
			}
			for _, w := range tc.want {
				if w = strings.ReplaceAll(w, "NS", ns); !strings.Contains(got, w) {
					t.Errorf("OpenTAP as nobody = %q, want it to say %q", got, w)
				}
			}
			for _, w := range tc.wantNot {
				if strings.Contains(got, w) {
					t.Errorf("OpenTAP as nobody = %q, want it not to say %q", got, w)
				}
			}
		})
	}
}
