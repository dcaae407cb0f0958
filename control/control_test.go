package control_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"l2hub/control"
	"l2hub/control/controltest"
	"l2hub/filter"
	"l2hub/hub"
)

// fakeTarget keeps a policy text; texts containing "bad" are refused.
type fakeTarget struct {
	mu         sync.Mutex
	policy     string
	partitions map[string][][]string
	down       map[string]bool
	injected   chan []byte // frames given to Inject, for port "a"

	// When hold is set, Ports waits for a value from it; inPorts counts
	// the calls waiting, peak the most there ever were.
	hold          chan struct{}
	inPorts, peak atomic.Int32

	peerless bool              // Ports lists a port b too, with no VM attached
	notOpen  map[string]string // NotOpen's answer: ports serve --optional could not open
	noPolicy bool              // Rules returns no counters, as a hub without a policy does
}

// NotOpen implements control.PortOpener.
func (f *fakeTarget) NotOpen() map[string]string { return f.notOpen }

func (f *fakeTarget) Ports(context.Context) ([]hub.PortStatus, error) {
	if f.hold != nil {
		n := f.inPorts.Add(1)
		for p := f.peak.Load(); n > p && !f.peak.CompareAndSwap(p, n); p = f.peak.Load() {
		}
		<-f.hold
		f.inPorts.Add(-1)
	}
	ports := []hub.PortStatus{{Name: "a", Attached: true, Peer: "127.0.0.1:5000", Stats: hub.StatsSnapshot{RxFrames: 7, Drops: map[string]uint64{"policy": 2}}}}
	if f.peerless {
		ports = append(ports, hub.PortStatus{Name: "b"})
	}
	return ports, nil
}
func (f *fakeTarget) State(context.Context) (control.State, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var st control.State
	for _, port := range slices.Sorted(maps.Keys(f.down)) {
		st.Links = append(st.Links, control.LinkState{Port: port, Up: !f.down[port], Dropped: 4})
	}
	for _, name := range slices.Sorted(maps.Keys(f.partitions)) {
		st.Partitions = append(st.Partitions, control.PartitionState{Name: name, Groups: f.partitions[name], Active: true, Dropped: 5})
	}
	return st, nil
}
func (f *fakeTarget) Policy(context.Context) (*filter.Description, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return &filter.Description{Text: f.policy}, nil
}
func (f *fakeTarget) Rules(context.Context) (filter.Stats, error) {
	if f.noPolicy {
		return filter.Stats{}, nil
	}
	return filter.Stats{Rules: []filter.RuleStats{{Rule: "r1"}}}, nil
}
func (f *fakeTarget) ReplacePolicy(_ context.Context, name string, src []byte) error {
	if strings.Contains(string(src), "bad") {
		return &control.UserError{Err: fmt.Errorf("%s:1:1: bad policy", name)}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.policy = string(src)
	return nil
}
func (f *fakeTarget) StartPartition(_ context.Context, name string, groups [][]string) error {
	if len(groups) < 2 {
		return &control.UserError{Err: errors.New("a partition needs two groups")}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.partitions[name] = groups
	return nil
}
func (f *fakeTarget) HealPartition(_ context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.partitions[name]; !ok {
		return &control.UserError{Err: fmt.Errorf("no partition %q", name)}
	}
	delete(f.partitions, name)
	return nil
}
func (f *fakeTarget) SetLink(_ context.Context, port string, up bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down[port] = !up
	return nil
}

func (f *fakeTarget) Inject(_ context.Context, port string, frame []byte) error {
	if port != "a" {
		return fmt.Errorf("inject into %q: %w", port, hub.ErrNoPort)
	}
	f.injected <- bytes.Clone(frame)
	return nil
}

// serveFake serves a Server with token as serveUnix does.
func serveFake(t *testing.T, token string) (*fakeTarget, string) {
	t.Helper()
	return serveUnix(t, &control.Server{Token: token})
}

// serveUnix serves srv as startServer does, on controltest's unix socket,
// until the test ends; it returns the fake target and the socket's path.
func serveUnix(t *testing.T, srv *control.Server) (*fakeTarget, string) {
	t.Helper()
	target := withFakes(srv)
	return target, controltest.Serve(t, srv)
}

func newFakeTarget() *fakeTarget {
	return &fakeTarget{policy: "good-1", partitions: map[string][][]string{}, down: map[string]bool{}, injected: make(chan []byte, 16)}
}

// startServer serves srv on l with a fake target (srv.Target, if set, must
// be one) and a registry, until the test ends.
func startServer(t *testing.T, l net.Listener, srv *control.Server) *fakeTarget {
	t.Helper()
	target := withFakes(srv)
	serveUntilEnd(t, srv.Serve, l)
	return target
}

// withFakes gives srv a fake target (srv.Target, if set, must be one) and
// a registry of its counters and of rule loss-a's, and returns the target.
func withFakes(srv *control.Server) *fakeTarget {
	target, reg := fakeRegistry(srv.Target, filter.RuleStats{Rule: "loss-a", Matched: 5, Dropped: 3})
	srv.Target, srv.Registry = target, reg
	return target
}

// serveTCP serves srv as startServer does, on a loopback TCP port that
// Listen opened with srv.Token, until the test ends; it returns the
// listener.
func serveTCP(t *testing.T, srv *control.Server) net.Listener {
	t.Helper()
	l, err := control.Listen("tcp:127.0.0.1:0", srv.Token)
	if err != nil {
		t.Fatal(err)
	}
	startServer(t, l, srv)
	return l
}

// fakeRegistry returns target (a new fakeTarget if nil; else it must be
// one) and a registry of its ports' counters and of rules.
func fakeRegistry(target control.Target, rules ...filter.RuleStats) (*fakeTarget, *prometheus.Registry) {
	if target == nil {
		target = newFakeTarget()
	}
	ft := target.(*fakeTarget)
	reg := prometheus.NewRegistry()
	reg.MustRegister(control.NewCollector(ft.Ports, func() []filter.RuleStats { return rules }))
	return ft, reg
}

// serveUntilEnd runs serve (a Server's or a MetricsServer's Serve) on l
// until the test ends, and fails the test if it returns an error.
func serveUntilEnd(t *testing.T, serve func(context.Context, net.Listener) error, l net.Listener) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- serve(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
}

func TestControlOverUnixSocket(t *testing.T) {
	target, path := serveFake(t, "")
	c := control.NewClient(path, "")
	ctx := context.Background()

	ports, err := c.Ports(ctx)
	if err != nil || len(ports) != 1 || ports[0].Stats.RxFrames != 7 {
		t.Fatalf("Ports() = %+v, %v; want port a with 7 rx frames", ports, err)
	}

	if err := c.ReplacePolicy(ctx, "p.yaml", []byte("good-2")); err != nil {
		t.Fatalf("ReplacePolicy(good): %v", err)
	}
	err = c.ReplacePolicy(ctx, "p.yaml", []byte("bad"))
	if err == nil || !strings.Contains(err.Error(), "p.yaml:1:1: bad policy") {
		t.Fatalf("ReplacePolicy(bad) = %v, want the validation error", err)
	}
	if target.policy != "good-2" {
		t.Errorf("after a rejected policy, got %q in force, want the old good-2", target.policy)
	}

	if err := c.StartPartition(ctx, "p1", [][]string{{"a"}, {"b"}}); err != nil {
		t.Fatal(err)
	}
	if err := c.StartPartition(ctx, "p2", [][]string{{"a"}}); err == nil {
		t.Error("a one-group partition was accepted")
	}
	if err := c.HealPartition(ctx, "p1"); err != nil {
		t.Fatal(err)
	}
	if err := c.HealPartition(ctx, "p1"); err == nil {
		t.Error("healing a healed partition succeeded")
	}
	if err := c.SetLink(ctx, "a", false); err != nil || !target.down["a"] {
		t.Errorf("SetLink(a, down) = %v; down[a] = %v", err, target.down["a"])
	}

	m, err := c.Metrics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantMetrics(t, m,
		`l2hub_port_rx_frames_total{port="a"} 7`,
		`l2hub_port_drops_total{port="a",reason="policy"} 2`,
		`l2hub_port_attached{port="a"} 1`,
		`l2hub_rule_matched_total{rule="loss-a"} 5`,
		`l2hub_rule_actions_total{action="dropped",rule="loss-a"} 3`,
		`l2hub_rule_actions_total{action="delayed",rule="loss-a"} 0`,
	)
}

func TestControlToken(t *testing.T) {
	_, path := serveFake(t, "s3cret")
	if _, err := control.NewClient(path, "").Ports(context.Background()); err == nil || !strings.Contains(err.Error(), "token") {
		t.Errorf("request without token: got %v, want a token error", err)
	}
	if _, err := control.NewClient(path, "s3cret").Ports(context.Background()); err != nil {
		t.Errorf("request with token: %v", err)
	}
}

// TestListenNeedsATokenForTCP: any local user can reach a loopback port,
// so every TCP control address needs a token.
func TestListenNeedsATokenForTCP(t *testing.T) {
	for _, tt := range []struct {
		addr, token string
		ok          bool
	}{
		{"tcp:127.0.0.1:0", "", false},
		{"tcp:[::1]:0", "", false},
		{"tcp:localhost:0", "", false},
		{"tcp:0.0.0.0:0", "", false},
		{"tcp:192.0.2.1:0", "", false}, // refused before any bind is tried
		{"tcp:127.0.0.1:0", "s3cret-of-enough-length", true},
	} {
		l, err := control.Listen(tt.addr, tt.token)
		if (err == nil) != tt.ok || err != nil && !errors.Is(err, control.ErrNeedToken) {
			t.Errorf("Listen(%q, token=%q) error = %v, want ok=%v (or ErrNeedToken)", tt.addr, tt.token, err, tt.ok)
		}
		if l != nil {
			l.Close()
		}
	}
}

// TestListenRefusesRemoteTCP: the API is plain HTTP, so a TCP address off
// loopback would carry the token in clear: it is refused unless
// $L2HUB_CONTROL_ALLOW_REMOTE is 1.
func TestListenRefusesRemoteTCP(t *testing.T) {
	const token = "s3cret-remote-0123456789"
	for _, tt := range []struct {
		addr, allow string
		ok          bool
	}{
		{"tcp:0.0.0.0:0", "", false},
		{"tcp::0", "", false},
		{"tcp:[::]:0", "", false},
		{"tcp:192.0.2.1:0", "", false}, // refused before any bind is tried
		{"tcp:0.0.0.0:0", "yes", false},
		{"tcp:0.0.0.0:0", "1", true},
		{"tcp:127.0.0.1:0", "", true},
		{"tcp:127.0.0.2:0", "", true},
		{"tcp:[::1]:0", "", true},
		{"tcp:localhost:0", "", true},
	} {
		t.Setenv(control.AllowRemoteEnv, tt.allow)
		l, err := control.Listen(tt.addr, token)
		if tt.ok {
			if err != nil && !strings.Contains(err.Error(), "assign requested address") && !strings.Contains(err.Error(), "address family") {
				t.Errorf("Listen(%q) with %s=%q = %v, want it bound", tt.addr, control.AllowRemoteEnv, tt.allow, err)
			}
		} else if !errors.Is(err, control.ErrRemote) || !strings.Contains(err.Error(), "in clear") || !strings.Contains(err.Error(), control.AllowRemoteEnv) {
			t.Errorf("Listen(%q) with %s=%q = %v, want ErrRemote saying why and how to allow it", tt.addr, control.AllowRemoteEnv, tt.allow, err)
		}
		if l != nil {
			l.Close()
		}
	}
}

func TestListenRefusesLiveSocket(t *testing.T) {
	_, path := serveFake(t, "")
	if _, err := control.Listen(path, ""); !errors.Is(err, control.ErrInUse) {
		t.Errorf("Listen on a live socket: got %v, want a refusal", err)
	}
}

// TestListenLeavesAFileThatIsNotASocket: a control path that names a file
// that is not a socket (a policy given to --control by mistake) refuses
// the start and leaves the file as it was: only a stale socket is removed
// to bind the path again.
func TestListenLeavesAFileThatIsNotASocket(t *testing.T) {
	path := openSocketPath(t, "l2hub-notsock-")
	const content = "rules: []\n"
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := control.Listen(path, "")
	if err == nil {
		l.Close()
	}
	if err == nil || !strings.Contains(err.Error(), "exists and is not a socket") {
		t.Errorf("got Listen(%s) of a regular file = %v, want a refusal saying it is not a socket", path, err)
	}
	if got, err := os.ReadFile(path); err != nil || string(got) != content {
		t.Errorf("after Listen, the file reads %q, %v; want it untouched (%q)", got, err, content)
	}
}

func TestInject(t *testing.T) {
	frame := func(n int, fill byte) []byte { return bytes.Repeat([]byte{fill}, n) }
	stream := func(frames ...[]byte) []byte {
		var b []byte
		for _, f := range frames {
			b = control.AppendInjectFrame(b, f)
		}
		return b
	}
	for _, tc := range []struct {
		name   string
		port   string
		body   []byte
		frames int    // frames the target must have got
		errMsg string // "" for success
	}{
		{"three-frames", "a", stream(frame(60, 1), frame(1514, 2), frame(14, 3)), 3, ""},
		{"empty-stream", "a", nil, 0, ""},
		{"length-too-large", "a", append(stream(frame(60, 1), frame(60, 2)), 0xff, 0xff, 0xff, 0xff), 2, "frame 3: length 4294967295 is outside 14..69632"},
		{"runt", "a", stream(frame(60, 1), frame(13, 2)), 1, "frame 2: length 13 is outside"},
		{"cut-in-a-frame", "a", stream(frame(60, 1), frame(100, 2))[:64+4+40], 1, "frame 2: the stream ends 40 bytes into a 100-byte frame"},
		{"cut-in-a-prefix", "a", stream(frame(60, 1), frame(60, 2))[:64+2], 1, "ends inside a length prefix"},
		{"unknown-port", "zz", stream(frame(60, 1)), 0, "no such port"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target, path := serveFake(t, "")
			res, err := control.NewClient(path, "").Inject(context.Background(), tc.port, bytes.NewReader(tc.body))
			if tc.errMsg == "" && (err != nil || res.Frames != tc.frames) {
				t.Fatalf("Inject = %+v, %v; want %d frames", res, err, tc.frames)
			}
			if tc.errMsg != "" && (err == nil || !strings.Contains(err.Error(), tc.errMsg)) {
				t.Fatalf("Inject error = %v, want one containing %q", err, tc.errMsg)
			}
			if got := len(target.injected); got != tc.frames {
				t.Errorf("target got %d frames, want %d", got, tc.frames)
			}
		})
	}
}

// refusingTarget takes frames into port a until it has taken ok of them,
// then refuses each with err; the other ports it refuses as hub.Inject
// does, naming the port.
type refusingTarget struct {
	*fakeTarget
	ok  int
	err error
}

func (r *refusingTarget) Inject(ctx context.Context, port string, frame []byte) error {
	if port == "a" && r.ok == 0 {
		return r.err
	}
	r.ok--
	return r.fakeTarget.Inject(ctx, port, frame)
}

// TestInjectErrorsSayEachThingOnce: an injection the target refuses is
// answered naming the port and the frame once each, though the hub's own
// error names the port too.
func TestInjectErrorsSayEachThingOnce(t *testing.T) {
	frame := control.AppendInjectFrame(nil, make([]byte, 60))
	stream := bytes.Repeat(frame, 4)
	for _, tc := range []struct {
		name, port string
		err        error
		status     int
		code, want string
	}{
		{"unknown-port", "nope", nil, 400, control.CodeUnknownPort, `inject into "nope": no such port (ports: a)`}, // before any frame
		{"port-gone", "a", hub.ErrNoPort, 400, control.CodeUnknownPort, `inject into "a": frame 3: no such port (2 frames sent before it)`},
		{"too-large", "a", fmt.Errorf("inject into %q: 60-byte frame: %w", "a", hub.ErrFrameTooLarge), 400, control.CodeInvalid,
			`inject into "a": frame 3: 60 bytes: frame too large (2 frames sent before it)`},
		{"stopped", "a", hub.ErrStopped, 503, control.CodeStopped, `inject into "a": frame 3: hub stopped (2 frames sent before it)`},
		{"stopped-named", "a", fmt.Errorf("inject into %q: %w", "a", hub.ErrStopped), 503, control.CodeStopped,
			`inject into "a": frame 3: hub stopped (2 frames sent before it)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := controltest.Client(t, &refusingTarget{fakeTarget: newFakeTarget(), ok: 2, err: tc.err}).Inject(context.Background(), tc.port, bytes.NewReader(stream))
			var ce *control.Error
			if !errors.As(err, &ce) || ce.Status != tc.status || ce.Code != tc.code || ce.Message != tc.want {
				t.Errorf("got %v (%#v), want %d %s %q", err, err, tc.status, tc.code, tc.want)
			}
		})
	}
}

// TestInjectRefusesAnUnknownPortAtOnce: an injection into a port the hub
// does not have is refused before its stream is read, so that a client
// pacing frames (or keepalives) hears of its typo at once, not when its
// first frame is due.
func TestInjectRefusesAnUnknownPortAtOnce(t *testing.T) {
	target, path := serveUnix(t, &control.Server{IdleTimeout: time.Hour}) // a stream may wait long for its first frame
	pr, pw := io.Pipe()
	defer pw.Close()
	go pw.Write(control.AppendInjectKeepalive(nil)) // the stream has begun; no frame is due yet
	answer := make(chan error, 1)
	go func() {
		_, err := control.NewClient(path, "").Inject(context.Background(), "nope", pr)
		answer <- err
	}()
	var err error
	select {
	case err = <-answer:
	case <-time.After(hangGuard):
		pw.CloseWithError(errors.New("hang guard")) // ends the stream, and the call
		<-answer
		t.Fatal("Inject into an unknown port got no answer while its stream was open")
	}
	if !errors.Is(err, hub.ErrNoPort) || !strings.Contains(err.Error(), "(ports: a)") {
		t.Errorf("Inject into an unknown port, its stream open = %v, want ErrNoPort, naming the ports", err)
	}
	if n := len(target.injected); n != 0 {
		t.Errorf("the target got %d frames, want none", n)
	}
}

// TestInjectStreams checks that frames reach the target as they are
// written, not when the request ends: that is what lets a client pace them.
func TestInjectStreams(t *testing.T) {
	target, path := serveFake(t, "")
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		_, err := control.NewClient(path, "").Inject(context.Background(), "a", pr)
		done <- err
	}()
	for i := range 3 {
		want := bytes.Repeat([]byte{byte(i)}, 60)
		if _, err := pw.Write(control.AppendInjectFrame(nil, want)); err != nil {
			t.Fatal(err)
		}
		select {
		case got := <-target.injected:
			if !bytes.Equal(got, want) {
				t.Fatalf("frame %d: got % x, want % x", i+1, got, want)
			}
		case <-time.After(hangGuard):
			t.Fatalf("frame %d did not reach the target while the request was open", i+1)
		}
	}
	pw.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestInjectStreamSendSaysWhy: once the caller's context ends, send fails
// with the context's cause, not with the pipe the transport closed first
// ("read/write on closed pipe").
func TestInjectStreamSendSaysWhy(t *testing.T) {
	// The target takes every frame until the server has stopped: its
	// Inject blocks once its channel is full.
	stopTaking, taken := make(chan struct{}), make(chan struct{})
	t.Cleanup(func() { close(stopTaking); <-taken }) // after the server's cleanup
	target, path := serveFake(t, "")
	first := make(chan struct{})
	var once sync.Once
	go func() {
		defer close(taken)
		for {
			select {
			case <-target.injected:
				once.Do(func() { close(first) })
			case <-stopTaking:
				return
			}
		}
	}()
	stop := errors.New("the scenario is over")
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	var sendErr error
	_, err := control.NewClient(path, "").InjectStream(ctx, "a", func(send func([]byte) error) {
		frame := bytes.Repeat([]byte{1}, 60)
		if err := send(frame); err != nil {
			t.Errorf("send before the cancel: %v", err)
			return
		}
		select {
		case <-first:
		case <-time.After(hangGuard):
			t.Error("the frame did not reach the target")
			return
		}
		cancel(stop)
		for sendErr == nil { // a frame the transport still took; the request ends at once
			sendErr = send(frame)
		}
	})
	if !errors.Is(sendErr, stop) {
		t.Errorf("send after the cancel = %v, want the context's cause (%v)", sendErr, stop)
	}
	if err == nil {
		t.Error("InjectStream after the cancel succeeded")
	}
}

// TestPortsShowLinkAndPartitions checks that GET /v1/ports carries each
// port's link state and the active partitions cutting it off, beside its
// counters, in one flat JSON object per port.
func TestPortsShowLinkAndPartitions(t *testing.T) {
	_, path := serveFake(t, "")
	c := control.NewClient(path, "")
	ctx := context.Background()
	check := func(when, link string, parts []string) {
		t.Helper()
		ports, err := c.Ports(ctx)
		if err != nil || len(ports) != 1 {
			t.Fatalf("%s: Ports() = %+v, %v; want port a", when, ports, err)
		}
		p := ports[0]
		if p.Name != "a" || p.Stats.RxFrames != 7 || p.Link != link || !slices.Equal(p.Partitions, parts) {
			t.Errorf("%s: got port %s rx=%d link=%q partitions=%q, want a rx=7 link=%q partitions=%q",
				when, p.Name, p.Stats.RxFrames, p.Link, p.Partitions, link, parts)
		}
	}
	check("at start", "up", []string{})
	if err := c.SetLink(ctx, "a", false); err != nil {
		t.Fatal(err)
	}
	if err := c.StartPartition(ctx, "p1", [][]string{{"a"}, {"b"}}); err != nil {
		t.Fatal(err)
	}
	if err := c.StartPartition(ctx, "p2", [][]string{{"b"}, {"c"}}); err != nil {
		t.Fatal(err)
	}
	check("after link down and partitions p1 (a|b), p2 (b|c)", "down", []string{"p1"})
	if err := c.SetLink(ctx, "a", true); err != nil {
		t.Fatal(err)
	}
	if err := c.HealPartition(ctx, "p1"); err != nil {
		t.Fatal(err)
	}
	check("after link up and healing p1", "up", []string{})

	b, err := json.Marshal(control.PortStatus{PortStatus: hub.PortStatus{Name: "a"}, Link: "down", Partitions: []string{"p1"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"name":"a"`, `"stats":{`, `"link":"down"`, `"partitions":["p1"]`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("got JSON %s, want it to contain %s", b, want)
		}
	}
}

// TestPortsLinkAgreesWithTable: a port without a VM is no-peer in GET
// /v1/ports as in the table ctl ports prints, down while its link is held
// down, and counts as up for l2hub_port_link_up either way.
func TestPortsLinkAgreesWithTable(t *testing.T) {
	target := newFakeTarget()
	target.peerless = true
	_, path := serveUnix(t, &control.Server{Target: target})
	c := control.NewClient(path, "")
	ctx := context.Background()
	for _, step := range []struct {
		name   string
		bUp    bool
		want   map[string]string // port: link
		metric string
	}{
		{"b-has-no-vm", true, map[string]string{"a": "up", "b": "no-peer"}, `l2hub_port_link_up{port="b"} 1`},
		{"b-down", false, map[string]string{"a": "up", "b": "down"}, `l2hub_port_link_up{port="b"} 0`},
		{"b-up-again", true, map[string]string{"a": "up", "b": "no-peer"}, `l2hub_port_link_up{port="b"} 1`},
	} {
		t.Run(step.name, func(t *testing.T) {
			if err := c.SetLink(ctx, "b", step.bUp); err != nil {
				t.Fatal(err)
			}
			status, raw := rawRequest(t, path, "GET", "/v1/ports", nil, "")
			var ports []struct{ Name, Link string }
			if err := json.Unmarshal([]byte(raw), &ports); status != 200 || err != nil {
				t.Fatalf("GET /v1/ports: %d %v\n%s", status, err, raw)
			}
			api := map[string]string{}
			for _, p := range ports {
				api[p.Name] = p.Link
			}
			if !maps.Equal(api, step.want) {
				t.Errorf("got GET /v1/ports links %v, want %v", api, step.want)
			}
			typed, err := c.Ports(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var table bytes.Buffer
			if err := control.WritePorts(&table, typed); err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSpace(table.String()), "\n")
			shown := map[string]string{}
			for _, l := range lines[1:] {
				f := strings.Fields(l)
				shown[f[0]] = f[2] // PORT PEER LINK ...
			}
			if !maps.Equal(shown, step.want) {
				t.Errorf("got ctl ports LINK %v, want %v\n%s", shown, step.want, table.String())
			}
			for _, p := range typed {
				if got, want := p.Up(), p.Link != "down"; got != want {
					t.Errorf("port %s link %s: got Up() = %v, want %v", p.Name, p.Link, got, want)
				}
			}
			m, err := c.Metrics(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(m, step.metric+"\n") {
				t.Errorf("metrics lack %q", step.metric)
			}
		})
	}
}

// TestPortsLinkNotOpen: a port whose transport could not be opened (serve
// --optional) is not-open, not no-peer, in GET /v1/ports and in ctl
// ports's table, which says why under it; down while its link is held
// down, the reason still given; and up for l2hub_port_link_up, which is
// the policy's link, as no-peer is.
func TestPortsLinkNotOpen(t *testing.T) {
	const why = `port "b": listen tcp 127.0.0.1:7061: bind: address already in use`
	target := newFakeTarget()
	target.peerless = true
	target.notOpen = map[string]string{"b": why}
	_, path := serveUnix(t, &control.Server{Target: target})
	c := control.NewClient(path, "")
	ctx := context.Background()
	for _, step := range []struct {
		name   string
		bUp    bool
		link   string
		metric string
	}{
		{"b-not-open", true, "not-open", `l2hub_port_link_up{port="b"} 1`},
		{"b-down", false, "down", `l2hub_port_link_up{port="b"} 0`},
		{"b-up-again", true, "not-open", `l2hub_port_link_up{port="b"} 1`},
	} {
		t.Run(step.name, func(t *testing.T) {
			if err := c.SetLink(ctx, "b", step.bUp); err != nil {
				t.Fatal(err)
			}
			status, raw := rawRequest(t, path, "GET", "/v1/ports", nil, "")
			var ports []struct {
				Name, Link string
				NotOpen    string `json:"not_open"`
			}
			if err := json.Unmarshal([]byte(raw), &ports); status != 200 || err != nil || len(ports) != 2 {
				t.Fatalf("GET /v1/ports: %d %v\n%s", status, err, raw)
			}
			if a, b := ports[0], ports[1]; a.Link != "up" || b.Link != step.link || b.NotOpen != why || strings.Count(raw, `"not_open"`) != 1 {
				t.Errorf("GET /v1/ports: want a up, and b %s with not_open %q (a without)\n%s", step.link, why, raw)
			}
			typed, err := c.Ports(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var table bytes.Buffer
			if err := control.WritePorts(&table, typed); err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(table.String(), "\n")
			if len(lines) < 4 || strings.Fields(lines[2])[0] != "b" || strings.Fields(lines[2])[2] != step.link || lines[3] != "  not open: "+why {
				t.Errorf("ctl ports: want port b's LINK %s and under it %q:\n%s", step.link, "  not open: "+why, table.String())
			}
			m, err := c.Metrics(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(m, step.metric+"\n") {
				t.Errorf("metrics lack %q", step.metric)
			}
		})
	}
}

// TestRulesListsAreNeverNull: GET /v1/rules gives every list as [] when
// it holds nothing, with no policy at all or a policy without partitions.
func TestRulesListsAreNeverNull(t *testing.T) {
	for _, tc := range []struct {
		name     string
		noPolicy bool
		want     map[string]int // list: length
	}{
		{"no-policy", true, map[string]int{"rules": 0, "partitions": 0, "ports": 0}},
		{"rules-only", false, map[string]int{"rules": 1, "partitions": 0, "ports": 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target := newFakeTarget()
			target.noPolicy = tc.noPolicy
			_, path := serveUnix(t, &control.Server{Target: target})
			raw, err := control.NewClient(path, "").Rules(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			var got map[string]json.RawMessage
			if err := json.Unmarshal(raw, &got); err != nil {
				t.Fatalf("%v\n%s", err, raw)
			}
			for list, n := range tc.want {
				var items []json.RawMessage
				if err := json.Unmarshal(got[list], &items); err != nil || items == nil || len(items) != n {
					t.Errorf("got %q: %s (%v), want a list of %d", list, got[list], err, n)
				}
			}
		})
	}
}

// TestMetricsExportLinkAndPartitionState scrapes /metrics for the link and
// partition gauges and their drop counters.
func TestMetricsExportLinkAndPartitionState(t *testing.T) {
	_, path := serveFake(t, "")
	c := control.NewClient(path, "")
	ctx := context.Background()
	scrape := func(when string, want ...string) {
		t.Helper()
		m, err := c.Metrics(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range want {
			if !strings.Contains(m, w+"\n") {
				t.Errorf("%s: metrics lack %q:\n%s", when, w, m)
			}
		}
	}
	scrape("at start", `l2hub_port_link_up{port="a"} 1`, `l2hub_port_link_down_drops_total{port="a"} 0`)
	if err := c.SetLink(ctx, "a", false); err != nil {
		t.Fatal(err)
	}
	if err := c.StartPartition(ctx, "p1", [][]string{{"a"}, {"b"}}); err != nil {
		t.Fatal(err)
	}
	scrape("after link a down and partition p1",
		`l2hub_port_link_up{port="a"} 0`, `l2hub_port_link_down_drops_total{port="a"} 4`,
		`l2hub_partition_active{partition="p1"} 1`, `l2hub_partition_drops_total{partition="p1"} 5`,
		`l2hub_port_rx_frames_total{port="a"} 7`)
}

// TestJSONKeepsArrows: the API's JSON writes "a->b" as it is, not as
// "a-\u003eb" (which ctl policy then printed), since no page embeds it.
func TestJSONKeepsArrows(t *testing.T) {
	f, sock := serveFake(t, "")
	f.mu.Lock()
	f.policy = "rules: [{match: {link: a->b}, loss: 5%}]"
	f.mu.Unlock()
	raw, err := control.NewClient(sock, "").Policy(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(raw, []byte("a->b")) || bytes.Contains(raw, []byte(`\u003e`)) {
		t.Errorf("got %s, want a->b written as it is", raw)
	}
}
