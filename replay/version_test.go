package replay

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"l2hub/capture"
	"l2hub/filter"
	"l2hub/hub"
	"l2hub/hub/hubtest"
	"l2hub/internal/buildinfo"
)

// versionCapture is a capture whose header says an l2hub of version v
// made it, with a frame from a to b.
func versionCapture(t *testing.T, v string) string {
	t.Helper()
	return oneFrameRun(t, hub.ModeHub, nil, capture.Meta{Version: v, Start: hub.DefaultEpoch, Extra: map[string]string{"mode": "hub"}},
		hubtest.Frame(hubtest.MAC("02:00:00:00:00:0b"), hubtest.MAC("02:00:00:00:00:0a"), "one"))
}

// TestJobWarnsOfAnOlderVersion: a capture an l2hub made before the latest
// change in decisions, replayed with a policy, is warned of, with what
// changed since; one made by this version, or by a build whose version is
// not x.y.z, is not, nor is a replay without a policy.
func TestJobWarnsOfAnOlderVersion(t *testing.T) {
	pol := filepath.Join(t.TempDir(), "p.yaml")
	if err := os.WriteFile(pol, []byte("rules:\n  - {name: r, rate: 3Mbit}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, version, policy string
		want                  string // in the warning; "" for none
	}{
		{"0.2.0", "0.2.0", pol, "recorded by l2hub 0.2.0, whose policies decided some things differently from this replay's, which decide as l2hub 0.3.0 does (0.3.0: rates whose time per byte is not a whole number of ns"},
		{"0.1.0", "0.1.0", pol, "(0.2.0: duplicated copies'"},
		{"this-version", buildinfo.Version, pol, ""},
		{"not-a-version", "test", pol, ""},
		{"no-policy", "0.2.0", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := (&Job{Files: []string{versionCapture(t, tc.version)}, Policy: tc.policy}).Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, n := range res.Notes {
				if strings.Contains(n.Text, "recorded by l2hub") {
					got = append(got, n.String())
				}
			}
			switch {
			case tc.want == "" && len(got) > 0:
				t.Errorf("got notes %q, want no version warning", got)
			case tc.want != "" && (len(got) != 1 || !strings.Contains(got[0], tc.want) || !strings.HasPrefix(got[0], "warning: ")):
				t.Errorf("got version notes %q, want one warning containing %q", got, tc.want)
			}
		})
	}
}

// TestBuildVersionDecidesAsOfTheLatestChange: a change in decisions is
// recorded (filter.ChangedSince) with a version no newer than the one
// captures record, so that captures made before it can be told apart.
func TestBuildVersionDecidesAsOfTheLatestChange(t *testing.T) {
	if what, ok := filter.ChangedSince(buildinfo.Version); !ok || len(what) > 0 {
		t.Errorf("got filter.ChangedSince(buildinfo.Version %q) = %q, %v; want no change after the version captures record", buildinfo.Version, what, ok)
	}
}
