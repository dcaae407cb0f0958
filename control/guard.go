// guard.go decides who may reach the routes, before any is served: on a
// unix socket, only processes of the owner's user or root (peerListener);
// then no request that only a web page sends (guard: an Origin, a rebound
// Host, a body type a page may send without a preflight); then the token
// (auth), which also claims the connection's place (slotconn.go) and says on
// each answer which process serves it (PIDHeader). Refusals are logged,
// rate-limited (logRefused). The MetricsServer makes the web-page checks
// too (pageCheck, hostCheck).

package control

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"

	"l2hub/internal/yamlfile"
)

// guard refuses what only a web page sends, before the token is looked at:
// an Origin header (a cross-origin request; no l2hub client sends one), a
// Host that is a name other than localhost (DNS rebinding: a page whose
// name now resolves to 127.0.0.1), and, on a request that changes
// something, a body type a page may send without a CORS preflight.
func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		status, code, err := http.StatusForbidden, CodeForbidden, browserCheck(r)
		if err == nil && r.Method != http.MethodGet && r.Method != http.MethodHead {
			if mt, _, perr := mime.ParseMediaType(r.Header.Get("Content-Type")); perr == nil && corsSafe[mt] {
				status, code, err = http.StatusUnsupportedMediaType, CodeUnsupportedType, fmt.Errorf("Content-Type %s refused: a web page can send it", yamlfile.Quote(mt))
			}
		}
		if err != nil {
			s.logRefused("request", "method", r.Method, "path", r.URL.Path, "err", err)
			refuseConn(w)
			writeJSON(w, status, ErrorResponse{Error: err.Error(), Code: code})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// corsSafe are the body types a browser sends cross-origin without a
// preflight.
var corsSafe = map[string]bool{"text/plain": true, "application/x-www-form-urlencoded": true, "multipart/form-data": true}

func browserCheck(r *http.Request) error {
	if err := pageCheck(r, "the control API is for l2hub ctl"); err != nil {
		return err
	}
	return hostCheck(r)
}

// hasToken reports whether r's Authorization header gives token as a bearer
// token: "Bearer TOKEN", the scheme in any case (RFC 9110 makes it
// case-insensitive, and hand-written clients send "bearer"), the token
// exactly, compared in constant time.
func hasToken(r *http.Request, token string) bool {
	scheme, cred, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	cred = strings.TrimLeft(cred, " ") // 1*SP between them
	return ok && strings.EqualFold(scheme, "Bearer") && subtle.ConstantTimeCompare([]byte(cred), []byte(token)) == 1
}

// pageCheck refuses a request a web page sent: one with an Origin, or a
// Sec-Fetch-Site other than none (a browser sends none only for what its
// user typed or bookmarked; same-origin and same-site are pages too). why
// ends the message.
func pageCheck(r *http.Request, why string) error {
	if o := r.Header.Get("Origin"); o != "" {
		return fmt.Errorf("request from a web page (Origin %s) refused: %s", yamlfile.Quote(o), why)
	}
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "none" {
		return fmt.Errorf("request from a web page (Sec-Fetch-Site %s) refused: %s", yamlfile.Quote(site), why)
	}
	return nil
}

// hostCheck refuses a Host that is a name other than localhost: a web page
// whose name now resolves to this address (DNS rebinding). Names compare
// as DNS compares them: without regard to case, and with a fully
// qualified name's trailing dot ("LOCALHOST", "localhost." are localhost).
func hostCheck(r *http.Request) error {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if host != "l2hub" && host != "localhost" && net.ParseIP(host) == nil {
		return fmt.Errorf("host %s refused: use an IP address or localhost (a name could be a web page's, rebound to this address)", yamlfile.Quote(r.Host))
	}
	return nil
}

// logRefused logs a refused connection or request, rate-limited to the 1st,
// 2nd, 4th, 8th, ... so that a flood cannot flood the log.
func (s *Server) logRefused(what string, args ...any) {
	n := s.refused.Add(1)
	if s.Logger == nil || n&(n-1) != 0 {
		return
	}
	s.Logger.Warn("control API refused a "+what, append(args, "refused_so_far", n)...)
}

// auth answers a request without the token (when one is asked) 401 and
// closes its connection at once, body unread; a request with it claims its
// connection's slot (slotListener) and goes on.
func (s *Server) auth(next http.Handler) http.Handler {
	pid := strconv.Itoa(os.Getpid())
	pidns := pidNamespace()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.Token != "" && !hasToken(r, s.Token) {
			s.logRefused("request", "method", r.Method, "path", r.URL.Path, "err", "missing or wrong bearer token")
			refuseConn(w)
			writeJSON(w, http.StatusUnauthorized, ErrorResponse{Error: "missing or wrong bearer token", Code: CodeUnauthorized})
			return
		}
		if !claimSlot(r) {
			return // the connection gave its slot up, and is closed
		}
		w.Header().Set(PIDHeader, pid)
		if pidns != "" {
			w.Header().Set(PIDNamespaceHeader, pidns)
		}
		next.ServeHTTP(w, r)
	})
}

// PIDHeader is the header in which the control API says, on every answer
// to a request that passed its checks (the token), which process serves
// it: the hub's pid, so that l2hub wait --pid tells the hub it started
// from another that answers at the address (Client.WaitReadyPID).
const PIDHeader = "L2hub-Pid"

// PIDNamespaceHeader says, beside PIDHeader, in which pid namespace that
// pid is one (Linux: /proc/self/ns/pid's link, "pid:[4026531836]"): a hub
// in a container or under unshare -p says pid 1, or another that means
// nothing outside, and a client compares pids only within its own
// namespace.
const PIDNamespaceHeader = "L2hub-Pidns"

// pidNamespace is this process's pid namespace (PIDNamespaceHeader), or
// "" where the system does not say.
func pidNamespace() string {
	ns, err := os.Readlink("/proc/self/ns/pid")
	if err != nil {
		return ""
	}
	return ns
}

// peerListener accepts only connections from the caller's user or root.
type peerListener struct {
	net.Listener
	s *Server
}

func (l *peerListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		uid, err := peerUID(c)
		if errors.Is(err, errors.ErrUnsupported) || err == nil && trusted(uid) {
			return c, nil
		}
		c.Close()
		if err != nil {
			l.s.logRefused("connection", "err", fmt.Errorf("peer credentials: %w", err)) // no uid: it is unknown
		} else {
			l.s.logRefused("connection", "uid", uid, "err", "another user's process")
		}
	}
}
