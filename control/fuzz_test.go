package control_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"net/http/httptest"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"go.yaml.in/yaml/v3"

	"l2hub/control"
	"l2hub/filter"
	"l2hub/hub"
)

// serveOnce sends one request straight to a Server's handler.
func serveOnce(t *testing.T, target control.Target, method, path, ctype string, body []byte) (int, string) {
	t.Helper()
	req := httptest.NewRequest(method, "http://l2hub"+path, bytes.NewReader(body))
	req.Header.Set("Content-Type", ctype)
	rec := httptest.NewRecorder()
	(&control.Server{Target: target}).Handler().ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

// checkAnswer checks the shape of any answer: 200, or a 4xx with a JSON
// error; never a 500 for what a client sent.
func checkAnswer(t *testing.T, code int, body string) {
	t.Helper()
	if code != 200 && (code < 400 || code >= 500) {
		t.Fatalf("got status %d (%s), want 200 or a 4xx", code, body)
	}
	if code != 200 {
		var e control.ErrorResponse
		if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error == "" {
			t.Fatalf("got %d with body %q, want a JSON error", code, body)
		}
	}
}

var partitionName = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,64}$`)

// FuzzPartitionRequest: any body of POST /v1/partitions is answered 200 or
// 4xx; a partition is started only when the body is one JSON object with a
// valid name, and then exactly with the name and groups it holds.
func FuzzPartitionRequest(f *testing.F) {
	f.Add([]byte(`{"name":"p1","groups":[["a"],["b"]]}`))
	f.Add([]byte(`{"name":"split"}`))
	f.Add([]byte(`{"name":"","groups":[["a"],["b"]]}`))
	f.Add([]byte(`{"name":"x","groups":[["a"],["b"]]} {}`))
	f.Add([]byte(`{"name":"x","groups":[["a"],["b"]],"more":1}`))
	f.Add([]byte(`{"name":"\u0000","groups":null}`))
	f.Add([]byte(`[[[[[[[[[[`))
	f.Fuzz(func(t *testing.T, body []byte) {
		target := newFakeTarget()
		code, answer := serveOnce(t, target, "POST", "/v1/partitions", "application/json", body)
		checkAnswer(t, code, answer)
		if code != 200 {
			if len(target.partitions) != 0 {
				t.Fatalf("refused (%d) but started %v", code, target.partitions)
			}
			return
		}
		var req control.PartitionRequest
		dec := json.NewDecoder(bytes.NewReader(body))
		if err := dec.Decode(&req); err != nil {
			t.Fatalf("accepted a body the JSON decoder refuses: %v", err)
		}
		if !partitionName.MatchString(req.Name) {
			t.Fatalf("accepted the partition name %q", req.Name)
		}
		if got, ok := target.partitions[req.Name]; !ok || len(target.partitions) != 1 || !slices.EqualFunc(got, req.Groups, slices.Equal) {
			t.Fatalf("started %v, want %q with groups %v", target.partitions, req.Name, req.Groups)
		}
	})
}

// injectRecorder is a target that keeps every frame injected into port a.
type injectRecorder struct {
	*fakeTarget
	mu     sync.Mutex
	frames [][]byte
}

func (r *injectRecorder) Inject(_ context.Context, port string, frame []byte) error {
	if port != "a" {
		return hub.ErrNoPort
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.frames = append(r.frames, bytes.Clone(frame))
	return nil
}

// splitInjectStream is the obvious reading of an injection stream: 4-byte
// big-endian lengths, 0 a keepalive, each frame 14 to MaxInjectFrame bytes.
// It returns the frames before the first bad record and whether there was
// none.
func splitInjectStream(b []byte) (frames [][]byte, ok bool) {
	for len(b) > 0 {
		if len(b) < 4 {
			return frames, false
		}
		n := int(binary.BigEndian.Uint32(b))
		b = b[4:]
		switch {
		case n == 0:
			continue
		case n < hub.EthHeaderLen || n > control.MaxInjectFrame || n > len(b):
			return frames, false
		}
		frames = append(frames, b[:n])
		b = b[n:]
	}
	return frames, true
}

// FuzzInjectStream: the server hands the target exactly the frames the
// obvious reading of the stream finds before its first bad record, and
// answers 200 with their count only when there is none.
func FuzzInjectStream(f *testing.F) {
	frame := bytes.Repeat([]byte{0xab}, 60)
	var good []byte
	good = control.AppendInjectFrame(good, frame)
	good = control.AppendInjectKeepalive(good)
	good = control.AppendInjectFrame(good, frame[:14])
	f.Add(good)
	f.Add(good[:len(good)-3])
	f.Add(append(bytes.Clone(good), 0xff, 0xff, 0xff, 0xff))
	f.Add([]byte{0, 0, 0, 13, 1, 2, 3})
	f.Add([]byte{0, 0})
	f.Fuzz(func(t *testing.T, body []byte) {
		target := &injectRecorder{fakeTarget: newFakeTarget()}
		code, answer := serveOnce(t, target, "POST", "/v1/inject/a", "application/octet-stream", body)
		checkAnswer(t, code, answer)
		want, ok := splitInjectStream(body)
		if !slices.EqualFunc(target.frames, want, bytes.Equal) {
			t.Fatalf("the target got %d frames, want the %d before the first bad record", len(target.frames), len(want))
		}
		if ok != (code == 200) {
			t.Fatalf("got status %d (%s) for a stream that is well-formed: %v", code, answer, ok)
		}
		if ok {
			var res control.InjectResponse
			if err := json.Unmarshal([]byte(answer), &res); err != nil || res.Frames != len(want) {
				t.Fatalf("got answer %s, want %d frames", answer, len(want))
			}
		}
	})
}

// policyTarget replaces its policy with whatever the real policy parser
// accepts for ports a and b.
type policyTarget struct {
	*fakeTarget
	calls int
}

func (p *policyTarget) ReplacePolicy(_ context.Context, name string, src []byte) error {
	p.calls++
	if _, err := filter.Parse(src, name, []string{"a", "b"}); err != nil {
		return &control.UserError{Err: err}
	}
	p.policy = string(src)
	return nil
}

// definesNothing reports whether body is one YAML document, null or an
// empty mapping, as the YAML library reads it (false if it panics).
func definesNothing(body []byte) (nothing bool) {
	defer func() { recover() }()
	var doc any
	return yaml.Unmarshal(body, &doc) == nil && (doc == nil || reflect.DeepEqual(doc, map[string]any{}))
}

// FuzzPolicyUpload: any body of PUT /v1/policy is answered 200 or 4xx;
// an empty or comment-only body never reaches the target, a document that
// defines nothing ({}, null) is never taken, and a policy the parser
// refuses changes nothing.
func FuzzPolicyUpload(f *testing.F) {
	f.Add([]byte("seed: 1\nrules: []\n"))
	f.Add([]byte(""))
	f.Add([]byte("# nothing\n\n"))
	f.Add([]byte("rules:\n  - {name: loss, match: {link: a->b}, loss: 5%}\n"))
	f.Add([]byte("rules: [{name: x, loss: 150%}]"))
	f.Add([]byte("---\n---\n"))
	f.Add([]byte("{}"))
	f.Add([]byte("--- ~\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		target := &policyTarget{fakeTarget: newFakeTarget()}
		code, answer := serveOnce(t, target, "PUT", "/v1/policy?name=p.yaml", "application/yaml", body)
		checkAnswer(t, code, answer)
		empty := true
		for line := range strings.Lines(string(body)) {
			if l := strings.TrimSpace(line); l != "" && !strings.HasPrefix(l, "#") && l != "---" {
				empty = false
			}
		}
		nothing := definesNothing(body)
		switch {
		case empty && (target.calls != 0 || code == 200):
			t.Fatalf("an empty policy reached the target (%d calls) or was accepted (%d)", target.calls, code)
		case nothing && code == 200:
			t.Fatalf("a policy that defines nothing was accepted")
		case code == 200 && target.policy != string(body):
			t.Fatalf("accepted, but the policy in force is %q", target.policy)
		case code != 200 && target.policy != "good-1":
			t.Fatalf("refused (%d), but the policy in force changed to %q", code, target.policy)
		}
	})
}
