package control

import (
	"fmt"
	"io/fs"
	"net"
	"os"
	"strconv"
	"strings"
)

// CheckAddr refuses a control address that only looks like one: "off"
// and "" (the default socket) are words; "tcp:HOST:PORT" is TCP and
// "unix:PATH" a socket file, whatever PATH is; any other value is a socket
// file only when it reads as a path, with a '/' in it (./ctl,
// /run/l2hub.sock) or a .sock suffix (ctl.sock). So 127.0.0.1:7291 (tcp:
// forgotten) or none (meant as off) is an error with a hint, never a
// socket file of that name in the working directory. A name in Linux's
// abstract namespace (@name) is refused: the control API binds only
// socket files. The error starts with the address, quoted.
func CheckAddr(addr string) error {
	if network, path := ParseAddr(addr); network == "unix" && strings.HasPrefix(path, "@") {
		return fmt.Errorf("%q: an abstract socket (@name) cannot be the control API's: give a socket path (./%s.sock) or tcp:HOST:PORT", addr, strings.TrimPrefix(path, "@"))
	}
	switch {
	case addr == "", addr == "off", strings.HasPrefix(addr, "tcp:"), strings.HasPrefix(addr, "unix:"),
		strings.Contains(addr, "/"), strings.HasSuffix(addr, ".sock"):
		return nil
	}
	if offWord(addr) {
		return fmt.Errorf("%q: did you mean off (no control API)?", addr)
	}
	if _, port, err := net.SplitHostPort(addr); err == nil {
		if _, err := strconv.ParseUint(port, 10, 16); err == nil {
			return fmt.Errorf("%q: want tcp:%s for a TCP address, or ./%s for a socket file of that name", addr, addr, addr)
		}
	}
	return fmt.Errorf("%q: want a socket path with a '/' or a .sock suffix (./%s, %s.sock), unix:%s, tcp:HOST:PORT or off", addr, addr, addr, addr)
}

// offWord reports whether addr is off or a word meant as it.
func offWord(addr string) bool {
	switch strings.ToLower(addr) {
	case "off", "none", "no", "false", "0", "disable", "disabled":
		return true
	}
	return false
}

// CheckDialAddr is CheckAddr for a client of the control API (NewClient;
// l2hub ctl, wait, inject): off, which only serve takes, is refused, and
// a bare name is taken when a socket of that name is there (dialing it
// makes nothing), as an older hub's banner may give it (see bareName).
func CheckDialAddr(addr string) error {
	if offWord(addr) {
		return fmt.Errorf("%q: off is serve's (a hub without a control API, which nothing can reach): give the control address the hub's banner or ready file shows, or leave --control out for the default socket", addr)
	}
	err := CheckAddr(addr)
	if err != nil && !strings.HasPrefix(addr, "@") {
		if fi, serr := os.Stat(addr); serr == nil && fi.Mode()&fs.ModeSocket != 0 {
			return nil
		}
	}
	return err
}

// bareName reports whether addr is a name that CheckAddr refuses only
// because it does not read as a path (ctl, not ./ctl, ctl.sock or
// unix:ctl), and that CheckDialAddr takes once a socket of that name is
// there: a hub that has not bound it yet may.
func bareName(addr string) bool {
	if CheckAddr(addr) == nil || offWord(addr) || strings.HasPrefix(addr, "@") {
		return false
	}
	if _, port, err := net.SplitHostPort(addr); err == nil {
		if _, err := strconv.ParseUint(port, 10, 16); err == nil {
			return false // tcp: forgotten
		}
	}
	return true
}
