//go:build linux

package tap_test

import (
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"

	"l2hub/internal/syncbuf"
	"l2hub/tap"
	"l2hub/tap/taptest"
	"l2hub/transport"
)

// TestTAPMTU: mtu= sets the device's MTU, on a device the hub creates and
// on a persistent one, which gets its own MTU back at Close; an MTU out of
// bounds, or whose frames exceed the maximum frame, is refused.
func TestTAPMTU(t *testing.T) {
	taptest.NeedTAP(t)
	mtuOf := func(t *testing.T, ns, name string) int {
		t.Helper()
		l, err := nlHandle(t, ns).LinkByName(name)
		if err != nil {
			t.Fatal(err)
		}
		return l.Attrs().MTU
	}
	t.Run("created", func(t *testing.T) {
		name := taptest.UniqueName(t)
		r, err := mustParse(t, fmt.Sprintf("t=tap:%s,netns=%s,mtu=1450", name, name)).Open(transport.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		if got := mtuOf(t, name, name); got != 1450 {
			t.Errorf("device MTU %d, want 1450", got)
		}
	})
	t.Run("persistent-restored", func(t *testing.T) {
		name := taptest.UniqueName(t)
		addNetns(t, name)
		addTuntap(t, name, name, netlink.TUNTAP_MODE_TAP)
		before := mtuOf(t, name, name)
		d, err := tap.OpenTAP(tap.TAPConfig{Name: name, Netns: name, MTU: 9000})
		if err != nil {
			t.Fatal(err)
		}
		if got, dm := mtuOf(t, name, name), d.MTU(); got != 9000 || dm != 9000 {
			t.Errorf("while open: device MTU %d, MTU() %d; want 9000", got, dm)
		}
		if err := d.Close(); err != nil {
			t.Fatal(err)
		}
		if got := mtuOf(t, name, name); got != before {
			t.Errorf("after Close: MTU %d, want %d back", got, before)
		}
		taptest.RemoveByName(name)
	})
	t.Run("kernel-max", func(t *testing.T) {
		name := taptest.UniqueName(t)
		d, err := tap.OpenTAP(tap.TAPConfig{Name: name, Netns: name, MTU: tap.MaxMTU})
		if err != nil {
			t.Fatalf("MTU %d (tap.MaxMTU): %v, want the kernel to take it", tap.MaxMTU, err)
		}
		if got := mtuOf(t, name, name); got != tap.MaxMTU {
			t.Errorf("device MTU %d, want %d", got, tap.MaxMTU)
		}
		if err := d.Close(); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("kernel-min", func(t *testing.T) {
		name := taptest.UniqueName(t)
		d, err := tap.OpenTAP(tap.TAPConfig{Name: name, Netns: name, MTU: tap.MinMTU})
		if err != nil {
			t.Fatalf("MTU %d (tap.MinMTU): %v, want the kernel to take it", tap.MinMTU, err)
		}
		if got := mtuOf(t, name, name); got != tap.MinMTU {
			t.Errorf("device MTU %d, want %d", got, tap.MinMTU)
		}
		if err := d.Close(); err != nil {
			t.Fatal(err)
		}
	})
	for _, tc := range []struct {
		mtu, maxFrame int
		want          string
	}{
		{67, 0, "MTU 67 outside 68..65521"},
		{65522, 0, "MTU 65522 outside 68..65521"},
		{1500, 1500, "MTU 1500 makes frames of 1514 bytes, longer than the maximum frame 1500"},
	} {
		name := taptest.UniqueName(t)
		d, err := tap.OpenTAP(tap.TAPConfig{Name: name, MTU: tc.mtu, MaxFrame: tc.maxFrame})
		if err == nil {
			d.Close()
			t.Errorf("MTU %d, maximum frame %d: opened, want %q", tc.mtu, tc.maxFrame, tc.want)
		} else if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("MTU %d, maximum frame %d: %v, want %q", tc.mtu, tc.maxFrame, err, tc.want)
		}
	}
	for _, text := range []string{"t=tap:l2h0,mtu=67", "t=tap:l2h0,mtu=65522", "t=tap:l2h0,mtu=big"} {
		if _, err := transport.ParseSpec(text); err == nil || !strings.Contains(err.Error(), "want the device's MTU, 68..65521") {
			t.Errorf("ParseSpec(%q) = %v, want the MTU refused", text, err)
		}
	}
	if _, err := transport.ParseSpec("t=tap:l2h0,mtu=9000"); err != nil {
		t.Errorf("tap mtu=9000: %v, want it accepted", err)
	}
	if _, err := transport.ParseSpec("x=vxlan:10.0.0.1:4789,remote=10.0.0.2,vni=1,mtu=100"); err == nil || !strings.Contains(err.Error(), "underlay's MTU") {
		t.Errorf("vxlan mtu=100: %v, want the underlay's bounds still", err)
	}
}

// TestTAPMTUAboveVXLAN: a TAP device the hub creates is 1500 bytes, more
// than a VXLAN port on a 1500-byte underlay carries (1450): opening the
// two ports, in either order, warns and says how to fix it; with mtu=1450
// there is no warning.
func TestTAPMTUAboveVXLAN(t *testing.T) {
	taptest.NeedTAP(t)
	for _, tc := range []struct {
		name      string
		tapFirst  bool
		tapOpt    string
		wantWarn  bool
		wantFixed string
	}{
		{"tap-first", true, "", true, "give the tap port mtu=1450"},
		{"vxlan-first", false, "", true, "give the tap port mtu=1450"},
		{"tap-mtu-too-big", false, ",mtu=1460", true, "lower its mtu= to 1450"},
		{"tap-mtu-1450", true, ",mtu=1450", false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := taptest.UniqueName(t)
			var logs syncbuf.Buffer
			opts := transport.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))}
			c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				t.Fatal(err)
			}
			local := c.LocalAddr().String()
			c.Close()
			specs := []string{
				fmt.Sprintf("host=tap:%s,netns=%s%s", name, name, tc.tapOpt),
				"ov=vxlan:" + local + ",remote=127.0.0.3,vni=42",
			}
			if !tc.tapFirst {
				specs[0], specs[1] = specs[1], specs[0]
			}
			for _, text := range specs {
				r, err := mustParse(t, text).Open(opts)
				if err != nil {
					t.Fatal(err)
				}
				defer r.Close()
			}
			log := strings.ReplaceAll(logs.String(), `\"`, `"`) // the text handler quotes msg
			warned := strings.Contains(log, `TAP device `+name+` (port "host") has MTU`) &&
				strings.Contains(log, `more than the 1450 that VXLAN port "ov" carries`)
			switch {
			case warned != tc.wantWarn:
				t.Errorf("warned %v, want %v:\n%s", warned, tc.wantWarn, log)
			case tc.wantWarn && !strings.Contains(log, tc.wantFixed):
				t.Errorf("the warning does not say %q:\n%s", tc.wantFixed, log)
			}
		})
	}
}

// TestTAPMTUAboveMaxFrame: a device whose frames (MTU + 14) are longer than
// the hub's maximum frame has its larger frames dropped as oversize; opening
// it warns once and says how to fix it. A device that fits does not warn.
func TestTAPMTUAboveMaxFrame(t *testing.T) {
	taptest.NeedTAP(t)
	for _, tc := range []struct {
		name     string
		tapOpt   string
		maxFrame int
		want     []string // all in one warning; none for no warning
	}{
		{"created-1500", "", 1000, []string{"has MTU 1500", "frames of up to 1514 bytes", "maximum frame 1000", "oversize", "mtu=986", "--max-frame 1514"}},
		{"below-min-mtu", "", 80, []string{"has MTU 1500", "--max-frame 1514"}},
		{"fits", "", 1514, nil},
		{"mtu-given", ",mtu=986", 1000, nil},
		{"default-max-frame", "", 0, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := taptest.UniqueName(t)
			var logs syncbuf.Buffer
			opts := transport.Options{MaxFrame: tc.maxFrame, Logger: slog.New(slog.NewTextHandler(&logs, nil))}
			r, err := mustParse(t, fmt.Sprintf("host=tap:%s,netns=%s%s", name, name, tc.tapOpt)).Open(opts)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			log := strings.ReplaceAll(logs.String(), `\"`, `"`)
			var warnings []string
			for l := range strings.Lines(log) {
				if strings.Contains(l, "level=WARN") {
					warnings = append(warnings, l)
				}
			}
			if tc.want == nil {
				if len(warnings) > 0 {
					t.Errorf("got warnings, want none:\n%s", log)
				}
				return
			}
			if len(warnings) != 1 {
				t.Fatalf("got %d warnings, want 1:\n%s", len(warnings), log)
			}
			for _, w := range tc.want {
				if !strings.Contains(warnings[0], w) {
					t.Errorf("the warning does not say %q:\n%s", w, warnings[0])
				}
			}
			if tc.name == "below-min-mtu" && strings.Contains(warnings[0], "mtu=") {
				t.Errorf("the warning suggests an mtu= below %d:\n%s", tap.MinMTU, warnings[0])
			}
		})
	}
}
