// routes.go holds the control API's routes and how they answer: Handler,
// which maps each method and path to the Target call it makes (the
// injection route's stream is inject.go's), the 404 and 405 of a route
// that is not there, and the JSON answers, ErrorResponse and its codes
// included. The checks a request passes on its way in are guard.go's; its
// body is read by body.go.

package control

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"l2hub/filter"
	"l2hub/hub"
	"l2hub/internal/yamlfile"
)

// ErrorResponse is the body of every non-2xx answer the API gives (an
// unknown route and a wrong method included; not net/http's own answer to
// bytes that are not an HTTP request), and the metrics endpoint too: the
// hub's words, and for the refusals a program may want to tell apart, a
// code (Code...). Every 400 has one (CodeInvalid unless a more specific
// code applies), and so does every 401, 403, 404, 405, 413 and 415.
type ErrorResponse struct {
	Error string `json:"error"`
	Code  string `json:"code,omitempty"`
	// Frames, on an injection the hub ended at a frame it refused, is how
	// many frames it took before that one.
	Frames *int `json:"frames,omitempty"`
	// Dropped, on an injection whose frames the port dropped for flow
	// control (CodeDropped), counts the frames it dropped by reason, as
	// InjectResponse.Dropped does on a success.
	Dropped map[string]int `json:"dropped,omitempty"`
}

// The codes of ErrorResponse, and the errors they stand for (Error.Is).
const (
	CodeInvalid          = "invalid"            // a policy, rule or request that does not validate (filter.ErrInvalid); any other 400
	CodeUnknownRule      = "unknown-rule"       // filter.ErrUnknownRule
	CodeRuleExists       = "rule-exists"        // filter.ErrRuleExists
	CodeUnknownPartition = "unknown-partition"  // filter.ErrUnknownPartition
	CodeUnknownPort      = "unknown-port"       // hub.ErrNoPort
	CodeStopped          = "stopped"            // hub.ErrStopped: the hub is shutting down
	CodeBusy             = "busy"               // ErrBusy (503): turned away unread, to make room or as one injection stream too many; send it again
	CodeDropped          = "dropped"            // ErrInjectDropped (409): an injection's frames dropped for flow control
	CodeNotFound         = "not-found"          // 404: no such route
	CodeMethodNotAllowed = "method-not-allowed" // 405: the route takes other methods (the Allow header lists them)
	CodeUnauthorized     = "unauthorized"       // 401: a missing or wrong bearer token
	CodeForbidden        = "forbidden"          // 403: a request only a web page sends (an Origin, a rebound Host)
	CodeUnsupportedType  = "unsupported-type"   // 415: a Content-Type the route does not take, or one a web page may send
	CodeTooLarge         = "too-large"          // ErrTooLarge (413): a body over the route's bound
)

// codes maps each code to its error, in the order errorCode tries them.
var codes = []struct {
	code string
	err  error
}{
	{CodeUnknownRule, filter.ErrUnknownRule},
	{CodeRuleExists, filter.ErrRuleExists},
	{CodeUnknownPartition, filter.ErrUnknownPartition},
	{CodeUnknownPort, hub.ErrNoPort},
	{CodeStopped, hub.ErrStopped},
	{CodeBusy, ErrBusy},
	{CodeDropped, ErrInjectDropped},
	{CodeTooLarge, ErrTooLarge},
	{CodeInvalid, filter.ErrInvalid},
}

func errorCode(err error) string {
	for _, c := range codes {
		if errors.Is(err, c.err) {
			return c.code
		}
	}
	return ""
}

// RuleResponse is the answer to the rule edits: what was done, and the rule
// as the policy now describes it (removed: as it was, with its last
// counters).
type RuleResponse struct {
	Status string                 `json:"status"` // added, updated or removed
	Rule   filter.RuleDescription `json:"rule"`
}

// errNoRuleEditor answers the rule routes of a target that cannot edit rules.
var errNoRuleEditor = errors.New("this hub cannot edit rules one at a time")

// Handler returns the API's routes.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/ports", s.json(func(r *http.Request) (any, error) { return s.ports(r.Context()) }))
	mux.HandleFunc("GET /v1/policy", s.json(func(r *http.Request) (any, error) { return s.Target.Policy(r.Context()) }))
	mux.HandleFunc("GET /v1/rules", s.json(func(r *http.Request) (any, error) { return s.rules(r.Context()) }))
	mux.HandleFunc("PUT /v1/policy", s.json(func(r *http.Request) (any, error) {
		if err := needType(r, "application/yaml", "application/json"); err != nil {
			return nil, err
		}
		name := r.URL.Query().Get("name")
		if err := CheckPolicyName(name); err != nil {
			return nil, &UserError{err}
		}
		src, err := ReadPolicy(r.Body, name)
		if err != nil {
			return nil, err
		}
		if !changeSlot(r) {
			return nil, errStopping
		}
		if err := s.Target.ReplacePolicy(r.Context(), cmp.Or(name, "policy"), src); err != nil {
			return nil, err
		}
		return map[string]string{"status": "replaced"}, nil
	}))
	mux.HandleFunc("POST /v1/partitions", s.json(func(r *http.Request) (any, error) {
		if err := needType(r, "application/json"); err != nil {
			return nil, err
		}
		req, err := DecodePartition(r.Body)
		if err != nil {
			return nil, err
		}
		if !changeSlot(r) {
			return nil, errStopping
		}
		if err := s.Target.StartPartition(r.Context(), req.Name, req.Groups); err != nil {
			return nil, err
		}
		return map[string]string{"status": "partitioned", "name": req.Name}, nil
	}))
	mux.HandleFunc("DELETE /v1/partitions/{name}", s.json(func(r *http.Request) (any, error) {
		if err := needType(r, "", "application/json"); err != nil {
			return nil, err
		}
		name := r.PathValue("name")
		if !changeSlot(r) {
			return nil, errStopping
		}
		if err := s.Target.HealPartition(r.Context(), name); err != nil {
			return nil, err
		}
		return map[string]string{"status": "healed", "name": name}, nil
	}))
	mux.HandleFunc("POST /v1/links/{port}/{state}", s.json(func(r *http.Request) (any, error) {
		if err := needType(r, "", "application/json"); err != nil {
			return nil, err
		}
		port, state := r.PathValue("port"), r.PathValue("state")
		if state != "up" && state != "down" {
			return nil, &UserError{fmt.Errorf("link state %s: want up or down", yamlfile.Quote(state))}
		}
		if !changeSlot(r) {
			return nil, errStopping
		}
		if err := s.Target.SetLink(r.Context(), port, state == "up"); err != nil {
			return nil, err
		}
		return map[string]string{"status": "link " + state, "port": port}, nil
	}))
	rule := func(status string, edit func(ed RuleEditor, r *http.Request, name string, src []byte) (filter.RuleDescription, error)) http.HandlerFunc {
		return s.json(func(r *http.Request) (any, error) {
			ed, ok := s.Target.(RuleEditor)
			if !ok {
				return nil, errNoRuleEditor
			}
			name := r.PathValue("name")
			var src []byte
			if status == "removed" {
				if err := needType(r, "", "application/json"); err != nil {
					return nil, err
				}
			} else {
				if err := needType(r, "application/yaml", "application/json"); err != nil {
					return nil, err
				}
				var err error
				if src, err = ReadRule(r.Body, name); err != nil {
					return nil, err
				}
			}
			if !changeSlot(r) {
				return nil, errStopping
			}
			desc, err := edit(ed, r, name, src)
			if err != nil {
				return nil, err
			}
			return RuleResponse{Status: status, Rule: desc}, nil
		})
	}
	mux.HandleFunc("POST /v1/rules/{name}", rule("added", func(ed RuleEditor, r *http.Request, name string, src []byte) (filter.RuleDescription, error) {
		return ed.AddRule(r.Context(), name, src, r.URL.Query().Get("before"))
	}))
	mux.HandleFunc("PUT /v1/rules/{name}", rule("updated", func(ed RuleEditor, r *http.Request, name string, src []byte) (filter.RuleDescription, error) {
		return ed.UpdateRule(r.Context(), name, src)
	}))
	mux.HandleFunc("DELETE /v1/rules/{name}", rule("removed", func(ed RuleEditor, r *http.Request, name string, _ []byte) (filter.RuleDescription, error) {
		return ed.RemoveRule(r.Context(), name)
	}))
	mux.HandleFunc("POST /v1/inject/{port}", func(w http.ResponseWriter, r *http.Request) {
		// A stream lasts as long as its capture: no overall deadline, but
		// one per record (the client sends keepalives while it waits).
		if n := s.injecting.Add(1); n > int64(s.maxInjections()) {
			s.injecting.Add(-1)
			s.logRefused("request", "method", r.Method, "path", r.URL.Path, "err", "injection streams at their limit")
			refuseConn(w) // the stream is not read
			writeJSON(w, http.StatusServiceUnavailable, ErrorResponse{Code: CodeBusy,
				Error: fmt.Sprintf("%s: %d injection streams are running, the most it takes at once; "+
					"the stream was not read: send it again once one ends", ErrBusy, n-1), Frames: new(int)})
			return
		}
		defer s.injecting.Add(-1)
		setAsideSlot(r) // its place is one of the injections', not the short requests
		rc := http.NewResponseController(w)
		rc.SetWriteDeadline(time.Time{})
		s.json(func(r *http.Request) (any, error) {
			if err := needType(r, "application/octet-stream"); err != nil {
				return nil, err
			}
			if err := s.hasPort(r.Context(), r.PathValue("port")); err != nil {
				return nil, err
			}
			if !changeSlot(r) {
				return nil, errStopping
			}
			// As the server stops, the record being read is the last:
			// the stream ends at once, answered with the frames it sent,
			// rather than hold the stop until the client sends again.
			stop := stopContext(r)
			var mu sync.Mutex // orders idle's deadline and the stop's
			idle := func() {
				mu.Lock()
				defer mu.Unlock()
				if stop.Err() == nil {
					rc.SetReadDeadline(time.Now().Add(s.idleTimeout()))
				}
			}
			defer context.AfterFunc(stop, func() {
				mu.Lock()
				defer mu.Unlock()
				rc.SetReadDeadline(time.Now())
			})()
			res, err := s.inject(r.Context(), stop, r.PathValue("port"), r.Body, idle)
			if err != nil {
				// The stream was not read to its end: a client still
				// sending (one stopped at the server's stop) must read
				// the answer, with the frames it took, before a reset.
				lingerSlot(r)
			}
			// The answer is small and the socket has written nothing
			// since the headers: the deadline bounds a client that does
			// not read, not the write, so it is never shorter than a
			// second a loaded machine may take to schedule it.
			rc.SetWriteDeadline(time.Now().Add(max(s.bodyTimeout(), time.Second)))
			return res, err
		})(w, r)
	})
	if s.Registry != nil {
		mux.Handle("GET /metrics", metricsHandler(s.Registry, s.Target))
	}
	return s.guard(s.auth(routes(mux)))
}

// routes answers a request mux has no route for as every other refusal is
// answered, with an ErrorResponse: 404 for an unknown path, 405 (with
// Allow) for a method the path does not take.
func routes(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		var allow []string
		for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodPost, http.MethodDelete} {
			probe := r.Clone(r.Context())
			probe.Method = m
			if _, pattern := mux.Handler(probe); pattern != "" {
				allow = append(allow, m)
			}
		}
		if allow == nil {
			writeJSON(w, http.StatusNotFound, ErrorResponse{Code: CodeNotFound,
				Error: fmt.Sprintf("%s %s: no such route (see go doc l2hub/control)", r.Method, yamlfile.Quote(r.URL.Path))})
			return
		}
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeJSON(w, http.StatusMethodNotAllowed, ErrorResponse{Code: CodeMethodNotAllowed,
			Error: fmt.Sprintf("method %s refused: %s takes %s", r.Method, yamlfile.Quote(r.URL.Path), strings.Join(allow, ", "))})
	})
}

func (s *Server) json(fn func(r *http.Request) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v, err := fn(r)
		if err != nil {
			status, code := http.StatusInternalServerError, errorCode(err)
			var ue *UserError
			var te *typeError
			if errors.As(err, &te) {
				status, code = http.StatusUnsupportedMediaType, CodeUnsupportedType
			} else if errors.Is(err, ErrTooLarge) {
				status = http.StatusRequestEntityTooLarge
			} else if errors.As(err, &ue) {
				status = http.StatusBadRequest
			} else if errors.Is(err, hub.ErrStopped) {
				status = http.StatusServiceUnavailable
			} else if errors.Is(err, ErrInjectDropped) {
				status = http.StatusConflict
			} else if err == errNoRuleEditor {
				status = http.StatusNotImplemented
			}
			if s.Logger != nil && status == http.StatusInternalServerError {
				s.Logger.Warn("control request failed", "method", r.Method, "path", r.URL.Path, "err", err)
			}
			if code == "" && status == http.StatusBadRequest {
				code = CodeInvalid // every refusal of a request as invalid says so
			}
			answer := ErrorResponse{Error: err.Error(), Code: code}
			if ie, ok := errors.AsType[*injectError](err); ok {
				answer.Frames = &ie.took
			}
			if de, ok := errors.AsType[*dropError](err); ok {
				answer.Dropped = de.dropped
			}
			if s.beforeError != nil {
				s.beforeError()
			}
			// A body that stopped coming fails at ReadTimeout, which leaves
			// the answer only about BodyTimeout of WriteTimeout. The answer
			// is small: the deadline bounds a client that does not read, so
			// it is never shorter than a second a loaded machine may take
			// to schedule the write (as the inject route's).
			http.NewResponseController(w).SetWriteDeadline(time.Now().Add(max(s.bodyTimeout(), time.Second)))
			writeJSON(w, status, answer)
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
	enc.SetEscapeHTML(false) // "a->b", not "a-\u003eb": JSON is never put in a page unescaped
	enc.Encode(v)
}
