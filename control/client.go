// client.go is the Client and how its calls reach the hub: NewClient, whose
// dialer checks who holds the socket (or, on TCP, the port) before anything
// is sent; doWith and send, which send a request again while the hub is
// busy and turn an error answer into an *Error; and WaitReady and
// WaitReadyPID, which wait for a hub to answer. The calls themselves, one
// per route, are in client_routes.go.

package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"l2hub/internal/ready"
)

// RequestTimeout bounds each call of a Client but an injection: the hub
// answers in milliseconds, unless it is stopped or flooded.
const RequestTimeout = 30 * time.Second

// Client talks to a hub's control API.
type Client struct {
	http   *http.Client
	stream *http.Client // no overall timeout: an injection lasts as long as its capture
	base   string
	token  string
	addr   string // as given, or DefaultAddr
	// isDefault: addr is DefaultAddr because none was given.
	isDefault bool
	// err: addr is no control address (CheckDialAddr); every call
	// returns it.
	err error
	// bare: addr is a bare name (bareName), taken once a socket of that
	// name is there: each call checks again.
	bare bool
}

// addrErr is why the client's address cannot be dialled, nil if it can.
func (c *Client) addrErr() error {
	if c.bare && CheckDialAddr(c.addr) == nil {
		return nil
	}
	return c.err
}

// NewClient returns a client for addr ("" for DefaultAddr, "unix:PATH", a
// path with a '/' or a .sock suffix, or "tcp:HOST:PORT"). An address that
// only looks like one (127.0.0.1:7291 without tcp:, off; see
// CheckDialAddr) is never taken for a socket file of that name: every call
// of the client returns that error. Before it sends anything on a unix
// socket, it checks that the socket (and the default socket's directory)
// is its user's or root's, and so is the process that answers: a socket
// another user bound at the path gets no request. On TCP, it checks on
// Linux that a server on this host (a loopback address: any local user
// may bind a port the hub does not hold) is its user's or root's, by
// asking the kernel who holds the socket (NETLINK_SOCK_DIAG, else
// /proc/net/tcp), before it sends the token, and refuses one it cannot
// check; a server on another host, and any server on other systems, is
// not checked: the token goes where addr points (ErrNotYours).
//
// Every call but an injection gives up after RequestTimeout, however long
// its ctx allows: a ctx can shorten the wait, not lengthen it. An
// injection lasts as long as its stream, until its ctx ends. A request the
// hub turned away unread to make room (ErrBusy) is sent again, a few times.
func NewClient(addr, token string) *Client {
	isDefault := addr == ""
	var addrErr error
	bare := false
	if err := CheckDialAddr(addr); err != nil {
		addrErr = &addrError{fmt.Errorf("control address %w", err)}
		if bare = bareName(addr); bare {
			addrErr = fmt.Errorf("control address %w", err) // not yet: a socket of that name may come
		}
	}
	if isDefault {
		addr = DefaultAddr()
	}
	network, address := ParseAddr(addr)
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			if network == "unix" {
				if err := checkSocketPathLen(address); err != nil {
					return nil, &addrError{err}
				}
				if dir := filepath.Dir(address); isDefault && dir == defaultDir() {
					if err := checkPrivateDir(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
						return nil, &unsafeSocketError{err}
					}
				}
				if err := checkSocketOwner(address); err != nil {
					return nil, &unsafeSocketError{err}
				}
			}
			var d net.Dialer
			c, err := d.DialContext(ctx, network, address)
			if err != nil {
				if network == "unix" && (errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM)) {
					return nil, refusedSocket(address, err)
				}
				return nil, err
			}
			if network == "unix" {
				err = checkPeer(c, address)
			} else {
				err = checkTCPPeer(c, addr)
			}
			if err != nil {
				c.Close()
				return nil, &unsafeSocketError{err}
			}
			return c, nil
		},
	}
	return &Client{
		http:      &http.Client{Transport: tr, Timeout: RequestTimeout},
		stream:    &http.Client{Transport: tr},
		base:      "http://l2hub",
		token:     token,
		addr:      addr,
		isDefault: isDefault,
		err:       addrErr,
		bare:      bare,
	}
}

// Addr is the control address the client talks to.
func (c *Client) Addr() string { return c.addr }

func (c *Client) do(ctx context.Context, method, path, ctype string, body io.Reader, out any) error {
	return c.doWith(ctx, c.http, method, path, ctype, body, out, nil)
}

// busyTries bounds how often a request the hub turned away unread (ErrBusy)
// is sent: a connection flood makes room in a moment, for the request as
// for any other connection.
const busyTries = 4

// doWith sends a request with hc and decodes the answer into out; hdr, if
// not nil, gets the answer's header.
func (c *Client) doWith(ctx context.Context, hc *http.Client, method, path, ctype string, body io.Reader, out any, hdr *http.Header) error {
	if err := c.addrErr(); err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for try := 1; ; try++ {
		err := c.send(hc, req, out, hdr)
		if !errors.Is(err, ErrBusy) || try == busyTries || body != nil && req.GetBody == nil {
			return err
		}
		if body != nil {
			var berr error
			if req.Body, berr = req.GetBody(); berr != nil {
				return errors.Join(err, berr)
			}
		}
		select {
		case <-ctx.Done():
			// err is still the hub's "busy": the request was not made.
			return errors.Join(err, context.Cause(ctx))
		case <-time.After(time.Duration(try) * 10 * time.Millisecond):
		}
	}
}

// send sends req once and decodes the answer into out (and its header into
// hdr, if not nil).
func (c *Client) send(hc *http.Client, req *http.Request, out any, hdr *http.Header) error {
	resp, err := hc.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the method and URL say nothing: the URL is not the address
		}
		if err := noHub(c.addr, c.isDefault, err); errors.Is(err, ErrNoHub) {
			return err
		}
		if te := (interface{ Timeout() bool })(nil); errors.As(err, &te) && te.Timeout() {
			if req.Context().Err() != nil {
				return fmt.Errorf("control API at %s: %w", c.addr, err) // the caller's own deadline
			}
			hint := ""
			if req.Method != http.MethodGet {
				hint = "; whether it made the change is not known: look (ctl policy, ctl rules, ctl ports) before sending it again"
			}
			within := "in time"
			if hc.Timeout > 0 {
				within = "within " + hc.Timeout.String()
			}
			return fmt.Errorf("control API at %s: %w: the hub did not answer %s; it may be stopped, or busy: "+
				"a flood of connections, or its places held by long requests (injections)%s", c.addr, err, within, hint)
		}
		return fmt.Errorf("control API: %w", err)
	}
	defer resp.Body.Close()
	if hdr != nil {
		*hdr = resp.Header
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("control API: read answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var e ErrorResponse
		if json.Unmarshal(data, &e) == nil && e.Error != "" {
			return &Error{Status: resp.StatusCode, Code: e.Code, Message: e.Error, Frames: e.Frames, Dropped: e.Dropped}
		}
		return &Error{Status: resp.StatusCode, Message: fmt.Sprintf("control API: %s: %s", resp.Status, strings.TrimSpace(string(data)))}
	}
	if out == nil {
		return nil
	}
	if raw, ok := out.(*json.RawMessage); ok {
		*raw = data
		return nil
	}
	return json.Unmarshal(data, out)
}

// Error is a request the hub answered with an error: Message is the hub's
// own words (a policy's "file:line:col: field: ..." included), Status the
// HTTP status (400: the hub refused the request as invalid; 401: a missing
// or wrong token; 403 and 415: refused as a web page's; 501: not supported
// by this hub; 503: the hub is stopping) and Code, when the hub gave one
// (every 400 has one), what kind of refusal it is. errors.Is matches the
// errors the codes stand for: filter.ErrUnknownRule, filter.ErrRuleExists,
// filter.ErrUnknownPartition, hub.ErrNoPort, hub.ErrStopped and
// filter.ErrInvalid (any other 400).
type Error struct {
	Status  int
	Code    string
	Message string
	Frames  *int // an injection the hub ended at a frame it refused: the frames it took before it
	// Dropped, with ErrInjectDropped, counts by reason the injected frames
	// the port dropped (ErrorResponse.Dropped).
	Dropped map[string]int
}

func (e *Error) Error() string { return e.Message }

// Is reports whether the hub's code stands for target.
func (e *Error) Is(target error) bool {
	for _, c := range codes {
		if c.code == e.Code && c.err == target {
			return true
		}
	}
	return false
}

// addrError is an address NewClient was given that is no control address:
// asking again cannot change that.
type addrError struct{ err error }

func (e *addrError) Error() string { return e.err.Error() }
func (e *addrError) Unwrap() error { return e.err }

// unsafeSocketError is a socket, or the default socket's directory, that
// the client refuses to talk to (another user's, or open to others):
// asking again cannot change that.
type unsafeSocketError struct{ err error }

func (e *unsafeSocketError) Error() string { return e.err.Error() }
func (e *unsafeSocketError) Unwrap() error { return e.err }

// WaitReady asks the hub for its ports every interval until it answers
// (the hub is ready: every port and the control API bound), or ctx ends.
// An answer that asking again cannot change (a missing or wrong token, a
// refusal, something other than a hub at the address) ends it at once
// with that answer, an *Error; only a hub that is stopping or busy (503)
// is asked again, as a new one may take its place. A socket the client
// will not talk to (ErrNotYours; a default directory open to other users)
// or an address that is none (see NewClient) ends it at once too. An
// interval of 0 or less asks every 50 ms.
func (c *Client) WaitReady(ctx context.Context, interval time.Duration) ([]PortStatus, error) {
	return c.WaitReadyPID(ctx, interval, 0)
}

// WaitReadyPID is WaitReady for the hub whose process is pid or runs
// under it (ready.Within: pid may be a wrapper's, such as timeout's or
// sudo's; 0 for any). An answer from another process that runs on this
// host (PIDHeader) does not count, and is waited past: it may be another
// hub's, at an address the one waited for will then not get, or the pid
// given may not be the hub's; if ctx ends meanwhile, the error says so
// (ErrOtherHub), naming both pids. Pids are compared only when the hub
// says it runs in the client's pid namespace (PIDNamespaceHeader). An
// answer that says no pid or no namespace (an l2hub older than this one),
// or another namespace (a hub in a container, or on another host), or
// that names no process running here, is taken, as the socket's owner has
// been checked.
func (c *Client) WaitReadyPID(ctx context.Context, interval time.Duration, pid int) ([]PortStatus, error) {
	if interval <= 0 {
		interval = 50 * time.Millisecond
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	var last error // the last answer that was not the context ending
	for {
		var ports []PortStatus
		var hdr http.Header
		err := c.doWith(ctx, c.http, "GET", "/v1/ports", "", nil, &ports, &hdr)
		if err == nil && pid > 0 {
			ns := hdr.Get(PIDNamespaceHeader)
			sameNS := ns != "" && ns == pidNamespace()
			if got, _ := strconv.Atoi(hdr.Get(PIDHeader)); sameNS && got > 0 && got != pid && ready.Alive(got, 0) && !ready.Within(got, pid) {
				err = fmt.Errorf("the control API on %s is served by pid %d, which %w, neither the hub waited for (pid %d) nor a process it started: "+
					"that hub holds the address, or pid %d is not the hub's (of serve ... | tee log &, $! is tee's: write serve ... > >(tee log) & instead)",
					c.Addr(), got, ErrOtherHub, pid, pid)
			}
		}
		if err == nil {
			return ports, nil
		}
		if he := (*Error)(nil); errors.As(err, &he) && he.Status != http.StatusServiceUnavailable {
			return nil, fmt.Errorf("the control API on %s answered: %w", c.Addr(), err)
		}
		if ue := (*unsafeSocketError)(nil); errors.As(err, &ue) {
			return nil, err // it names the socket
		}
		if ae := (*addrError)(nil); errors.As(err, &ae) {
			return nil, err // it names the address
		}
		if ctx.Err() == nil || last == nil {
			last = err
		}
		select {
		case <-ctx.Done():
			if errors.Is(last, ErrNoHub) || errors.Is(last, ErrOtherHub) { // it names the address
				return nil, fmt.Errorf("%w: %w", ctx.Err(), last)
			}
			return nil, fmt.Errorf("%w: no hub answered on %s: %w", ctx.Err(), c.Addr(), last)
		case <-t.C:
		}
	}
}
