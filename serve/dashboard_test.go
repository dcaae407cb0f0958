package serve_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
)

// The Grafana dashboard in dashboards/ must query only what l2hub exports:
// every metric name its PromQL (panel targets and variable queries)
// selects is checked against a scrape of a real hub with ports, traffic, a
// policy and a capture, so that every family has samples.

const dashboardFile = "../dashboards/l2hub.json"

// promqlNames returns the metric names a PromQL expression selects, or a
// Grafana variable query (label_values(EXPR, LABEL), label_values(LABEL),
// query_result(EXPR)). It is a lexer, not a parser: it skips strings,
// label matchers ({...}), ranges ([...]), Grafana variables ($x, ${x}),
// numbers and durations, the label lists of by, without, on, ignoring and
// group_left/right, keywords, and names called as functions or used as
// aggregations; every other name is a metric's.
func promqlNames(expr string) ([]string, error) {
	if m := regexp.MustCompile(`^\s*label_values\(\s*(.*)\s*\)\s*$`).FindStringSubmatch(expr); m != nil {
		args := m[1]
		i := strings.LastIndex(args, ",")
		if i < 0 {
			return nil, nil // label_values(LABEL): no metric
		}
		expr = args[:i]
	} else if m := regexp.MustCompile(`^\s*query_result\((.*)\)\s*$`).FindStringSubmatch(expr); m != nil {
		expr = m[1]
	}
	var names []string
	s := expr
	isIdentStart := func(c byte) bool { return c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
	isIdent := func(c byte) bool { return isIdentStart(c) || c >= '0' && c <= '9' }
	nextNonSpace := func(i int) int {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n') {
			i++
		}
		return i
	}
	// skipString returns the index after the string that starts at i.
	skipString := func(i int) (int, error) {
		q, j := s[i], i+1
		for j < len(s) && s[j] != q {
			if s[j] == '\\' && q != '`' {
				j++
			}
			j++
		}
		if j >= len(s) {
			return 0, fmt.Errorf("unterminated string in %q", expr)
		}
		return j + 1, nil
	}
	// skipTo returns the index after the bracket closing the one at i,
	// skipping strings inside.
	skipTo := func(i int, open, close byte) (int, error) {
		depth := 0
		for i < len(s) {
			switch s[i] {
			case '"', '\'', '`':
				j, err := skipString(i)
				if err != nil {
					return 0, err
				}
				i = j
				continue
			case open:
				depth++
			case close:
				if depth--; depth == 0 {
					return i + 1, nil
				}
			}
			i++
		}
		return 0, fmt.Errorf("unbalanced %c in %q", open, expr)
	}
	labelLists := map[string]bool{"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true}
	keywords := map[string]bool{"and": true, "or": true, "unless": true, "bool": true, "offset": true, "inf": true, "nan": true, "atan2": true}
	aggregations := map[string]bool{"sum": true, "min": true, "max": true, "avg": true, "group": true, "stddev": true, "stdvar": true,
		"count": true, "count_values": true, "bottomk": true, "topk": true, "quantile": true, "limitk": true, "limit_ratio": true}
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			var err error
			if i, err = skipString(i); err != nil {
				return nil, err
			}
		case c == '{':
			var err error
			if i, err = skipTo(i, '{', '}'); err != nil {
				return nil, err
			}
		case c == '[':
			var err error
			if i, err = skipTo(i, '[', ']'); err != nil {
				return nil, err
			}
		case c == '$':
			i++
			if i < len(s) && s[i] == '{' {
				var err error
				if i, err = skipTo(i, '{', '}'); err != nil {
					return nil, err
				}
				continue
			}
			for i < len(s) && isIdent(s[i]) {
				i++
			}
		case c >= '0' && c <= '9' || c == '.':
			for i < len(s) && (isIdent(s[i]) || s[i] == '.') {
				i++
			}
		case isIdentStart(c):
			j := i
			for j < len(s) && isIdent(s[j]) {
				j++
			}
			word, next := s[i:j], nextNonSpace(j)
			i = j
			switch {
			case labelLists[word]:
				if next < len(s) && s[next] == '(' {
					var err error
					if i, err = skipTo(next, '(', ')'); err != nil {
						return nil, err
					}
				}
			case keywords[word]:
			case next < len(s) && s[next] == '(':
				// a function
			case aggregations[word] && next < len(s) && (strings.HasPrefix(s[next:], "by") || strings.HasPrefix(s[next:], "without")):
			default:
				names = append(names, word)
			}
		default:
			i++
		}
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}

func TestPromQLNames(t *testing.T) {
	for _, tc := range []struct {
		expr string
		want []string
	}{
		{`sum by (port) (rate(l2hub_port_rx_frames_total{port=~"$port"}[$__rate_interval]))`, []string{"l2hub_port_rx_frames_total"}},
		{`a / (b + c) * 8`, []string{"a", "b", "c"}},
		{`rate(x[5m]) and on (instance) y`, []string{"x", "y"}},
		{`8 * sum without (le) (increase(h_bucket{a="}{by(",b!~'x\'y'}[1m] offset 5m))`, []string{"h_bucket"}},
		{`histogram_quantile(0.9, sum by (le) (rate(h_bucket[5m])))`, []string{"h_bucket"}},
		{`sum(x) by (port) > 0`, []string{"x"}},
		{`topk(3, m) unless ignoring (a, b) n`, []string{"m", "n"}},
		{`count_values("value", m)`, []string{"m"}},
		{`x / on (a) group_left (b) y`, []string{"x", "y"}},
		{`max by (instance) (l2hub_capture_files_total{instance=~"${instance}"})`, []string{"l2hub_capture_files_total"}},
		{`label_values(l2hub_build_info, instance)`, []string{"l2hub_build_info"}},
		{`label_values(l2hub_port_rx_frames_total{instance=~"$instance"}, port)`, []string{"l2hub_port_rx_frames_total"}},
		{`label_values(port)`, nil},
		{`1 + 2e3 - 0x1f`, nil},
	} {
		got, err := promqlNames(tc.expr)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("promqlNames(%s) = %q, %v; want %q", tc.expr, got, err, tc.want)
		}
	}
	for _, bad := range []string{`x{a="b"`, `rate(x[5m)`, `x{a="b}`} {
		if got, err := promqlNames(bad); err == nil {
			t.Errorf("promqlNames(%s) = %q, want an error", bad, got)
		}
	}
}

// dashboardQuery is one PromQL query of a dashboard and where it is.
type dashboardQuery struct{ where, expr, legend string }

// shippedDashboardQueries returns the queries of the dashboard the
// repository ships, failing the test on one it cannot read.
func shippedDashboardQueries(t *testing.T) []dashboardQuery {
	t.Helper()
	data, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	qs, err := dashboardQueries(data)
	if err != nil {
		t.Fatal(err)
	}
	return qs
}

// dashboardQueries lists every query of a Grafana dashboard: each panel's
// targets (rows' nested panels too) and each query variable.
func dashboardQueries(data []byte) ([]dashboardQuery, error) {
	type target struct {
		Expr   string `json:"expr"`
		Legend string `json:"legendFormat"`
	}
	type panel struct {
		Title   string   `json:"title"`
		Type    string   `json:"type"`
		Targets []target `json:"targets"`
		Panels  []panel  `json:"panels"`
	}
	var dash struct {
		Title      string  `json:"title"`
		Panels     []panel `json:"panels"`
		Templating struct {
			List []struct {
				Name  string          `json:"name"`
				Type  string          `json:"type"`
				Query json.RawMessage `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		return nil, err
	}
	var out []dashboardQuery
	var walk func(ps []panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			for i, t := range p.Targets {
				out = append(out, dashboardQuery{fmt.Sprintf("panel %q target %d", p.Title, i), t.Expr, t.Legend})
			}
			walk(p.Panels)
		}
	}
	walk(dash.Panels)
	for _, v := range dash.Templating.List {
		if v.Type != "query" {
			continue
		}
		var q struct {
			Query string `json:"query"`
		}
		var s string
		if json.Unmarshal(v.Query, &s) != nil {
			if err := json.Unmarshal(v.Query, &q); err != nil {
				return nil, fmt.Errorf("variable %s: query: %w", v.Name, err)
			}
			s = q.Query
		}
		out = append(out, dashboardQuery{"variable " + v.Name, s, ""})
	}
	return out, nil
}

// dashboardProblems checks a dashboard's queries against the series names
// a scrape exports; it also returns every name the queries use.
func dashboardProblems(data []byte, exported map[string]bool) (problems []string, used map[string]bool, err error) {
	queries, err := dashboardQueries(data)
	if err != nil {
		return nil, nil, err
	}
	if len(queries) == 0 {
		return []string{"the dashboard has no queries"}, nil, nil
	}
	used = map[string]bool{}
	for _, q := range queries {
		names, err := promqlNames(q.expr)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", q.where, err))
			continue
		}
		if len(names) == 0 {
			problems = append(problems, fmt.Sprintf("%s: %q selects no metric", q.where, q.expr))
		}
		for _, n := range names {
			used[n] = true
			if !exported[n] {
				problems = append(problems, fmt.Sprintf("%s: l2hub exports no metric %s", q.where, n))
			}
		}
	}
	return problems, used, nil
}

// exportedNames are the series names of a scrape's families that have
// samples: a summary's name, _sum and _count, a histogram's _bucket, _sum
// and _count, other types' name.
func exportedNames(fams map[string]*dto.MetricFamily) map[string]bool {
	out := map[string]bool{}
	for name, mf := range fams {
		if len(mf.Metric) == 0 {
			continue
		}
		switch mf.GetType() {
		case dto.MetricType_SUMMARY:
			out[name], out[name+"_sum"], out[name+"_count"] = true, true, true
		case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
			out[name+"_bucket"], out[name+"_sum"], out[name+"_count"] = true, true, true
		default:
			out[name] = true
		}
	}
	return out
}

// TestDashboardUsesOnlyExportedMetrics: every metric the dashboard queries
// exists on a running hub, and the dashboard covers what it promises
// (ports, links, drops, rules, partitions, flow control, VXLAN remotes and
// learning tables, the capture).
// A dashboard that names a metric l2hub does not export fails, as the
// mutations at the end show.
func TestDashboardUsesOnlyExportedMetrics(t *testing.T) {
	data, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	s := runServe(t, metricsConfig(t))
	trafficForMetrics(t, s)
	status, text := scrape(t, s.metrics, nil)
	if status != http.StatusOK {
		t.Fatalf("scrape: %d %s", status, text)
	}
	exported := exportedNames(parseMetrics(t, text))
	// A VXLAN port's remote VTEPs are another hub's: one with a VXLAN port
	// that has carried datagrams both ways.
	vx := runVXLANHub(t)
	vx.exchange(t)
	vxText, err := vx.ctl.Metrics(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	maps.Copy(exported, exportedNames(parseMetrics(t, []byte(vxText))))

	problems, used, err := dashboardProblems(data, exported)
	if err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", dashboardFile, p)
	}
	for _, want := range []string{
		"l2hub_port_rx_frames_total", "l2hub_port_tx_frames_total", "l2hub_link_frames_total", "l2hub_link_drops_total",
		"l2hub_port_drops_total", "l2hub_rule_actions_total", "l2hub_rule_matched_total", "l2hub_partition_active",
		"l2hub_port_paused", "l2hub_port_pauses_total", "l2hub_port_stalls_total", "l2hub_capture_dropped_frames_total",
		"l2hub_build_info", "l2hub_vxlan_remote_sent_datagrams_total", "l2hub_vxlan_remote_received_datagrams_total",
		"l2hub_vxlan_remote_last_heard_timestamp_seconds", "l2hub_vxlan_remote_quiet",
		"l2hub_vxlan_learned_macs", "l2hub_vxlan_learned_macs_limit", "l2hub_vxlan_learning_evictions_total",
		"l2hub_vxlan_mac_moves_total", "l2hub_port_attaches_total", "l2hub_port_mac_moves_total",
	} {
		if !used[want] {
			t.Errorf("%s does not show %s", dashboardFile, want)
		}
	}
	var unused []string
	for n := range exported {
		if strings.HasPrefix(n, "l2hub_") && !used[n] {
			unused = append(unused, n)
		}
	}
	slices.Sort(unused)
	t.Logf("l2hub metrics the dashboard does not show: %v", unused)

	// Mutations: a misspelt metric in a panel, and in a variable's query.
	for _, m := range []struct{ from, to string }{
		{"l2hub_link_drops_total", "l2hub_link_dropped_total"},
		{"label_values(l2hub_build_info,", "label_values(l2hub_build_information,"},
	} {
		if !bytes.Contains(data, []byte(m.from)) {
			t.Fatalf("mutation: the dashboard has no %q", m.from)
		}
		mutated := bytes.ReplaceAll(data, []byte(m.from), []byte(m.to))
		problems, _, err := dashboardProblems(mutated, exported)
		if err != nil || !slices.ContainsFunc(problems, func(p string) bool {
			return strings.Contains(p, strings.TrimPrefix(strings.TrimSuffix(m.to, ","), "label_values("))
		}) {
			t.Errorf("with %s for %s, the check found %q, %v; want the unknown metric reported", m.to, m.from, problems, err)
		}
	}
}

// TestDashboardKeepsHubsApart: names a user chooses (ports, rules,
// partitions) repeat across hubs, so a query that groups by one of them
// groups by instance too; otherwise two hubs' "loss" rules would be drawn
// as one line.
func TestDashboardKeepsHubsApart(t *testing.T) {
	qs := shippedDashboardQueries(t)
	by := regexp.MustCompile(`\bby\s*\(([^)]*)\)`)
	for _, q := range qs {
		for _, m := range by.FindAllStringSubmatch(q.expr, -1) {
			labels := strings.FieldsFunc(m[1], func(r rune) bool { return r == ',' || r == ' ' })
			named := slices.ContainsFunc(labels, func(l string) bool {
				return l == "port" || l == "rule" || l == "partition" || l == "from" || l == "to"
			})
			if named && !slices.Contains(labels, "instance") {
				t.Errorf("%s: %q groups by %v without instance", q.where, q.expr, labels)
			}
		}
	}
}

// TestDashboardLegendsNameTheHub: with several hubs chosen, a legend that
// names a port, link, rule or reason names the hub too, or two hubs' "a rx"
// look the same.
func TestDashboardLegendsNameTheHub(t *testing.T) {
	qs := shippedDashboardQueries(t)
	for _, q := range qs {
		if strings.Contains(q.legend, "{{") && !strings.Contains(q.legend, "{{instance}}") {
			t.Errorf("%s: legend %q does not name the hub ({{instance}})", q.where, q.legend)
		}
	}
}

// TestDashboardLinksIntoThePort: choosing a port shows the links into it
// as well as those out of it: every link query that selects from=~"$port"
// selects to=~"$port" too.
func TestDashboardLinksIntoThePort(t *testing.T) {
	qs := shippedDashboardQueries(t)
	links := 0
	for _, q := range qs {
		if !strings.Contains(q.expr, "l2hub_link_") {
			continue
		}
		links++
		from, to := strings.Count(q.expr, `from=~"$port"`), strings.Count(q.expr, `to=~"$port"`)
		if from == 0 || from != to {
			t.Errorf("%s: %q selects from=~\"$port\" %d times and to=~\"$port\" %d times, want both, as often", q.where, q.expr, from, to)
		}
	}
	if links == 0 {
		t.Error("no link query in the dashboard")
	}
}
