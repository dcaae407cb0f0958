package control

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"testing"
)

// roundTrip is an http.RoundTripper made of a function.
type roundTrip func(*http.Request) (*http.Response, error)

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestBusyThenCancelledIsNotSuccess: a request the hub turned away unread
// (503 busy) whose context ends before it is sent again fails, saying
// both; it never reads as done. Every mutating call is checked, since
// "policy replaced" for a policy the hub never read would be a lie.
func TestBusyThenCancelledIsNotSuccess(t *testing.T) {
	for name, call := range map[string]func(ctx context.Context, c *Client) error{
		"replace-policy": func(ctx context.Context, c *Client) error {
			return c.ReplacePolicy(ctx, "p.yaml", []byte("rules: []\n"))
		},
		"start-partition": func(ctx context.Context, c *Client) error {
			return c.StartPartition(ctx, "cut", [][]string{{"a"}, {"b"}})
		},
		"set-link": func(ctx context.Context, c *Client) error { return c.SetLink(ctx, "a", false) },
	} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			sent := 0
			c := NewClient("tcp:127.0.0.1:1", "")
			// The hub answers busy, and the caller gives up while it
			// waits to send again.
			c.http = &http.Client{Transport: roundTrip(func(r *http.Request) (*http.Response, error) {
				sent++
				body, _ := json.Marshal(ErrorResponse{Code: CodeBusy, Error: "busy: send it again"})
				cancel()
				return &http.Response{StatusCode: http.StatusServiceUnavailable, Status: "503 Service Unavailable",
					Header: http.Header{"Content-Type": {"application/json"}}, Body: io.NopCloser(bytes.NewReader(body)), Request: r}, nil
			})}
			err := call(ctx, c)
			if !errors.Is(err, ErrBusy) || !errors.Is(err, context.Canceled) || sent != 1 {
				t.Errorf("got %v after %d requests, want one request and an error that is both ErrBusy and context.Canceled", err, sent)
			}
		})
	}
}
