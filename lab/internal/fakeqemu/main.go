package main

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

func main() {
	args := os.Args[1:]
	netdev, mac := "", net.HardwareAddr{0x52, 0x54, 0, 0, 0, 1}
	for i := 0; i+1 < len(args); i++ {
		switch args[i] {
		case "-netdev":
			netdev = args[i+1]
		case "-device":
			for _, kv := range strings.Split(args[i+1], ",") {
				if v, ok := strings.CutPrefix(kv, "mac="); ok {
					if m, err := net.ParseMAC(v); err == nil {
						mac = m
					}
				}
			}
		}
	}
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	var ignoring sync.Mutex
	ignore := false
	go func() {
		for range term {
			ignoring.Lock()
			ig := ignore
			ignoring.Unlock()
			if !ig {
				fmt.Println("fakeqemu: terminating on signal 15")
				os.Exit(0)
			}
		}
	}()
	var conn net.Conn
	send := func(kind string) {
		if conn == nil {
			c, err := dial(netdev)
			if err != nil {
				fmt.Println("fakeqemu: netdev:", err)
				os.Exit(3)
			}
			conn = c
			go drain(c)
		}
		f := frame(kind, mac)
		b := binary.BigEndian.AppendUint32(nil, uint32(len(f)))
		if _, err := conn.Write(append(b, f...)); err != nil {
			fmt.Println("fakeqemu: send:", err)
		}
	}
	for i := 0; i < len(args); i++ {
		arg := func() string {
			i++
			if i >= len(args) {
				fmt.Println("fakeqemu: missing value")
				os.Exit(2)
			}
			return args[i]
		}
		switch args[i] {
		case "-say":
			fmt.Println(arg())
		case "-print":
			fmt.Print(arg())
		case "-sleep":
			d, _ := time.ParseDuration(arg())
			time.Sleep(d)
		case "-frame":
			send(arg())
		case "-frames":
			kind := arg()
			n, _ := strconv.Atoi(arg())
			d, _ := time.ParseDuration(arg())
			for range n {
				send(kind)
				time.Sleep(d)
			}
		case "-long":
			n, _ := strconv.Atoi(arg())
			fmt.Println(strings.Repeat("x", n))
		case "-spam":
			n, _ := strconv.Atoi(arg())
			w := bufio.NewWriter(os.Stdout)
			for k := range n {
				fmt.Fprintf(w, "spam line %-8d %s\n", k, strings.Repeat("x", 60))
			}
			w.Flush()
		case "-args":
			fmt.Println("ARGS: " + strings.Join(os.Args[1:], " "))
		case "-pidfile":
			os.WriteFile(arg(), []byte(strconv.Itoa(os.Getpid())), 0o644)
		case "-wait-file":
			p := arg()
			for {
				if _, err := os.Stat(p); err == nil {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
		case "-detach":
			detach(arg())
		case "-ignore-term":
			ignoring.Lock()
			ignore = true
			ignoring.Unlock()
		case "-hang":
			select {}
		case "-exit":
			code, _ := strconv.Atoi(arg())
			os.Exit(code)
		case "-netdev", "-device":
			i++
		}
	}
}

// detach starts a helper, this program again waiting for ever, in a
// session (and process group) of its own that keeps the console (stdout
// and stderr) open, as a helper a QEMU wrapper starts with setsid would;
// its pid goes to pidfile. It is not waited for: it outlives this process.
func detach(pidfile string) {
	cmd := exec.Command(os.Args[0], "-hang")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		fmt.Println("fakeqemu: detach:", err)
		os.Exit(2)
	}
	if err := os.WriteFile(pidfile, []byte(strconv.Itoa(cmd.Process.Pid)), 0o644); err != nil {
		fmt.Println("fakeqemu: detach:", err)
		os.Exit(2)
	}
}

// dial connects to the hub's side of "stream,...,addr.type=unix,addr.path=P".
func dial(netdev string) (net.Conn, error) {
	for _, kv := range splitOptions(netdev) {
		if p, ok := strings.CutPrefix(kv, "addr.path="); ok {
			return net.Dial("unix", p)
		}
	}
	return nil, fmt.Errorf("no unix addr.path in %q", netdev)
}

// splitOptions splits QEMU options at single commas (",," is a comma).
func splitOptions(s string) []string {
	var out []string
	var cur strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == ',' {
			if i+1 < len(s) && s[i+1] == ',' {
				cur.WriteByte(',')
				i++
				continue
			}
			out = append(out, cur.String())
			cur.Reset()
			continue
		}
		cur.WriteByte(s[i])
	}
	return append(out, cur.String())
}

func drain(c net.Conn) {
	buf := make([]byte, 64<<10)
	for {
		if _, err := c.Read(buf); err != nil {
			return
		}
	}
}

// frame builds one frame of kind from mac: an ARP request, a TCP segment
// from 10.42.0.10:40000 to 10.42.0.11:34568 with the kind's flags, or an
// NXSB announce to 10.42.0.11:37020.
func frame(kind string, mac net.HardwareAddr) []byte {
	bcast := []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	eth := func(etherType uint16) []byte {
		b := append(append([]byte(nil), bcast...), mac...)
		return binary.BigEndian.AppendUint16(b, etherType)
	}
	ip := func(proto byte, payload []byte) []byte {
		h := make([]byte, 20)
		h[0] = 0x45
		binary.BigEndian.PutUint16(h[2:], uint16(20+len(payload)))
		h[8], h[9] = 64, proto
		copy(h[12:], []byte{10, 42, 0, 10})
		copy(h[16:], []byte{10, 42, 0, 11})
		return append(h, payload...)
	}
	switch kind {
	case "arp":
		b := eth(0x0806)
		b = append(b, 0, 1, 8, 0, 6, 4, 0, 1)
		b = append(b, mac...)
		b = append(b, 10, 42, 0, 10, 0, 0, 0, 0, 0, 0, 10, 42, 0, 11)
		return b
	case "syn", "synack", "rst":
		flags := map[string]byte{"syn": 0x02, "synack": 0x12, "rst": 0x04}[kind]
		t := make([]byte, 20)
		binary.BigEndian.PutUint16(t[0:], 40000)
		binary.BigEndian.PutUint16(t[2:], 34568)
		t[12], t[13] = 5<<4, flags
		return append(eth(0x0800), ip(6, t)...)
	case "announce":
		payload := []byte("NXSB\x01\x06node-a")
		u := make([]byte, 8)
		binary.BigEndian.PutUint16(u[0:], 37020)
		binary.BigEndian.PutUint16(u[2:], 37020)
		binary.BigEndian.PutUint16(u[4:], uint16(8+len(payload)))
		return append(eth(0x0800), ip(17, append(u, payload...))...)
	}
	fmt.Println("fakeqemu: unknown frame kind", kind)
	os.Exit(2)
	return nil
}
