package transport_test

import (
	"os"
	"strings"
	"testing"
)

// readmeBullet returns the README's bullet that begins with start, up to
// the next bullet or blank line, its lines joined by spaces.
func readmeBullet(t *testing.T, start string) string {
	t.Helper()
	raw, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(raw)
	i := strings.Index(s, "\n"+start)
	if i < 0 {
		t.Fatalf("README.md has no bullet beginning %q", start)
	}
	var lines []string
	for j, line := range strings.Split(s[i+1:], "\n") {
		if line == "" || j > 0 && strings.HasPrefix(line, "- ") {
			break
		}
		lines = append(lines, strings.TrimSpace(line))
	}
	return strings.Join(lines, " ")
}

// readmeSays fails the test unless the README's bullet says each of want
// (and none of wrong): the facts the test before it established.
func readmeSays(t *testing.T, bullet string, want, wrong []string) {
	t.Helper()
	text := readmeBullet(t, bullet)
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("README.md's %q bullet does not say %q", bullet, w)
		}
	}
	for _, w := range wrong {
		if strings.Contains(text, w) {
			t.Errorf("README.md's %q bullet says %q, which is not so", bullet, w)
		}
	}
}

// TestReadmeQEMUReconnect: the README's advice for a hub that may restart
// knows that QEMU 8.0 and later reconnect a server=off stream by itself
// (reconnect=, in seconds; reconnect-ms= from 9.2), so it no longer says
// QEMU never retries a connect.
func TestReadmeQEMUReconnect(t *testing.T) {
	raw, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(strings.Fields(string(raw)), " ")
	for _, wrong := range []string{"(QEMU never retries a connect)", "`server=off` never retries"} {
		if strings.Contains(text, wrong) {
			t.Errorf("README.md says %q, but QEMU 8.0 and later retry with reconnect=/reconnect-ms=", wrong)
		}
	}
	i := strings.Index(text, "If the hub may restart while VMs run")
	if i < 0 {
		t.Fatal("README.md has no paragraph on a hub that may restart while VMs run")
	}
	para := text[i:]
	para = para[:strings.Index(para, "Every QEMU back end works")]
	for _, want := range []string{"reconnect-ms=", "QEMU 8.0 or later", "reconnect=1"} {
		if !strings.Contains(para, want) {
			t.Errorf("README.md's paragraph on a hub that may restart does not say %q", want)
		}
	}
}

// readmeText is the README with its whitespace runs made single spaces, so
// that a phrase matches across line breaks.
func readmeText(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(strings.Fields(string(raw)), " ")
}

// TestReadmeUnixgramPeer: the README says which senders a unixgram port
// takes as it does (see TestUnixgramStrangerElsewhere), and what a relative
// peer= leaves open.
func TestReadmeUnixgramPeer(t *testing.T) {
	text := readmeText(t)
	for _, want := range []string{
		"takes datagrams only from a sender bound to its `peer=` path as the banner and the `-netdev` flags print it (absolute) or exactly as `peer=` is written",
		"the peer's file spelled otherwise (`./vm.sock`, `/lab//vm.sock`) too",
		"write `peer=` absolute",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("README.md does not say %q", want)
		}
	}
}

// TestReadmeMcastLocal: the README says that an mcast port hears only the
// members that joined on its local= interface (IP_MULTICAST_ALL off; see
// TestMcastHearsOnlyItsInterface), and what a QEMU member needs for it.
func TestReadmeMcastLocal(t *testing.T) {
	text := readmeText(t)
	for _, want := range []string{
		"hub joins the group on A, 127.0.0.1 unless `local=`, and hears only members on A",
		"QEMU members must join on that interface too: `localaddr=A` (`socket`) or `local.host=A` (`dgram`)",
		"A member started without it joins where the route to the group goes",
		"set `local=` to the address of that interface",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("README.md does not say %q", want)
		}
	}
}
