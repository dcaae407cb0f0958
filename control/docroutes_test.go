package control_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"

	"l2hub/control"
)

// TestDocumentedRoutesExist: every control route the README and the
// package's doc name (/v1/...) is one the API serves, with some method: a
// route that does not exist is answered 404 "no such route".
func TestDocumentedRoutesExist(t *testing.T) {
	route := regexp.MustCompile(`/v1/[A-Za-z0-9_{}|/-]*`)
	param := regexp.MustCompile(`\{[^}]*\}`)
	h := (&control.Server{Target: newFakeTarget()}).Handler()
	seen := 0
	for _, file := range []string{"../README.md", "doc.go"} {
		text, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, doc := range route.FindAllString(string(text), -1) {
			seen++
			path := strings.TrimSuffix(param.ReplaceAllString(doc, "a"), "/")
			req := httptest.NewRequest(http.MethodGet, "http://l2hub"+path, nil)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code == http.StatusNotFound && strings.Contains(w.Body.String(), "no such route") {
				t.Errorf("%s names %s: GET %s = %d %s, want a route that exists", file, doc, path, w.Code, strings.TrimSpace(w.Body.String()))
			}
		}
	}
	if seen == 0 {
		t.Fatal("no /v1/ route found in the README or doc.go")
	}
}
