package control

import (
	"bufio"
	"context"
	"crypto/subtle"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"l2hub/hub"
)

// MaxPolicyBytes bounds a policy upload; a policy file is a few kilobytes.
const MaxPolicyBytes = 1 << 20

// MaxInjectFrame bounds one frame of an injection stream: QEMU's own
// receive limit, the largest frame a hub port ever carries.
const MaxInjectFrame = hub.DefaultMaxFrame

// Target is what the API drives: the running hub and its policy. The command
// implements it; every method is safe for concurrent use.
type Target interface {
	Ports(ctx context.Context) ([]hub.PortStatus, error)
	// State reports the policy's link and partition state now; the zero
	// State (every link up, no partitions) when there is no policy.
	State(ctx context.Context) (State, error)
	// Policy describes the policy in force (JSON-encodable), nil if none.
	Policy(ctx context.Context) (any, error)
	// Rules returns per-rule counters (JSON-encodable).
	Rules(ctx context.Context) (any, error)
	// ReplacePolicy validates src whole and swaps it in, or changes nothing.
	ReplacePolicy(ctx context.Context, name string, src []byte) error
	StartPartition(ctx context.Context, name string, groups [][]string) error
	HealPartition(ctx context.Context, name string) error
	SetLink(ctx context.Context, port string, up bool) error
	// Inject sends frame to the named port's peer, as if the hub had
	// forwarded it there. It must not retain frame.
	Inject(ctx context.Context, port string, frame []byte) error
}

// A UserError is a request the target refused as invalid (bad policy, unknown
// port); the API answers 400 with its message rather than 500.
type UserError struct{ Err error }

func (e *UserError) Error() string { return e.Err.Error() }
func (e *UserError) Unwrap() error { return e.Err }

// Server serves the control API.
type Server struct {
	Target   Target
	Registry *prometheus.Registry // served at /metrics with the target's link and partition state; nil for none
	Token    string               // when set, every request needs "Authorization: Bearer <Token>"
	Logger   *slog.Logger
}

// PartitionRequest is the body of POST /v1/partitions.
type PartitionRequest struct {
	Name   string     `json:"name"`
	Groups [][]string `json:"groups"`
}

// InjectResponse is the answer to POST /v1/inject/{port}.
type InjectResponse struct {
	Port   string `json:"port"`
	Frames int    `json:"frames"`
	Bytes  int64  `json:"bytes"`
}

// ErrorResponse is the body of every non-2xx answer.
type ErrorResponse struct {
	Error string `json:"error"`
}

// Handler returns the API's routes.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/ports", s.json(func(r *http.Request) (any, error) { return s.ports(r.Context()) }))
	mux.HandleFunc("GET /v1/policy", s.json(func(r *http.Request) (any, error) { return s.Target.Policy(r.Context()) }))
	mux.HandleFunc("GET /v1/rules", s.json(func(r *http.Request) (any, error) { return s.Target.Rules(r.Context()) }))
	mux.HandleFunc("PUT /v1/policy", s.json(func(r *http.Request) (any, error) {
		src, err := io.ReadAll(io.LimitReader(r.Body, MaxPolicyBytes+1))
		if err != nil {
			return nil, err
		}
		if len(src) > MaxPolicyBytes {
			return nil, &UserError{fmt.Errorf("policy is larger than %d bytes", MaxPolicyBytes)}
		}
		name := r.URL.Query().Get("name")
		if name == "" {
			name = "policy"
		}
		if err := s.Target.ReplacePolicy(r.Context(), name, src); err != nil {
			return nil, err
		}
		return map[string]string{"status": "replaced"}, nil
	}))
	mux.HandleFunc("POST /v1/partitions", s.json(func(r *http.Request) (any, error) {
		var req PartitionRequest
		dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			return nil, &UserError{fmt.Errorf("partition request: %w", err)}
		}
		if err := s.Target.StartPartition(r.Context(), req.Name, req.Groups); err != nil {
			return nil, err
		}
		return map[string]string{"status": "partitioned", "name": req.Name}, nil
	}))
	mux.HandleFunc("DELETE /v1/partitions/{name}", s.json(func(r *http.Request) (any, error) {
		name := r.PathValue("name")
		if err := s.Target.HealPartition(r.Context(), name); err != nil {
			return nil, err
		}
		return map[string]string{"status": "healed", "name": name}, nil
	}))
	mux.HandleFunc("POST /v1/links/{port}/{state}", s.json(func(r *http.Request) (any, error) {
		port, state := r.PathValue("port"), r.PathValue("state")
		if state != "up" && state != "down" {
			return nil, &UserError{fmt.Errorf("link state %q: want up or down", state)}
		}
		if err := s.Target.SetLink(r.Context(), port, state == "up"); err != nil {
			return nil, err
		}
		return map[string]string{"status": "link " + state, "port": port}, nil
	}))
	mux.HandleFunc("POST /v1/inject/{port}", s.json(func(r *http.Request) (any, error) {
		return s.inject(r.Context(), r.PathValue("port"), r.Body)
	}))
	if s.Registry != nil {
		state := prometheus.NewRegistry()
		state.MustRegister(newStateCollector(s.Target))
		mux.Handle("GET /metrics", promhttp.HandlerFor(prometheus.Gatherers{s.Registry, state}, promhttp.HandlerOpts{}))
	}
	return s.auth(mux)
}

// inject hands each frame of an injection stream to the target as it
// arrives: the body is a sequence of frames, each preceded by its length as a
// 4-byte big-endian integer (the framing of QEMU's stream back end), so a
// client paces frames by when it writes them. A length outside
// [hub.EthHeaderLen, MaxInjectFrame] or a stream cut inside a frame ends the
// request; the frames before it have been sent.
func (s *Server) inject(ctx context.Context, port string, body io.Reader) (any, error) {
	res := InjectResponse{Port: port}
	br := bufio.NewReaderSize(body, 64<<10)
	var hdr [4]byte
	var buf []byte
	fail := func(err error) error {
		return &UserError{fmt.Errorf("inject into %q: frame %d: %w (%d frames sent before it)", port, res.Frames+1, err, res.Frames)}
	}
	for {
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			switch {
			case err == io.EOF:
				return res, nil
			case err == io.ErrUnexpectedEOF:
				return nil, fail(errors.New("the stream ends inside a length prefix"))
			}
			return nil, fail(fmt.Errorf("read: %w", err))
		}
		n := binary.BigEndian.Uint32(hdr[:])
		if n < hub.EthHeaderLen || n > MaxInjectFrame {
			return nil, fail(fmt.Errorf("length %d is outside %d..%d bytes", n, hub.EthHeaderLen, MaxInjectFrame))
		}
		if cap(buf) < int(n) {
			buf = make([]byte, n)
		}
		buf = buf[:n]
		if got, err := io.ReadFull(br, buf); err != nil {
			if err == io.ErrUnexpectedEOF || err == io.EOF {
				return nil, fail(fmt.Errorf("the stream ends %d bytes into a %d-byte frame", got, n))
			}
			return nil, fail(fmt.Errorf("read: %w", err))
		}
		if err := s.Target.Inject(ctx, port, buf); err != nil {
			if errors.Is(err, hub.ErrNoPort) || errors.Is(err, hub.ErrFrameTooLarge) {
				return nil, fail(err)
			}
			return nil, fmt.Errorf("inject into %q: frame %d: %w", port, res.Frames+1, err)
		}
		res.Frames++
		res.Bytes += int64(n)
	}
}

// AppendInjectFrame appends frame to dst as one record of an injection
// stream: its length as a 4-byte big-endian integer, then the bytes.
func AppendInjectFrame(dst, frame []byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(frame)))
	return append(dst, frame...)
}

func (s *Server) auth(next http.Handler) http.Handler {
	if s.Token == "" {
		return next
	}
	want := []byte("Bearer " + s.Token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			writeJSON(w, http.StatusUnauthorized, ErrorResponse{Error: "missing or wrong bearer token"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) json(fn func(r *http.Request) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v, err := fn(r)
		if err != nil {
			status := http.StatusInternalServerError
			var ue *UserError
			if errors.As(err, &ue) {
				status = http.StatusBadRequest
			} else if errors.Is(err, hub.ErrStopped) {
				status = http.StatusServiceUnavailable
			}
			if s.Logger != nil && status == http.StatusInternalServerError {
				s.Logger.Warn("control request failed", "method", r.Method, "path", r.URL.Path, "err", err)
			}
			writeJSON(w, status, ErrorResponse{Error: err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, v)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// Serve answers requests on l until ctx is done.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case <-ctx.Done():
		shut, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(shut)
		<-errc
		return nil
	case err := <-errc:
		return err
	}
}

// Listen opens the control address: "unix:PATH" or a bare path for a unix
// socket, "tcp:HOST:PORT" for TCP. A TCP address that is not loopback needs a
// token, since anyone who reaches it could change the network.
func Listen(addr, token string) (net.Listener, error) {
	network, address := ParseAddr(addr)
	if network == "tcp" {
		host, _, err := net.SplitHostPort(address)
		if err != nil {
			return nil, fmt.Errorf("control address %q: %w", addr, err)
		}
		ip := net.ParseIP(host)
		if (ip == nil || !ip.IsLoopback()) && host != "localhost" && token == "" {
			return nil, fmt.Errorf("control address %q is not loopback: set a token (--control-token) to expose it", addr)
		}
		return net.Listen("tcp", address)
	}
	if err := clearStaleSocket(address); err != nil {
		return nil, err
	}
	return net.Listen("unix", address)
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

// clearStaleSocket removes a socket file left by a hub that is gone, and
// refuses to touch one a running hub still answers on.
func clearStaleSocket(path string) error {
	c, err := net.DialTimeout("unix", path, time.Second)
	if err == nil {
		c.Close()
		return fmt.Errorf("control socket %s: another l2hub is listening there (use --control to pick another path)", path)
	}
	fi, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("control socket %s: %w", path, err)
	case fi.Mode()&fs.ModeSocket == 0:
		return fmt.Errorf("control socket %s: exists and is not a socket", path)
	}
	return os.Remove(path)
}
