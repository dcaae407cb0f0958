// client_routes.go is the Client's calls, one for each route of the API
// (routes.go on the server's side): the ports, the policy, its rules,
// partitions and links, the metrics, and the injection stream (Inject and
// InjectStream, which paces frames and keeps the stream alive), with
// pathName, which makes a name one segment of a route's path, and
// ParsePartitionArgs, which reads ctl partition's arguments. How a call
// reaches the hub (NewClient's checks, retries, the answer decoded into an
// *Error) is client.go's.

package control

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"sync"
	"time"

	"l2hub/filter"
)

// Ports returns every port's status, link state and partitions.
func (c *Client) Ports(ctx context.Context) ([]PortStatus, error) {
	var out []PortStatus
	err := c.do(ctx, "GET", "/v1/ports", "", nil, &out)
	return out, err
}

// Policy returns the policy in force, as JSON (what ctl policy prints;
// CurrentPolicy decodes it).
func (c *Client) Policy(ctx context.Context) (json.RawMessage, error) {
	var out json.RawMessage
	err := c.do(ctx, "GET", "/v1/policy", "", nil, &out)
	return out, err
}

// CurrentPolicy returns the policy in force: its rules in order with their
// criteria, actions and counters, its partitions and its ports' link
// state, as of now; nil when the hub runs without a policy.
func (c *Client) CurrentPolicy(ctx context.Context) (*filter.Description, error) {
	var out *filter.Description
	err := c.do(ctx, "GET", "/v1/policy", "", nil, &out)
	return out, err
}

// Rules returns per-rule counters, as JSON (what ctl rules prints;
// Counters decodes it).
func (c *Client) Rules(ctx context.Context) (json.RawMessage, error) {
	var out json.RawMessage
	err := c.do(ctx, "GET", "/v1/rules", "", nil, &out)
	return out, err
}

// Counters returns the policy's counters: per rule, per partition and per
// port link.
func (c *Client) Counters(ctx context.Context) (filter.Stats, error) {
	var out filter.Stats
	err := c.do(ctx, "GET", "/v1/rules", "", nil, &out)
	return out, err
}

// AddRule adds one rule to the policy in force, after the others or, with
// before, just before the rule of that name. rule is written as a rule of
// a policy file ({match: {link: a->b}, loss: 5%}); its name, if it gives
// one, must be name. The other rules keep their counters and the capture
// its file; the hub notes the change in both its log and the capture. It
// returns the rule as the policy describes it. A name in use is refused
// (errors.Is(err, filter.ErrRuleExists)).
func (c *Client) AddRule(ctx context.Context, name string, rule []byte, before string) (filter.RuleDescription, error) {
	seg, err := pathName("rule", name)
	if err != nil {
		return filter.RuleDescription{}, err
	}
	path := "/v1/rules/" + seg
	if before != "" {
		path += "?before=" + url.QueryEscape(before)
	}
	return c.ruleEdit(ctx, "POST", path, rule)
}

// UpdateRule replaces the named rule with rule, in its place; its counters
// go on, and it starts afresh on every link as a newly loaded rule would
// (see filter's edit.go). An unknown name is refused
// (filter.ErrUnknownRule).
func (c *Client) UpdateRule(ctx context.Context, name string, rule []byte) (filter.RuleDescription, error) {
	seg, err := pathName("rule", name)
	if err != nil {
		return filter.RuleDescription{}, err
	}
	return c.ruleEdit(ctx, "PUT", "/v1/rules/"+seg, rule)
}

// RemoveRule removes the named rule and returns it as it was, with its last
// counters. An unknown name is refused (filter.ErrUnknownRule).
func (c *Client) RemoveRule(ctx context.Context, name string) (filter.RuleDescription, error) {
	seg, err := pathName("rule", name)
	if err != nil {
		return filter.RuleDescription{}, err
	}
	return c.ruleEdit(ctx, "DELETE", "/v1/rules/"+seg, nil)
}

func (c *Client) ruleEdit(ctx context.Context, method, path string, rule []byte) (filter.RuleDescription, error) {
	var out RuleResponse
	var body io.Reader
	ctype := ""
	if rule != nil {
		body, ctype = bytes.NewReader(rule), "application/yaml"
	}
	err := c.do(ctx, method, path, ctype, body, &out)
	return out.Rule, err
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
	seg, err := pathName("partition", name)
	if err != nil {
		return err
	}
	return c.do(ctx, "DELETE", "/v1/partitions/"+seg, "", nil, nil)
}

// SetLink sets a port's link up or down.
func (c *Client) SetLink(ctx context.Context, port string, up bool) error {
	state := "down"
	if up {
		state = "up"
	}
	seg, err := pathName("port", port)
	if err != nil {
		return err
	}
	return c.do(ctx, "POST", "/v1/links/"+seg+"/"+state, "", nil, nil)
}

// pathName is name escaped as one segment of a route's path, or an error
// saying why it cannot be one: an empty name, . or .. would reach another
// route, or none ("no such route"), rather than the thing named. what
// ("rule", "port") names the kind of name.
func pathName(what, name string) (string, error) {
	switch name {
	case "":
		return "", fmt.Errorf("%s name: empty; give the %s's name", what, what)
	case ".", "..":
		return "", fmt.Errorf("%s name %q: not a name (a URL cannot carry . or ..)", what, name)
	}
	return url.PathEscape(name), nil
}

// Inject streams frames to the named port's peer: frames is an injection
// stream (see AppendInjectFrame), read until EOF, and each frame goes to the
// hub as soon as it is read, so the caller paces them by when it makes them
// readable (an io.Pipe). A stream the hub turned away, unread (ErrBusy:
// it runs Server.MaxInjections streams already), is an *Error whose
// Frames is 0. There is no overall timeout, but the hub waits at
// most its idle timeout for each record: a caller that waits longer for a
// frame's time sends keepalives (AppendInjectKeepalive) every
// InjectKeepalive meanwhile. Cancel ctx to stop.
func (c *Client) Inject(ctx context.Context, port string, frames io.Reader) (InjectResponse, error) {
	var out InjectResponse
	seg, err := pathName("port", port)
	if err != nil {
		return out, err
	}
	err = c.doWith(ctx, c.stream, "POST", "/v1/inject/"+seg, "application/octet-stream", frames, &out, nil)
	if he := (*Error)(nil); errors.As(err, &he) && errors.Is(err, ErrBusy) && he.Frames == nil {
		he.Frames = new(int) // turned away unread (an older hub does not say so): no frame was taken
	}
	return out, err
}

// InjectStream sends frames to the named port's peer over one streaming
// request (Inject): produce calls send with each frame when it is due, and
// the frame reaches the hub as it is sent; while produce waits between
// frames, a keepalive goes out every InjectKeepalive, so the hub does not
// cut the stream. Once produce returns, the stream ends and InjectStream
// returns the hub's answer. When the hub answers early (it refused the
// port, or failed), send fails with its reason and the error is the
// hub's; when ctx ends first, send fails with its cause
// (context.Cause). send must not be called after produce returns and does
// not retain frame.
func (c *Client) InjectStream(ctx context.Context, port string, produce func(send func(frame []byte) error)) (InjectResponse, error) {
	if err := c.addrErr(); err != nil {
		return InjectResponse{}, err
	}
	if _, err := pathName("port", port); err != nil {
		return InjectResponse{}, err
	}
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pr, pw := io.Pipe()
	var res InjectResponse
	var ierr error
	answered := make(chan struct{}) // closed once res and ierr are set
	go func() {
		defer close(answered)
		res, ierr = c.Inject(ctx, port, pr)
		pr.CloseWithError(errInjectEnded)
	}()
	var mu sync.Mutex // one writer at a time: frames and keepalives
	write := func(b []byte) error {
		mu.Lock()
		defer mu.Unlock()
		if _, err := pw.Write(b); err != nil {
			// The pipe closed: the request ended, whoever closed it first
			// (the transport closes the body as the request ends). Say
			// why it ended.
			select {
			case <-answered:
			case <-parent.Done():
			}
			if parent.Err() != nil {
				return context.Cause(parent)
			}
			if ierr != nil {
				return ierr
			}
			return errInjectEnded
		}
		return nil
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
	<-answered
	return res, ierr
}

// errInjectEnded fails a frame written after the hub has answered.
var errInjectEnded = errors.New("the hub answered before the capture was sent")

// Metrics returns the Prometheus exposition text.
func (c *Client) Metrics(ctx context.Context) (string, error) {
	var out json.RawMessage
	err := c.do(ctx, "GET", "/metrics", "", nil, &out)
	return string(out), err
}

// ParsePartitionArgs reads `l2hub ctl partition NAME [GROUP GROUP...]`:
// NAME alone starts the policy's partition of that name, whatever it is
// spelled with (a flag partition is named after its groups, "a|b,c");
// with groups (comma-separated ports or group names each), an ad-hoc one.
// One group separates nothing and is refused.
func ParsePartitionArgs(args []string) (name string, groups [][]string, err error) {
	switch len(args) {
	case 0:
		return "", nil, errors.New("give a partition NAME, and for an ad-hoc partition two or more GROUPs")
	case 2:
		return "", nil, fmt.Errorf("partition %s: one group (%s) separates nothing: give two or more groups, or none to start the policy's partition %s",
			args[0], args[1], args[0])
	}
	for _, g := range args[1:] {
		groups = append(groups, strings.Split(g, ","))
	}
	return args[0], groups, nil
}
