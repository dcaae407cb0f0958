package control

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// peerUID returns the uid of the process at the other end of a unix
// connection: for a client, the process that bound the socket; for a
// server, the one that connected.
func peerUID(c net.Conn) (int, error) {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return 0, fmt.Errorf("%T is not a unix connection", c)
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return 0, err
	}
	var cred *unix.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return 0, err
	}
	if cerr != nil {
		return 0, cerr
	}
	return int(cred.Uid), nil
}

// procNetTCP are the kernel's tables of this network namespace's TCP
// sockets, IPv4 and IPv6 (an IPv4 connection to a socket bound to [::]
// is listed in the second, its addresses IPv4-mapped).
var procNetTCP = []string{"/proc/net/tcp", "/proc/net/tcp6"}

// tcpServerUID returns the uid that owns the server's end of c, a TCP
// connection this process made, when that end is on this host: the socket
// whose local address is c's remote address and whose remote address is
// c's local address, as the kernel lists it in /proc/net/tcp or tcp6
// (for a connection not yet accepted, the listener's uid). found is false
// when no socket is listed so: the server is on another host. The table
// is read whole a few times at most, since a connection that changes
// state as it is read (the kernel replaces its request by the accepted
// socket) may be missed by one reading.
func tcpServerUID(c net.Conn) (uid int, found bool, err error) {
	local, lok := c.LocalAddr().(*net.TCPAddr)
	remote, rok := c.RemoteAddr().(*net.TCPAddr)
	if !lok || !rok {
		return 0, false, fmt.Errorf("%T is not a TCP connection", c)
	}
	for range 3 {
		for _, path := range procNetTCP {
			uid, found, err = findTCPSocket(path, remote, local)
			if err != nil || found {
				return uid, found, err
			}
		}
	}
	return 0, false, nil
}

// findTCPSocket looks in the table at path for the socket bound to local
// and connected to remote, and returns its owner's uid.
func findTCPSocket(path string, local, remote *net.TCPAddr) (uid int, found bool, err error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, false, nil // no IPv6 here
	}
	if err != nil {
		return 0, false, err
	}
	for i, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if i == 0 || len(f) < 8 {
			continue // the header, or the end
		}
		if !sameTCPAddr(f[1], local) || !sameTCPAddr(f[2], remote) {
			continue
		}
		n, err := strconv.ParseUint(f[7], 10, 32)
		if err != nil {
			return 0, false, fmt.Errorf("%s: uid %q: %w", path, f[7], err)
		}
		return int(n), true, nil
	}
	return 0, false, nil
}

// sameTCPAddr reports whether s, an address as /proc/net/tcp writes one
// (the IP as 32-bit words in hex, each in the kernel's byte order, a
// colon and the port in hex: 0100007F:1C7B), is a.
func sameTCPAddr(s string, a *net.TCPAddr) bool {
	hexIP, hexPort, ok := strings.Cut(s, ":")
	if !ok || len(hexIP)%8 != 0 || len(hexIP) == 0 || len(hexIP) > 32 {
		return false
	}
	port, err := strconv.ParseUint(hexPort, 16, 16)
	if err != nil || int(port) != a.Port {
		return false
	}
	ip := make(net.IP, 0, 16)
	for w := 0; w < len(hexIP); w += 8 {
		v, err := strconv.ParseUint(hexIP[w:w+8], 16, 32)
		if err != nil {
			return false
		}
		ip = binary.NativeEndian.AppendUint32(ip, uint32(v))
	}
	return ip.Equal(a.IP)
}
