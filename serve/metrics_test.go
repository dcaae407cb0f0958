package serve_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/spf13/pflag"

	"l2hub/control"
	"l2hub/hub/hubtest"
	"l2hub/internal/ready"
	"l2hub/serve"
	"l2hub/transport"
)

// served is what a running l2hub serve printed: each port's address and
// the metrics endpoint's URL.
type served struct {
	ports   map[string]string
	metrics string // http://HOST:PORT/metrics
}

var (
	bannerPort    = regexp.MustCompile(`^port (\S+) \(tcp (\S+)\):$`)
	bannerMetrics = regexp.MustCompile(`^metrics for Prometheus on (http://\S+/metrics)$`)
)

// runServe runs serve.Run (l2hub serve) with cfg until the test ends, and
// returns the addresses its banner gives.
func runServe(t *testing.T, cfg serve.Config) served {
	t.Helper()
	s, _ := runServeWith(t, cfg, serve.Options{})
	return s
}

// runServeWith is runServe with opts (Out is the banner's); stop stops the
// hub and returns once Run has.
func runServeWith(t *testing.T, cfg serve.Config, opts serve.Options) (s served, stop func()) {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	opts.Out, opts.Version = pw, "1.2.3-test"
	go func() {
		err := serve.Run(ctx, cfg, opts)
		pw.Close()
		done <- err
	}()
	var once sync.Once
	var runErr error
	result := func() error {
		once.Do(func() {
			cancel()
			runErr = <-done
		})
		return runErr
	}
	stop = func() {
		if err := result(); err != nil {
			t.Errorf("serve.Run: %v", err)
		}
	}
	t.Cleanup(stop)
	s = served{ports: map[string]string{}}
	sc := bufio.NewScanner(pr)
	for (len(s.ports) < len(cfg.Ports) || cfg.Metrics != "" && s.metrics == "") && sc.Scan() {
		if m := bannerPort.FindStringSubmatch(sc.Text()); m != nil {
			s.ports[m[1]] = m[2]
		}
		if m := bannerMetrics.FindStringSubmatch(sc.Text()); m != nil {
			s.metrics = m[1]
		}
	}
	go io.Copy(io.Discard, pr) // the rest, the shutdown summary included
	if len(s.ports) < len(cfg.Ports) || cfg.Metrics != "" && s.metrics == "" {
		t.Fatalf("serve printed no banner: %v", result())
	}
	return s, stop
}

// waitFor polls cond until it holds; hangGuard ends a wait that never
// does.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(hangGuard); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after %v", what, hangGuard)
		}
	}
}

// scrape gets url's metrics as Prometheus does and returns the text.
func scrape(t *testing.T, url string, hdr map[string]string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := (&http.Client{Timeout: hangGuard}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}

func parseMetrics(t *testing.T, text []byte) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(text))
	if err != nil {
		t.Fatalf("the exposition does not parse: %v\n%s", err, text)
	}
	return fams
}

// sample returns the value of the sample of family name with exactly the
// labels given (as name=value pairs).
func sample(fams map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
	mf := fams[name]
	if mf == nil {
		return 0, false
	}
next:
	for _, m := range mf.Metric {
		if len(m.Label) != len(labels)/2 {
			continue
		}
		for i := 0; i < len(labels); i += 2 {
			found := false
			for _, l := range m.Label {
				if l.GetName() == labels[i] && l.GetValue() == labels[i+1] {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Untyped != nil:
			return m.Untyped.GetValue(), true
		}
	}
	return 0, false
}

// metricsPolicy drops the first 3 frames from a to b; its partition is
// listed (inactive) from the start.
const metricsPolicy = `seed: 3
rules:
  - {name: first-3, match: {link: a->b, first: 3}, drop: true}
  - {name: slow-b-a, match: {link: b->a}, delay: 1ms}
partitions:
  - {name: later, groups: a|b, start: 1h}
`

// metricsConfig is a two-port hub with a policy, a capture and a metrics
// endpoint on loopback.
func metricsConfig(t *testing.T) serve.Config {
	dir := t.TempDir()
	policy := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(policy, []byte(metricsPolicy), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := serve.DefaultConfig()
	cfg.Ports = []transport.Spec{
		{Name: "a", Transport: transport.TCP, Address: "127.0.0.1:0"},
		{Name: "b", Transport: transport.TCP, Address: "127.0.0.1:0"},
	}
	cfg.Control = "off"
	cfg.Metrics = "tcp:127.0.0.1:0"
	cfg.Policy = policy
	cfg.Capture.File = filepath.Join(dir, "run.pcapng")
	return cfg
}

// trafficForMetrics sends 5 broadcasts from a (b gets the last 2) and 4
// from b (a gets them all), and returns once they have arrived.
func trafficForMetrics(t *testing.T, s served) {
	t.Helper()
	a, b := dialVM(t, s.ports["a"]), dialVM(t, s.ports["b"])
	waitFor(t, "both VMs attached", func() bool {
		_, text := scrape(t, s.metrics, nil)
		fams := parseMetrics(t, text)
		va, _ := sample(fams, "l2hub_port_attached", "port", "a")
		vb, _ := sample(fams, "l2hub_port_attached", "port", "b")
		return va == 1 && vb == 1
	})
	macA, macB := hubtest.MAC("02:00:00:00:00:0a"), hubtest.MAC("02:00:00:00:00:0b")
	for range 5 {
		if err := a.WriteFrame(hubtest.Frame(hubtest.Broadcast, macA, "from a")); err != nil {
			t.Fatal(err)
		}
	}
	for range 4 {
		if err := b.WriteFrame(hubtest.Frame(hubtest.Broadcast, macB, "from b")); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		readFrame(t, b)
	}
	for range 4 {
		readFrame(t, a)
	}
}

// TestMetricsEndpointScrape runs l2hub serve with --metrics on loopback,
// sends frames through it, and scrapes it as Prometheus would: the
// exposition parses, passes Prometheus's linter (and promtool, where
// installed), and carries the links', rules', build's, Go runtime's and
// process's series with the values the traffic gave them.
func TestMetricsEndpointScrape(t *testing.T) {
	readyFile := filepath.Join(t.TempDir(), "ready.json")
	s, _ := runServeWith(t, metricsConfig(t), serve.Options{ReadyFile: readyFile})
	info, err := ready.Wait(context.Background(), readyFile, time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.Replace(strings.TrimSuffix(s.metrics, "/metrics"), "http://", "tcp:", 1); info.Metrics != want {
		t.Errorf("the ready file's metrics address is %q, want %q (the banner's)", info.Metrics, want)
	}
	trafficForMetrics(t, s)
	status, text := scrape(t, s.metrics, nil)
	if status != http.StatusOK {
		t.Fatalf("GET %s: %d\n%s", s.metrics, status, text)
	}
	fams := parseMetrics(t, text)
	for _, tc := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"l2hub_link_frames_total", []string{"from", "a", "to", "b"}, 2},
		{"l2hub_link_drops_total", []string{"from", "a", "to", "b"}, 3},
		{"l2hub_link_frames_total", []string{"from", "b", "to", "a"}, 4},
		{"l2hub_link_drops_total", []string{"from", "b", "to", "a"}, 0},
		{"l2hub_link_bytes_total", []string{"from", "b", "to", "a"}, 4 * float64(len(hubtest.Frame(hubtest.Broadcast, hubtest.MAC("02:00:00:00:00:0b"), "from b")))},
		{"l2hub_rule_matched_total", []string{"rule", "first-3"}, 3},
		{"l2hub_rule_actions_total", []string{"rule", "first-3", "action", "dropped"}, 3},
		{"l2hub_rule_actions_total", []string{"rule", "first-3", "action", "delayed"}, 0},
		{"l2hub_rule_matched_total", []string{"rule", "slow-b-a"}, 4},
		{"l2hub_rule_actions_total", []string{"rule", "slow-b-a", "action", "delayed"}, 4},
		{"l2hub_port_rx_frames_total", []string{"port", "a"}, 5},
		{"l2hub_port_drops_total", []string{"port", "b", "reason", "policy"}, 3},
		{"l2hub_partition_active", []string{"partition", "later"}, 0},
		{"l2hub_port_link_up", []string{"port", "a"}, 1},
	} {
		if got, ok := sample(fams, tc.name, tc.labels...); !ok || got != tc.want {
			t.Errorf("%s%v = %v (found %v), want %v", tc.name, tc.labels, got, ok, tc.want)
		}
	}
	if mf := fams["l2hub_link_frames_total"]; mf == nil || len(mf.Metric) != 2 {
		t.Errorf("l2hub_link_frames_total: want the 2 links that carried traffic, got %v", mf)
	}
	bi := fams["l2hub_build_info"]
	if bi == nil || len(bi.Metric) != 1 || bi.Metric[0].GetGauge().GetValue() != 1 {
		t.Fatalf("l2hub_build_info: got %v, want one sample of 1", bi)
	}
	labels := map[string]string{}
	for _, l := range bi.Metric[0].Label {
		labels[l.GetName()] = l.GetValue()
	}
	if labels["version"] != "1.2.3-test" || labels["revision"] == "" || !strings.HasPrefix(labels["goversion"], "go") {
		t.Errorf("l2hub_build_info labels %v: want version 1.2.3-test, a revision (or unknown) and the Go version", labels)
	}
	for _, name := range []string{"go_goroutines", "go_gc_duration_seconds", "go_memstats_heap_alloc_bytes", "process_cpu_seconds_total", "process_open_fds", "process_resident_memory_bytes", "l2hub_capture_written_frames_total"} {
		if fams[name] == nil {
			t.Errorf("the scrape lacks %s", name)
		}
	}

	lintExposition(t, text)
}

// lintExposition checks a scrape with Prometheus's linter and, where
// installed, promtool check metrics.
func lintExposition(t *testing.T, text []byte) {
	t.Helper()
	problems, err := promlint.New(bytes.NewReader(text)).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Log("promtool is not installed (Debian: apt-get install prometheus): the scrape was checked with promlint, its linter, only")
		return
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(text)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

// TestMetricsEndpointRefusesTheRest: the metrics endpoint of a running
// hub reads; it neither shows nor changes what the control API does.
func TestMetricsEndpointRefusesTheRest(t *testing.T) {
	s := runServe(t, metricsConfig(t))
	base := strings.TrimSuffix(s.metrics, "/metrics")
	for _, tc := range []struct{ method, path, ctype, body string }{
		{"POST", "/metrics", "", ""},
		{"GET", "/v1/ports", "", ""},
		{"GET", "/v1/policy", "", ""},
		{"PUT", "/v1/policy", "application/yaml", "rules: []\n"},
		{"POST", "/v1/links/a/down", "", ""},
		{"POST", "/v1/partitions", "application/json", `{"name": "later"}`},
		{"POST", "/v1/inject/a", "application/octet-stream", string(control.AppendInjectFrame(nil, make([]byte, 60)))},
	} {
		req, _ := http.NewRequest(tc.method, base+tc.path, strings.NewReader(tc.body))
		if tc.ctype != "" {
			req.Header.Set("Content-Type", tc.ctype)
		}
		resp, err := (&http.Client{Timeout: hangGuard}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("%s %s: got %d, want 404 or 405", tc.method, tc.path, resp.StatusCode)
		}
	}
	if status, _ := scrape(t, s.metrics, map[string]string{"Origin": "http://evil.example"}); status != http.StatusForbidden {
		t.Errorf("a scrape from a web page: got %d, want 403", status)
	}
	_, text := scrape(t, s.metrics, nil)
	fams := parseMetrics(t, text)
	if v, ok := sample(fams, "l2hub_port_link_up", "port", "a"); !ok || v != 1 {
		t.Errorf("after the refused requests, port a's link: %v %v, want up", v, ok)
	}
	if v, ok := sample(fams, "l2hub_partition_active", "partition", "later"); !ok || v != 0 {
		t.Errorf("after the refused requests, partition later active = %v %v, want 0", v, ok)
	}
}

// TestMetricsOffLoopbackNeedsItsOwnToken: serve refuses a metrics address
// other hosts reach unless a metrics token guards it (the control token
// does not), and a metrics token that is the control token; with its own
// token, a scrape needs that token, and the control token is refused as
// any wrong one is.
func TestMetricsOffLoopbackNeedsItsOwnToken(t *testing.T) {
	const ctlToken, metricsToken = "control-serve-token-0123456789", "metrics-serve-token-0123456789"
	cfg := metricsConfig(t)
	cfg.Metrics = "tcp:0.0.0.0:0"
	cfg.Control = filepath.Join(t.TempDir(), "ctl.sock")
	cfg.ControlToken = ctlToken
	err := runRefused(t, "metrics off loopback with only the control token", cfg, serve.Options{})
	if !errors.Is(err, control.ErrMetricsNeedToken) || !strings.Contains(err.Error(), "--metrics-token-file") {
		t.Fatalf("serve --metrics tcp:0.0.0.0:0 with only the control token: got %v, want ErrMetricsNeedToken naming --metrics-token-file", err)
	}
	if _, err := os.Stat(cfg.Capture.File); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused start created the capture (%v)", err)
	}
	cfg.MetricsToken = ctlToken
	if err := runRefused(t, "the control token as the metrics token", cfg, serve.Options{}); err == nil || !strings.Contains(err.Error(), "the metrics token is the control token") {
		t.Fatalf("serve with the control token as the metrics token: got %v, want it refused", err)
	}

	cfg.MetricsToken = metricsToken
	s := runServe(t, cfg)
	url := strings.Replace(s.metrics, "0.0.0.0", "127.0.0.1", 1)
	for _, tc := range []struct {
		name, token string
		want        int
	}{
		{"none", "", http.StatusUnauthorized},
		{"the control token", ctlToken, http.StatusUnauthorized},
		{"the metrics token", metricsToken, http.StatusOK},
	} {
		hdr := map[string]string{}
		if tc.token != "" {
			hdr["Authorization"] = "Bearer " + tc.token
		}
		status, text := scrape(t, url, hdr)
		if status != tc.want || (tc.want == http.StatusOK && !bytes.Contains(text, []byte("l2hub_build_info"))) {
			t.Errorf("a scrape with %s: got %d, want %d\n%s", tc.name, status, tc.want, text)
		}
	}
}

// TestMetricsTokenSources: the metrics token comes from the config's
// metrics_token_file (relative to the config), from --metrics-token-file,
// or from $L2HUB_METRICS_TOKEN, as the control token comes from its own;
// a token file others can read is refused.
func TestMetricsTokenSources(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string, mode os.FileMode) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(text), mode); err != nil {
			t.Fatal(err)
		}
		// The mode whatever the umask: WriteFile's is masked by it.
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		return path
	}
	write("m.token", "from-the-config-file\n", 0o600)
	flagFile := write("flag.token", "from-the-flag\n", 0o600)
	open := write("open.token", "readable-by-all\n", 0o644)
	conf := write("hub.yaml", "metrics: tcp:127.0.0.1:0\nmetrics_token_file: m.token\nports:\n  - {name: a, transport: tcp, address: 127.0.0.1:0}\n", 0o600)

	token := func(args ...string) (string, error) {
		t.Helper()
		var f serve.Flags
		fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
		f.Register(fs)
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		cfg, err := f.Config()
		if err != nil {
			return "", err
		}
		return cfg.MetricsAuth()
	}
	t.Setenv(control.MetricsTokenEnv, "")
	for _, tc := range []struct {
		name, env string
		args      []string
		want, err string
	}{
		{name: "config file", args: []string{"--config", conf}, want: "from-the-config-file"},
		{name: "flag over config", args: []string{"--config", conf, "--metrics-token-file", flagFile}, want: "from-the-flag"},
		{name: "env over config", env: "from-the-env", args: []string{"--config", conf}, want: "from-the-env"},
		{name: "flag over env", env: "from-the-env", args: []string{"--config", conf, "--metrics-token-file", flagFile}, want: "from-the-flag"},
		{name: "none", args: []string{"--port", "a=tcp:127.0.0.1:0"}, want: ""},
		{name: "open file", args: []string{"--port", "a=tcp:127.0.0.1:0", "--metrics-token-file", open}, err: "metrics token file " + open + " has mode 0644"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(control.MetricsTokenEnv, tc.env)
			got, err := token(tc.args...)
			switch {
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Errorf("got %q, %v; want an error with %q", got, err, tc.err)
			case tc.err == "" && (err != nil || got != tc.want):
				t.Errorf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}
