package control_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"l2hub/control"
	"l2hub/filter"
	"l2hub/hub"
)

// serveMetrics runs a MetricsServer on loopback with a fake target until
// the test ends; it returns the target and the address (tcp:HOST:PORT).
func serveMetrics(t *testing.T, srv *control.MetricsServer) (*fakeTarget, string) {
	t.Helper()
	l, err := control.ListenMetrics("tcp:127.0.0.1:0", "")
	if err != nil {
		t.Fatal(err)
	}
	target, reg := fakeRegistry(srv.Target, filter.RuleStats{Rule: "r1", Matched: 2})
	srv.Target, srv.Registry = target, reg
	serveUntilEnd(t, srv.Serve, l)
	return target, control.Addr(l)
}

// TestMetricsEndpointServesOnlyGetMetrics: the metrics endpoint answers
// GET /metrics, and nothing that reads more or changes anything: every
// control route and every other method is refused, and the target sees
// no change.
func TestMetricsEndpointServesOnlyGetMetrics(t *testing.T) {
	target, addr := serveMetrics(t, &control.MetricsServer{})
	status, body := rawRequest(t, addr, "GET", "/metrics", nil, "")
	if status != http.StatusOK || !strings.Contains(body, `l2hub_port_rx_frames_total{port="a"} 7`) || !strings.Contains(body, `l2hub_rule_matched_total{rule="r1"} 2`) {
		t.Fatalf("GET /metrics: %d\n%s", status, body)
	}
	for _, tc := range []struct {
		method, path, ctype, body string
		want                      int
	}{
		{"POST", "/metrics", "", "", http.StatusMethodNotAllowed},
		{"PUT", "/metrics", "application/yaml", "rules: []\n", http.StatusMethodNotAllowed},
		{"DELETE", "/metrics", "", "", http.StatusMethodNotAllowed},
		{"HEAD", "/metrics", "", "", http.StatusOK},
		{"HEAD", "/v1/ports", "", "", http.StatusNotFound},
		{"GET", "/v1/ports", "", "", http.StatusNotFound},
		{"GET", "/v1/policy", "", "", http.StatusNotFound},
		{"PUT", "/v1/policy", "application/yaml", "rules: []\n", http.StatusNotFound},
		{"POST", "/v1/partitions", "application/json", `{"name":"p","groups":[["a"],["b"]]}`, http.StatusNotFound},
		{"POST", "/v1/links/a/down", "", "", http.StatusNotFound},
		{"POST", "/v1/inject/a", "application/octet-stream", string(control.AppendInjectFrame(nil, make([]byte, 60))), http.StatusNotFound},
		{"POST", "/v1/rules", "application/yaml", "{name: x, drop: true}\n", http.StatusNotFound},
		{"GET", "/metrics/extra", "", "", http.StatusNotFound},
		{"GET", "/", "", "", http.StatusNotFound},
	} {
		hdr := map[string]string{}
		if tc.ctype != "" {
			hdr["Content-Type"] = tc.ctype
		}
		if got, body := rawRequest(t, addr, tc.method, tc.path, hdr, tc.body); got != tc.want {
			t.Errorf("%s %s: got %d, want %d\n%s", tc.method, tc.path, got, tc.want, body)
		}
	}
	for name, hdr := range map[string]map[string]string{
		"cross-origin":  {"Origin": "http://evil.example"},
		"cross-site":    {"Sec-Fetch-Site": "cross-site"},
		"dns-rebinding": {"Host": "evil.example:9465"},
	} {
		if got, body := rawRequest(t, addr, "GET", "/metrics", hdr, ""); got != http.StatusForbidden {
			t.Errorf("%s GET /metrics: got %d, want 403\n%s", name, got, body)
		}
	}
	// Host names compare as DNS compares them: in any case, a fully
	// qualified name's trailing dot allowed.
	for _, host := range []string{"localhost:9465", "LOCALHOST:9465", "localhost.:9465", "LocalHost.", "127.0.0.1:9465", "[::1]:9465"} {
		if got, body := rawRequest(t, addr, "GET", "/metrics", map[string]string{"Host": host}, ""); got != http.StatusOK {
			t.Errorf("GET /metrics with Host %s: got %d, want 200\n%s", host, got, body)
		}
	}
	for _, host := range []string{"EVIL.example:9465", "evil.example.:9465", "localhost.evil.example"} {
		if got, body := rawRequest(t, addr, "GET", "/metrics", map[string]string{"Host": host}, ""); got != http.StatusForbidden {
			t.Errorf("GET /metrics with Host %s: got %d, want 403\n%s", host, got, body)
		}
	}
	target.mu.Lock()
	defer target.mu.Unlock()
	if target.policy != "good-1" || len(target.partitions) != 0 || len(target.down) != 0 || len(target.injected) != 0 {
		t.Errorf("the metrics endpoint changed the hub: policy %q, partitions %v, down %v, %d injected",
			target.policy, target.partitions, target.down, len(target.injected))
	}
}

// TestMetricsEndpointToken: with a token, a scrape needs it, and then may
// name the hub by any host name (Prometheus scraping a remote hub), but a
// web page is still refused.
func TestMetricsEndpointToken(t *testing.T) {
	const token = "metrics-test-token-0123456789"
	_, addr := serveMetrics(t, &control.MetricsServer{Token: token})
	for _, tc := range []struct {
		name string
		hdr  map[string]string
		want int
	}{
		{"none", nil, http.StatusUnauthorized},
		{"wrong", map[string]string{"Authorization": "Bearer not-the-token"}, http.StatusUnauthorized},
		{"basic", map[string]string{"Authorization": "Basic " + token}, http.StatusUnauthorized},
		{"right", map[string]string{"Authorization": "Bearer " + token}, http.StatusOK},
		{"right-lower-case-scheme", map[string]string{"Authorization": "bearer " + token}, http.StatusOK}, // RFC 9110
		{"right-upper-case-scheme", map[string]string{"Authorization": "BEARER " + token}, http.StatusOK},
		{"right-by-name", map[string]string{"Authorization": "Bearer " + token, "Host": "hub-1.lab.example:9465"}, http.StatusOK},
		{"right-from-a-page", map[string]string{"Authorization": "Bearer " + token, "Origin": "http://evil.example"}, http.StatusForbidden},
	} {
		if got, body := rawRequest(t, addr, "GET", "/metrics", tc.hdr, ""); got != tc.want {
			t.Errorf("%s: got %d, want %d\n%s", tc.name, got, tc.want, body)
		}
	}
	if got, _ := rawRequest(t, addr, "PUT", "/v1/policy", map[string]string{"Authorization": "Bearer " + token, "Content-Type": "application/yaml"}, "rules: []\n"); got != http.StatusNotFound {
		t.Errorf("PUT /v1/policy with the token: got %d, want 404", got)
	}
}

func TestParseMetricsAddr(t *testing.T) {
	for _, tc := range []struct {
		addr      string
		needToken bool
		err       string
	}{
		{"tcp:127.0.0.1:9465", false, ""},
		{"tcp:127.1.2.3:9465", false, ""},
		{"tcp:[::1]:9465", false, ""},
		{"tcp:localhost:9465", false, ""},
		{"tcp:0.0.0.0:9465", true, ""},
		{"tcp::9465", true, ""},
		{"tcp:[::]:9465", true, ""},
		{"tcp:192.0.2.7:9465", true, ""},
		{"tcp:hub.example:9465", true, ""},
		{"127.0.0.1:9465", false, "want tcp:HOST:PORT"},
		{"unix:/tmp/m.sock", false, "want tcp:HOST:PORT"},
		{"tcp:127.0.0.1", false, "missing port"},
		{"", false, "want tcp:HOST:PORT"},
	} {
		_, need, err := control.ParseMetricsAddr(tc.addr)
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("ParseMetricsAddr(%q) = %v, want an error with %q", tc.addr, err, tc.err)
		case tc.err == "" && (err != nil || need != tc.needToken):
			t.Errorf("ParseMetricsAddr(%q) = needToken %v, %v; want %v, nil", tc.addr, need, err, tc.needToken)
		}
	}
}

// TestListenMetricsNeedsATokenOffLoopback: an address other hosts reach
// is refused without a token, and bound with one.
func TestListenMetricsNeedsATokenOffLoopback(t *testing.T) {
	if l, err := control.ListenMetrics("tcp:0.0.0.0:0", ""); !errors.Is(err, control.ErrMetricsNeedToken) {
		if l != nil {
			l.Close()
		}
		t.Fatalf("ListenMetrics(0.0.0.0 without token) = %v, want ErrMetricsNeedToken", err)
	}
	l, err := control.ListenMetrics("tcp:0.0.0.0:0", "a-token-of-enough-length")
	if err != nil {
		t.Fatalf("ListenMetrics(0.0.0.0 with a token): %v", err)
	}
	l.Close()
	l, err = control.ListenMetrics("tcp:127.0.0.1:0", "")
	if err != nil {
		t.Fatalf("ListenMetrics(loopback without token): %v", err)
	}
	l.Close()
}

// TestMetricsEndpointLimits: however many scrapers come at once, at most
// MaxConns are served; one that never finishes its headers is cut off.
func TestMetricsEndpointLimits(t *testing.T) {
	const maxConns, clients = 2, 6
	target := newFakeTarget()
	target.hold = make(chan struct{})
	_, addr := serveMetrics(t, &control.MetricsServer{Target: target, MaxConns: maxConns, HeaderTimeout: 50 * time.Millisecond})
	_, hostport := control.ParseAddr(addr)

	c, err := net.Dial("tcp", hostport)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "GET /metrics HTTP/1.1\r\nHost: l2hub\r\n")
	c.SetReadDeadline(time.Now().Add(hangGuard))
	if _, err := io.ReadAll(c); errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatal("a client that never finished its headers kept its connection")
	}
	c.Close()

	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			if got, body := rawRequest(t, addr, "GET", "/metrics", nil, ""); got != http.StatusOK {
				t.Errorf("a scraper waiting for a slot: %d %s", got, body)
			}
		})
	}
	for deadline := time.Now().Add(hangGuard); target.inPorts.Load() < maxConns; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("only %d scrapes reached the target", target.inPorts.Load())
		}
	}
	// Each scrape reads the ports twice (counters, then link state).
	for range 2 * clients {
		select {
		case target.hold <- struct{}{}:
		case <-time.After(hangGuard):
			t.Fatal("scrapes stopped reaching the target")
		}
	}
	wg.Wait()
	if got := target.peak.Load(); got != maxConns {
		t.Errorf("got %d scrapes served at once, want the cap, %d", got, maxConns)
	}
}

// TestMetricsEndpointConnectionsWithoutTheTokenCannotStarveScrapes: as on
// the control API, as many connections as the cap that send nothing keep
// a scrape with the token out for no longer than AuthTimeout, whatever the
// header timeout, and a scrape without the token is answered 401 and
// closed at once.
func TestMetricsEndpointConnectionsWithoutTheTokenCannotStarveScrapes(t *testing.T) {
	const maxConns, token = 2, "s3cret"
	_, addr := serveMetrics(t, &control.MetricsServer{Token: token, MaxConns: maxConns, HeaderTimeout: time.Hour})
	_, hostport := control.ParseAddr(addr)
	dial := func(send string) net.Conn {
		t.Helper()
		c, err := net.Dial("tcp", hostport)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		io.WriteString(c, send)
		return c
	}
	for range maxConns {
		dial("") // sends nothing
	}
	if got, body := rawRequest(t, addr, "GET", "/metrics", map[string]string{"Authorization": "Bearer " + token}, ""); got != http.StatusOK {
		t.Errorf("a scrape with the token, behind %d silent connections: %d %s", maxConns, got, body)
	}
	c := dial("GET /metrics HTTP/1.1\r\nHost: l2hub\r\nContent-Length: 100000\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(hangGuard))
	b, err := io.ReadAll(c)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatal("the endpoint kept a connection without the token open")
	}
	if first, _, _ := strings.Cut(string(b), "\r\n"); !strings.Contains(first, "401") {
		t.Errorf("a scrape without the token was answered %q, want 401", first)
	}
}

// TestMetricsEndpointHeadIsGetWithoutBody: HEAD /metrics is answered as
// GET is (a monitor's liveness check), without the body; other methods
// are told both are allowed.
func TestMetricsEndpointHeadIsGetWithoutBody(t *testing.T) {
	_, addr := serveMetrics(t, &control.MetricsServer{})
	_, hostport := control.ParseAddr(addr)
	req, _ := http.NewRequest("HEAD", "http://"+hostport+"/metrics", nil)
	resp, err := (&http.Client{Timeout: hangGuard}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || len(body) != 0 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Errorf("HEAD /metrics: %d, Content-Type %q, %d bytes of body; want 200, the exposition's type, none", resp.StatusCode, resp.Header.Get("Content-Type"), len(body))
	}
	req, _ = http.NewRequest("POST", "http://"+hostport+"/metrics", nil)
	resp, err = (&http.Client{Timeout: hangGuard}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("Allow"); resp.StatusCode != http.StatusMethodNotAllowed || got != "GET, HEAD" {
		t.Errorf("POST /metrics: %d, Allow %q; want 405, \"GET, HEAD\"", resp.StatusCode, got)
	}
}

// TestMetricsEndpointBusySaysMetrics: a connection the metrics endpoint
// turns away to make room is told that the metrics endpoint is busy, not
// the control API.
func TestMetricsEndpointBusySaysMetrics(t *testing.T) {
	var logs lockedLog
	_, addr := serveMetrics(t, &control.MetricsServer{MaxConns: 1, HeaderTimeout: time.Hour, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	_, hostport := control.ParseAddr(addr)
	silent, err := net.Dial("tcp", hostport)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	if got, body := rawRequest(t, addr, "GET", "/metrics", nil, ""); got != http.StatusOK {
		t.Fatalf("a scrape behind a silent connection: %d %s", got, body)
	}
	// The one place went to the scrape only once the silent connection
	// was turned away: had both been let in, its answer would never come.
	if !strings.Contains(logs.String(), "another connection needed its place") {
		t.Fatalf("the scrape was answered while the silent connection kept its place (MaxConns 1); the log:\n%s", logs.String())
	}
	silent.SetReadDeadline(time.Now().Add(hangGuard))
	b, _ := io.ReadAll(silent)
	if !strings.Contains(string(b), " 503 ") || !strings.Contains(string(b), "the metrics endpoint is busy") {
		t.Errorf("the silent connection was answered %q, want a 503 saying the metrics endpoint is busy", b)
	}
}

// lockedLog is a log's destination that a test may read while the
// server writes it.
type lockedLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// stoppedTarget is a hub whose loop answers nothing: every read fails.
type stoppedTarget struct{ *fakeTarget }

var errStopped = errors.New("the hub's loop has stopped")

func (stoppedTarget) Ports(context.Context) ([]hub.PortStatus, error) { return nil, errStopped }
func (stoppedTarget) State(context.Context) (control.State, error) {
	return control.State{}, errStopped
}

// TestMetricsScrapeFailsWhenTheHubDoesNotAnswer: a scrape during which the
// hub's loop cannot be read fails, saying why (Prometheus then records the
// scrape's error and up 0), rather than answer 200 without the ports'
// series, which would read as gaps.
func TestMetricsScrapeFailsWhenTheHubDoesNotAnswer(t *testing.T) {
	target := stoppedTarget{newFakeTarget()}
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		control.NewCollector(target.Ports, nil),
		control.NewLinkCollector(func(context.Context) ([]hub.LinkStats, error) { return nil, errStopped }),
	)
	srv := &control.MetricsServer{Target: target, Registry: reg}
	req := httptest.NewRequest("GET", "/metrics", nil)
	req.Host = "127.0.0.1:9465"
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, req)
	body := rec.Body.String()
	if rec.Code != http.StatusInternalServerError {
		t.Fatalf("a scrape of a hub that does not answer: %d, want 500\n%s", rec.Code, body)
	}
	for _, want := range []string{"reading the ports' counters from the hub", "reading the links' counters from the hub", "reading the ports from the hub", errStopped.Error()} {
		if !strings.Contains(body, want) {
			t.Errorf("the failed scrape's answer lacks %q:\n%s", want, body)
		}
	}
}

// TestPortDropsHelpSaysWhereTheyCount: l2hub_port_drops_total's HELP says
// that a drop on the way to another port counts at that port, not at the
// sender's: a rule on a->b drops at b, which reads as b's own drops
// otherwise.
func TestPortDropsHelpSaysWhereTheyCount(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(control.NewCollector(newFakeTarget().Ports, nil))
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != "l2hub_port_drops_total" {
			continue
		}
		if help := f.GetHelp(); !strings.Contains(help, "counted at the port the copy was meant for") {
			t.Errorf("l2hub_port_drops_total's HELP is %q, want it to say drops are counted at the port the copy was meant for", help)
		}
		return
	}
	t.Fatal("no l2hub_port_drops_total")
}
