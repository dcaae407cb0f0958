package control

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metricsHandler serves reg's metrics with the target's link and partition
// state, read at scrape time.
func metricsHandler(reg prometheus.Gatherer, t Target) http.Handler {
	state := prometheus.NewRegistry()
	state.MustRegister(newStateCollector(t))
	return promhttp.HandlerFor(prometheus.Gatherers{reg, state}, promhttp.HandlerOpts{})
}

// MetricsServer serves GET /metrics and nothing else: the endpoint
// Prometheus scrapes (l2hub serve --metrics), apart from the control API,
// so that scraping needs no access to what changes the hub. It answers
// every other method and path with an error, as the control API would a
// web page: a request with an Origin or a Sec-Fetch-Site other than none is
// refused, and so, when no token is asked for, is a Host that is a name
// other than localhost (DNS rebinding). HEAD /metrics is answered as GET
// is, without the body. With a Token, every request needs "Authorization:
// Bearer <Token>" (Prometheus: authorization: credentials_file): the
// metrics endpoint's own token, which reads and changes nothing, never the
// control API's. It holds at most MaxConns connections at once, each
// one request, with header and write timeouts; as on the control API,
// connections without a complete request give way to a newcomer when no
// place is free (see Server's limits), and a refused one closes once
// answered.
type MetricsServer struct {
	Target   Target
	Registry prometheus.Gatherer
	Token    string // when set, every request needs it as a bearer token; never the control token
	Logger   *slog.Logger

	// Limits; zero means the control API's Default of the same name.
	MaxConns         int
	FirstByteTimeout time.Duration
	AuthTimeout      time.Duration
	HeaderTimeout    time.Duration

	refused atomic.Uint64
}

// Handler returns the server's one route, behind its checks.
func (m *MetricsServer) Handler() http.Handler {
	metrics := metricsHandler(m.Registry, m.Target)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		status, code, err := http.StatusForbidden, CodeForbidden, pageCheck(r, "this address is for Prometheus")
		if err == nil && m.Token == "" {
			// With a token, which a page cannot have, a rebound name gains
			// nothing, and Prometheus may scrape the hub by its name.
			err = hostCheck(r)
		}
		switch {
		case err != nil:
		case m.Token != "" && !hasToken(r, m.Token):
			status, code, err = http.StatusUnauthorized, CodeUnauthorized, fmt.Errorf("missing or wrong bearer token (the metrics endpoint's own token, not the control token)")
		case r.URL.Path != "/metrics":
			status, code, err = http.StatusNotFound, CodeNotFound, fmt.Errorf("%s: not found: this address serves GET /metrics only", r.URL.Path)
		case r.Method != http.MethodGet && r.Method != http.MethodHead:
			w.Header().Set("Allow", "GET, HEAD")
			status, code, err = http.StatusMethodNotAllowed, CodeMethodNotAllowed, fmt.Errorf("method %s refused: this address serves GET /metrics only", r.Method)
		}
		if err != nil {
			m.logRefused("method", r.Method, "path", r.URL.Path, "err", err)
			refuseConn(w)
			writeJSON(w, status, ErrorResponse{Error: err.Error(), Code: code})
			return
		}
		if !claimSlot(r) {
			return // the connection gave its slot up, and is closed
		}
		metrics.ServeHTTP(w, r)
	})
}

// logRefused logs a refused request, rate-limited to the 1st, 2nd, 4th, ...
func (m *MetricsServer) logRefused(args ...any) {
	n := m.refused.Add(1)
	if m.Logger == nil || n&(n-1) != 0 {
		return
	}
	m.Logger.Warn("metrics endpoint refused a request", append(args, "refused_so_far", n)...)
}

// Serve answers scrapes on l until ctx is done.
func (m *MetricsServer) Serve(ctx context.Context, l net.Listener) error {
	header := cmp.Or(m.HeaderTimeout, DefaultHeaderTimeout)
	srv := &http.Server{
		ConnContext:       slotContext,
		Handler:           m.Handler(),
		ReadHeaderTimeout: header,
		ReadTimeout:       header,
		WriteTimeout:      header + DefaultBodyTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
	}
	lim := slotLimits{max: cmp.Or(m.MaxConns, DefaultMaxConns), firstByte: cmp.Or(m.FirstByteTimeout, DefaultFirstByteTimeout),
		grace: cmp.Or(m.AuthTimeout, DefaultAuthTimeout), headerTimeout: header, maxHeader: maxHeaderBytes, service: "the metrics endpoint"}
	l = newSlotListener(l, lim, func(remote net.Addr) {
		m.logRefused("remote", remote, "err", "no complete request yet, and another connection needed its place")
	})
	return serveHTTP(ctx, srv, l, m.Logger, "metrics endpoint", shutdownGrace)
}

// ParseMetricsAddr checks a metrics address, "tcp:HOST:PORT", and reports
// whether it needs a token: any address but a loopback one (127.0.0.0/8,
// ::1, localhost), which only this host's users reach. Its error says what
// is wrong, not which address (the caller quotes it).
func ParseMetricsAddr(addr string) (hostport string, needToken bool, err error) {
	hostport, ok := strings.CutPrefix(addr, "tcp:")
	if !ok {
		return "", false, errors.New("want tcp:HOST:PORT, e.g. tcp:127.0.0.1:9465")
	}
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return "", false, fmt.Errorf("want tcp:HOST:PORT, e.g. tcp:127.0.0.1:9465 (%w)", err)
	}
	return hostport, !loopbackHost(host), nil
}

// ListenMetrics binds a metrics address (see ParseMetricsAddr). An address
// that is not loopback needs a token, the metrics endpoint's own: without
// one it is refused (ErrMetricsNeedToken), and a token shorter than
// MinTokenLen too (ErrShortToken). A loopback address's token, which it
// may do without, may be shorter.
func ListenMetrics(addr, token string) (net.Listener, error) {
	hostport, needToken, err := ParseMetricsAddr(addr)
	if err != nil {
		return nil, fmt.Errorf("metrics address %q: %w", addr, err)
	}
	if needToken && token == "" {
		return nil, fmt.Errorf("metrics address %q is not a loopback address: %w: give the metrics endpoint a token of its own "+
			"(--metrics-token-file FILE, the config's metrics_token_file, or $%s), which Prometheus sends as a bearer token "+
			"(authorization: credentials_file); the control token is never accepted there", addr, ErrMetricsNeedToken, MetricsTokenEnv)
	}
	if needToken {
		if err := CheckTokenLen("metrics token", token); err != nil {
			return nil, err
		}
	}
	return listenTCP(hostport)
}

// MetricsTokenEnv names the environment variable serve reads the metrics
// endpoint's token from when no flag gives one, as TokenEnv is the control
// token's. The metrics token only reads: a scraper (and its config file)
// holds it, never the control token.
const MetricsTokenEnv = "L2HUB_METRICS_TOKEN"

// ReadMetricsTokenFile reads the metrics token from a file as
// ReadTokenFile reads the control token: the first line, of a file only
// its owner may read or write.
func ReadMetricsTokenFile(path string) (string, error) {
	return readTokenFile("metrics token file", MetricsTokenEnv, path)
}

// ResolveMetricsToken is the metrics token serve was given: the file's
// (--metrics-token-file), else $L2HUB_METRICS_TOKEN's; "" if neither.
func ResolveMetricsToken(file string) (string, error) {
	if file != "" {
		return ReadMetricsTokenFile(file)
	}
	if env := os.Getenv(MetricsTokenEnv); env != "" {
		tok, err := CheckToken(env)
		if err != nil {
			return "", fmt.Errorf("$%s: %w", MetricsTokenEnv, err)
		}
		return tok, nil
	}
	return "", nil
}
