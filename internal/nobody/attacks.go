package nobody

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
)

// Attacks are helpers that play a local attacker against the control API.
// Each reports on stdout, one line per event.
//
//	squat PATH                       bind a unix socket at PATH (making its directory), print "ready",
//	                                 then answer every request 200 as a hub would, printing "got METHOD PATH"
//	request NETWORK ADDR METHOD PATH send one request; print "status CODE", or "dial error: ..." / "read error: ..."
var Attacks = map[string]Helper{
	"squat":   squat,
	"request": request,
}

func squat(args []string) int {
	if len(args) != 1 {
		fmt.Println("usage: squat PATH")
		return 2
	}
	path := args[0]
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		fmt.Println("mkdir:", err)
		return 1
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		fmt.Println("listen:", err)
		return 1
	}
	os.Chmod(path, 0o777)
	fmt.Println("ready")
	for {
		c, err := l.Accept()
		if err != nil {
			return 1
		}
		go func() {
			defer c.Close()
			br := bufio.NewReader(c)
			for {
				req, err := http.ReadRequest(br)
				if err != nil {
					return
				}
				io.Copy(io.Discard, req.Body)
				fmt.Println("got", req.Method, req.URL.Path)
				body := `{"status":"replaced"}`
				fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
			}
		}()
	}
}

func request(args []string) int {
	if len(args) != 4 {
		fmt.Println("usage: request NETWORK ADDR METHOD PATH")
		return 2
	}
	c, err := net.Dial(args[0], args[1])
	if err != nil {
		fmt.Println("dial error:", err)
		return 0
	}
	defer c.Close()
	fmt.Fprintf(c, "%s %s HTTP/1.1\r\nHost: l2hub\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", args[2], args[3])
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		fmt.Println("read error:", err)
		return 0
	}
	resp.Body.Close()
	fmt.Println("status", strings.Fields(resp.Status)[0])
	return 0
}
