package control

import (
	"bufio"
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

// tcpServerUID returns the uid that owns the server's end of c, a TCP
// connection this process made, when that end is on this host: the socket
// bound to c's remote address and connected to c's local address (for a
// connection not yet accepted, the listener's). found is false when this
// host has no such socket: the server is on another host (or behind NAT,
// or in another network namespace). It asks the kernel for that one socket
// (NETLINK_SOCK_DIAG, an exact lookup); where that is not offered, it
// reads the kernel's tables (/proc/net/tcp, tcp6). An error says that
// neither could be asked, and why.
func tcpServerUID(c net.Conn) (uid int, found bool, err error) {
	local, lok := c.LocalAddr().(*net.TCPAddr)
	remote, rok := c.RemoteAddr().(*net.TCPAddr)
	if !lok || !rok {
		return 0, false, fmt.Errorf("%T is not a TCP connection", c)
	}
	uid, found, nerr := sockDiagUID(remote, local)
	switch {
	case nerr == nil && (found || !servedHere(local, remote)):
		return uid, found, nil
	case nerr == nil:
		// Not found at an address of this host's, where it must be. The
		// exact lookup misses a socket bound to a device (SO_BINDTODEVICE,
		// which any user may set): the kernel matches it only to a request
		// that names that device, and this one names none. The kernel may
		// also lack tcp_diag (no module to load), which answers ENOENT
		// too. The tables list every socket; if they cannot be read, not
		// found it is, which checkTCPPeer refuses.
		if uid, found, err := procTCPUID(remote, local); err == nil {
			return uid, found, nil
		}
		return 0, false, nil
	}
	uid, found, perr := procTCPUID(remote, local)
	if perr != nil {
		return 0, false, fmt.Errorf("%w: NETLINK_SOCK_DIAG: %w; and %w", errNoLookup, nerr, perr)
	}
	return uid, found, nil
}

// Socket states as inet_diag and the tables report them
// (include/net/tcp_states.h).
const (
	tcpFinWait2 = 5 // also an orphaned socket's, which the kernel keeps as a timewait one
	tcpSynRecv  = 3 // a request: the connection is not established at the server yet
	tcpTimeWait = 6
)

// gone says whether a socket in state is one no process holds any more
// (a timewait socket, which says uid 0): it can read nothing.
func gone(state byte) bool { return state == tcpTimeWait || state == tcpFinWait2 }

// sockDiagUID asks the kernel, over NETLINK_SOCK_DIAG, for the TCP socket
// bound to local and connected to remote, and returns its owner's uid. A
// connection that the server has not completed yet is a request that
// says no uid (0): the listener that will take it is asked instead, by
// its address alone. An IPv4 address is asked as IPv4 even when the
// server's socket is IPv6 ([::], dual-stack): the kernel's lookup finds it.
func sockDiagUID(local, remote *net.TCPAddr) (uid int, found bool, err error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return 0, false, err
	}
	defer unix.Close(fd)
	// The kernel answers as it takes the request; this bounds a kernel
	// that does not.
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Sec: 2}); err != nil {
		return 0, false, err
	}
	state, uid, found, err := sockDiag(fd, 1, local, remote)
	if found && gone(state) {
		return 0, false, nil
	}
	if err != nil || !found || state != tcpSynRecv {
		return uid, found, err
	}
	state, uid, found, err = sockDiag(fd, 2, local, &net.TCPAddr{IP: zeroIP(local.IP)})
	if found && (state == tcpSynRecv || gone(state)) {
		return 0, false, nil // only the request again: who listens cannot be told
	}
	return uid, found, err
}

// zeroIP is the unspecified address of ip's family.
func zeroIP(ip net.IP) net.IP {
	if ip.To4() != nil {
		return net.IPv4zero
	}
	return net.IPv6unspecified
}

// sockDiag sends one exact SOCK_DIAG_BY_FAMILY request (inet_diag_req_v2,
// not a dump), numbered seq, for the socket bound to local and connected
// to remote, and reads the answer (parseSockDiag).
func sockDiag(fd int, seq uint32, local, remote *net.TCPAddr) (state byte, uid int, found bool, err error) {
	const reqLen = 56 // inet_diag_req_v2
	family, ipLen := byte(unix.AF_INET6), 16
	if local.IP.To4() != nil && remote.IP.To4() != nil {
		family, ipLen = unix.AF_INET, 4
	}
	ip := func(a net.IP) []byte {
		if ipLen == 4 {
			return a.To4()
		}
		return a.To16()
	}
	b := make([]byte, unix.SizeofNlMsghdr+reqLen)
	ne := binary.NativeEndian
	ne.PutUint32(b[0:], uint32(len(b)))
	ne.PutUint16(b[4:], unix.SOCK_DIAG_BY_FAMILY)
	ne.PutUint16(b[6:], unix.NLM_F_REQUEST)
	ne.PutUint32(b[8:], seq)
	r := b[unix.SizeofNlMsghdr:]
	r[0], r[1] = family, unix.IPPROTO_TCP
	ne.PutUint32(r[4:], ^uint32(0)) // every state
	id := r[8:]                     // inet_diag_sockid; idiag_if 0: any device but a bound one
	binary.BigEndian.PutUint16(id[0:], uint16(local.Port))
	binary.BigEndian.PutUint16(id[2:], uint16(remote.Port))
	copy(id[4:20], ip(local.IP))
	copy(id[20:36], ip(remote.IP))
	ne.PutUint32(id[40:], ^uint32(0)) // INET_DIAG_NOCOOKIE
	ne.PutUint32(id[44:], ^uint32(0))
	if err := unix.Sendto(fd, b, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return 0, 0, false, err
	}
	buf := make([]byte, 8192)
	for {
		n, from, err := unix.Recvfrom(fd, buf, 0)
		if err == unix.EINTR {
			continue // a signal (Go's preemption: SIGURG) ended the wait; SO_RCVTIMEO calls are not restarted
		}
		if err != nil {
			return 0, 0, false, err
		}
		if sa, ok := from.(*unix.SockaddrNetlink); !ok || sa.Pid != 0 {
			return 0, 0, false, fmt.Errorf("sock_diag: an answer not from the kernel (%v)", from)
		}
		return parseSockDiag(buf[:n], seq)
	}
}

// parseSockDiag reads the kernel's answer to request seq: an
// inet_diag_msg, whose state and owner's uid it returns, or an error
// message, ENOENT when there is no such socket.
func parseSockDiag(buf []byte, seq uint32) (state byte, uid int, found bool, err error) {
	const hdrLen = unix.SizeofNlMsghdr
	ne := binary.NativeEndian
	if len(buf) < hdrLen+4 {
		return 0, 0, false, fmt.Errorf("sock_diag: short answer (%d bytes)", len(buf))
	}
	if l := ne.Uint32(buf[0:]); l < hdrLen+4 || l > uint32(len(buf)) {
		return 0, 0, false, fmt.Errorf("sock_diag: answer of length %d in %d bytes", l, len(buf))
	}
	buf = buf[:ne.Uint32(buf[0:])]
	if got := ne.Uint32(buf[8:]); got != seq {
		return 0, 0, false, fmt.Errorf("sock_diag: answer to request %d, not %d", got, seq)
	}
	switch typ := ne.Uint16(buf[4:]); typ {
	case unix.NLMSG_ERROR:
		switch errno := -int32(ne.Uint32(buf[hdrLen:])); {
		case errno == int32(unix.ENOENT):
			return 0, 0, false, nil
		case errno <= 0:
			// 0 is an acknowledgement, which was not asked for: no answer.
			return 0, 0, false, fmt.Errorf("sock_diag: error message without an error (%d)", errno)
		default:
			return 0, 0, false, unix.Errno(errno)
		}
	case unix.SOCK_DIAG_BY_FAMILY:
		const uidAt = 64 // inet_diag_msg.idiag_uid
		if len(buf) < hdrLen+uidAt+4 {
			return 0, 0, false, fmt.Errorf("sock_diag: short answer (%d bytes)", len(buf))
		}
		return buf[hdrLen+1], int(ne.Uint32(buf[hdrLen+uidAt:])), true, nil
	default:
		return 0, 0, false, fmt.Errorf("sock_diag: answer of type %d", typ)
	}
}

// procNetTCP are the kernel's tables of this network namespace's TCP
// sockets, IPv4 and IPv6 (an IPv4 connection to a socket bound to [::]
// is listed in the second, its addresses IPv4-mapped): what tcpServerUID
// reads where NETLINK_SOCK_DIAG is not offered.
var procNetTCP = []string{"/proc/net/tcp", "/proc/net/tcp6"}

// procTCPUID looks for the socket bound to local and connected to remote
// in the tables (procNetTCP). It looks twice: a connection that changes
// state as the table is read (the kernel replaces its request by the
// accepted socket) may be missed by one reading.
func procTCPUID(local, remote *net.TCPAddr) (uid int, found bool, err error) {
	for range 2 {
		for i, path := range procNetTCP {
			uid, found, err = findTCPSocket(path, local, remote)
			if i > 0 && errors.Is(err, fs.ErrNotExist) {
				return 0, false, nil // no IPv6 here
			}
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					err = fmt.Errorf("%w (is /proc mounted with subset=pid, as systemd's ProcSubset=pid does?)", err)
				}
				return 0, false, err
			}
			if found {
				return uid, true, nil
			}
		}
	}
	return 0, false, nil
}

// findTCPSocket looks in the table at path for the socket bound to local
// and connected to remote, and returns its owner's uid. It reads the table
// a line at a time, up to the first that matches.
func findTCPSocket(path string, local, remote *net.TCPAddr) (uid int, found bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, false, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for i := 0; sc.Scan(); i++ {
		fl := strings.Fields(sc.Text())
		if i == 0 || len(fl) < 8 {
			continue // the header
		}
		if !sameTCPAddr(fl[1], local) || !sameTCPAddr(fl[2], remote) {
			continue
		}
		if st, err := strconv.ParseUint(fl[3], 16, 8); err == nil && gone(byte(st)) {
			continue // a timewait socket, which says uid 0
		}
		n, err := strconv.ParseUint(fl[7], 10, 32)
		if err != nil {
			return 0, false, fmt.Errorf("%s: uid %q: %w", path, fl[7], err)
		}
		return int(n), true, nil
	}
	if err := sc.Err(); err != nil {
		return 0, false, fmt.Errorf("%s: %w", path, err)
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
