package control

import (
	"bytes"
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
	"strings"
	"sync"
	"time"
)

// Client talks to a hub's control API.
type Client struct {
	http   *http.Client
	stream *http.Client // no overall timeout: an injection lasts as long as its capture
	base   string
	token  string
}

// NewClient returns a client for addr ("" for DefaultAddr, "unix:PATH", a
// bare path, or "tcp:HOST:PORT"). Before it sends anything on a unix
// socket, it checks that the socket (and the default socket's directory)
// is its user's or root's, and so is the process that answers: a socket
// another user bound at the path gets no request.
func NewClient(addr, token string) *Client {
	isDefault := addr == ""
	if isDefault {
		addr = DefaultAddr()
	}
	network, address := ParseAddr(addr)
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			if network == "unix" {
				if dir := filepath.Dir(address); isDefault && dir == defaultDir() {
					if err := checkPrivateDir(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
						return nil, err
					}
				}
				if err := checkSocketOwner(address); err != nil {
					return nil, err
				}
			}
			var d net.Dialer
			c, err := d.DialContext(ctx, network, address)
			if err != nil || network != "unix" {
				return c, err
			}
			if err := checkPeer(c, address); err != nil {
				c.Close()
				return nil, err
			}
			return c, nil
		},
	}
	return &Client{
		http:   &http.Client{Transport: tr, Timeout: 30 * time.Second},
		stream: &http.Client{Transport: tr},
		base:   "http://l2hub",
		token:  token,
	}
}

func (c *Client) do(ctx context.Context, method, path, ctype string, body io.Reader, out any) error {
	return c.doWith(ctx, c.http, method, path, ctype, body, out)
}

func (c *Client) doWith(ctx context.Context, hc *http.Client, method, path, ctype string, body io.Reader, out any) error {
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
	resp, err := hc.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the method and URL say nothing: the URL is not the address
		}
		return fmt.Errorf("control API: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("control API: read answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var e ErrorResponse
		if json.Unmarshal(data, &e) == nil && e.Error != "" {
			return fmt.Errorf("%s", e.Error)
		}
		return fmt.Errorf("control API: %s: %s", resp.Status, strings.TrimSpace(string(data)))
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

// Ports returns every port's status, link state and partitions.
func (c *Client) Ports(ctx context.Context) ([]PortStatus, error) {
	var out []PortStatus
	err := c.do(ctx, "GET", "/v1/ports", "", nil, &out)
	return out, err
}

// Policy returns the policy in force, as JSON.
func (c *Client) Policy(ctx context.Context) (json.RawMessage, error) {
	var out json.RawMessage
	err := c.do(ctx, "GET", "/v1/policy", "", nil, &out)
	return out, err
}

// Rules returns per-rule counters, as JSON.
func (c *Client) Rules(ctx context.Context) (json.RawMessage, error) {
	var out json.RawMessage
	err := c.do(ctx, "GET", "/v1/rules", "", nil, &out)
	return out, err
}

// ReplacePolicy uploads a policy file; name appears in error messages.
func (c *Client) ReplacePolicy(ctx context.Context, name string, src []byte) error {
	return c.do(ctx, "PUT", "/v1/policy?name="+url.QueryEscape(name), "application/yaml", bytes.NewReader(src), nil)
}

// StartPartition starts a partition: with groups, an ad-hoc one splitting
// the ports into groups that cannot reach each other; with none, the policy's
// partition of that name.
func (c *Client) StartPartition(ctx context.Context, name string, groups [][]string) error {
	body, _ := json.Marshal(PartitionRequest{Name: name, Groups: groups})
	return c.do(ctx, "POST", "/v1/partitions", "application/json", bytes.NewReader(body), nil)
}

// HealPartition ends a partition.
func (c *Client) HealPartition(ctx context.Context, name string) error {
	return c.do(ctx, "DELETE", "/v1/partitions/"+url.PathEscape(name), "", nil, nil)
}

// SetLink sets a port's link up or down.
func (c *Client) SetLink(ctx context.Context, port string, up bool) error {
	state := "down"
	if up {
		state = "up"
	}
	return c.do(ctx, "POST", "/v1/links/"+url.PathEscape(port)+"/"+state, "", nil, nil)
}

// Inject streams frames to the named port's peer: frames is an injection
// stream (see AppendInjectFrame), read until EOF, and each frame goes to the
// hub as soon as it is read, so the caller paces them by when it makes them
// readable (an io.Pipe). There is no overall timeout, but the hub waits at
// most its idle timeout for each record: a caller that waits longer for a
// frame's time sends keepalives (AppendInjectKeepalive) every
// InjectKeepalive meanwhile. Cancel ctx to stop.
func (c *Client) Inject(ctx context.Context, port string, frames io.Reader) (InjectResponse, error) {
	var out InjectResponse
	err := c.doWith(ctx, c.stream, "POST", "/v1/inject/"+url.PathEscape(port), "application/octet-stream", frames, &out)
	return out, err
}

// InjectStream sends frames to the named port's peer over one streaming
// request (Inject): produce calls send with each frame when it is due, and
// the frame reaches the hub as it is sent; while produce waits between
// frames, a keepalive goes out every InjectKeepalive, so the hub does not
// cut the stream. Once produce returns, the stream ends and InjectStream
// returns the hub's answer. When the hub answers early (it refused the
// port, or failed), send fails with its reason and the error is the
// hub's. send must not be called after produce returns and does not retain
// frame.
func (c *Client) InjectStream(ctx context.Context, port string, produce func(send func(frame []byte) error)) (InjectResponse, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pr, pw := io.Pipe()
	type answer struct {
		res InjectResponse
		err error
	}
	ans := make(chan answer, 1)
	go func() {
		res, err := c.Inject(ctx, port, pr)
		if err != nil {
			pr.CloseWithError(err) // a frame being written fails with the hub's reason
		} else {
			pr.CloseWithError(errInjectEnded)
		}
		ans <- answer{res, err}
	}()
	var mu sync.Mutex // one writer at a time: frames and keepalives
	write := func(b []byte) error {
		mu.Lock()
		defer mu.Unlock()
		_, err := pw.Write(b)
		return err
	}
	keepalive := time.NewTicker(InjectKeepalive)
	done := make(chan struct{})
	kept := make(chan struct{})
	go func() {
		defer close(kept)
		for {
			select {
			case <-done:
				return
			case <-keepalive.C:
				if write(AppendInjectKeepalive(nil)) != nil {
					return
				}
			}
		}
	}()
	var buf []byte
	produce(func(frame []byte) error {
		buf = AppendInjectFrame(buf[:0], frame)
		return write(buf)
	})
	keepalive.Stop()
	close(done)
	<-kept
	pw.Close()
	a := <-ans
	return a.res, a.err
}

// errInjectEnded fails a frame written after the hub has answered.
var errInjectEnded = errors.New("the hub answered before the capture was sent")

// Metrics returns the Prometheus exposition text.
func (c *Client) Metrics(ctx context.Context) (string, error) {
	var out json.RawMessage
	err := c.do(ctx, "GET", "/metrics", "", nil, &out)
	return string(out), err
}
