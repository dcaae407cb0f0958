// addr.go holds control addresses: how one is written (ParseAddr, Addr),
// checked before a server or client uses it (CheckAddr, CheckDialAddr)
// and opened (Listen: a TCP port here, a socket file through socket.go).

package control

import (
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
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
func CheckAddr(addr string) error { return checkAddr(addr, true) }

// checkAddr is CheckAddr; serve says whether the hint for a value that
// reads as nothing offers off, which only serve takes (CheckDialAddr
// passes false: a client told to try off would be refused again).
func checkAddr(addr string, serve bool) error {
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
	if serve {
		return fmt.Errorf("%q: want a socket path with a '/' or a .sock suffix (./%s, %s.sock), unix:%s, tcp:HOST:PORT or off", addr, addr, addr, addr)
	}
	return fmt.Errorf("%q: want a socket path with a '/' or a .sock suffix (./%s, %s.sock), unix:%s or tcp:HOST:PORT", addr, addr, addr, addr)
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
	err := checkAddr(addr, false)
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

// Listen opens the control address: "" for DefaultAddr (making its
// directory if needed), "unix:PATH" or a bare path for a unix socket (mode
// 0600), "tcp:HOST:PORT" for TCP, which needs a token: any local user can
// reach a loopback port. A TCP address other than loopback is refused
// (ErrRemote) unless $L2HUB_CONTROL_ALLOW_REMOTE is 1: the API is plain
// HTTP, and the token would cross the network in clear. A path that
// another user holds is refused (ErrNotYours), and so is one a running hub
// answers on (ErrInUse). A TCP address's token must have MinTokenLen
// characters at least (ErrShortToken); a socket's, which its mode and
// SO_PEERCRED guard already, may be shorter.
func Listen(addr, token string) (net.Listener, error) {
	if addr == "" {
		path := DefaultAddr()
		if dir := filepath.Dir(path); dir == defaultDir() {
			if err := prepareDir(dir); err != nil {
				return nil, err
			}
		}
		return listenUnix(path)
	}
	network, address := ParseAddr(addr)
	if network == "tcp" {
		if _, _, err := net.SplitHostPort(address); err != nil {
			return nil, fmt.Errorf("control address %q: %w", addr, err)
		}
		if token == "" {
			return nil, fmt.Errorf("control address %q: %w: any local user could reach it (give one with --control-token-file or $%s)", addr, ErrNeedToken, TokenEnv)
		}
		if err := CheckTokenLen("control token", token); err != nil {
			return nil, err
		}
		if host, _, _ := net.SplitHostPort(address); !loopbackHost(host) && os.Getenv(AllowRemoteEnv) != "1" {
			return nil, fmt.Errorf("control address %q: %w: the API speaks plain HTTP, so the token and every command would cross the network in clear; "+
				"listen on 127.0.0.1 and reach it through an SSH tunnel (ssh -L 7291:127.0.0.1:PORT HOST, then --control tcp:127.0.0.1:7291), "+
				"or, on a network you trust, set %s=1", addr, ErrRemote, AllowRemoteEnv)
		}
		return listenTCP(address)
	}
	return listenUnix(address)
}

// AllowRemoteEnv, set to 1, lets Listen open a TCP control address other
// than loopback.
const AllowRemoteEnv = "L2HUB_CONTROL_ALLOW_REMOTE"

// listenTCP listens on hostport in the family tcpNetwork says.
func listenTCP(hostport string) (net.Listener, error) {
	return net.Listen(tcpNetwork(hostport), hostport)
}

// tcpNetwork is the network to listen on hostport with. An IPv4 literal
// host (0.0.0.0, 127.0.0.1) is IPv4 alone: Go's "tcp" would open 0.0.0.0
// as an IPv6 socket taking both families, and show it as [::]. The IPv6
// wildcard [::], no host (":P") and a name (localhost) are as Go's "tcp"
// has them, [::] and no host taking both families; any other IPv6
// literal ([::1]) is IPv6 alone, as it is with "tcp" too.
func tcpNetwork(hostport string) string {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return "tcp"
	}
	ip := net.ParseIP(host)
	switch {
	case ip == nil || ip.Equal(net.IPv6unspecified):
		return "tcp"
	case ip.To4() != nil:
		return "tcp4"
	}
	return "tcp6"
}

// loopbackHost reports whether host, as an address gives it, is this host
// alone: localhost, 127.0.0.0/8 or ::1.
func loopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Addr is how l's address is written as a control address: the socket's
// path, or tcp:HOST:PORT with the port bound.
func Addr(l net.Listener) string {
	if a, ok := l.Addr().(*net.TCPAddr); ok {
		return "tcp:" + a.String()
	}
	return l.Addr().String()
}

// ParseAddr splits a control address into network and address.
func ParseAddr(addr string) (network, address string) {
	switch {
	case strings.HasPrefix(addr, "tcp:"):
		return "tcp", strings.TrimPrefix(addr, "tcp:")
	case strings.HasPrefix(addr, "unix:"):
		return "unix", strings.TrimPrefix(addr, "unix:")
	}
	return "unix", addr
}
