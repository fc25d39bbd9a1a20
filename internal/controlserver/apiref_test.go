package controlserver

import (
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestAPIReference requests every route docs/control-api.md lists and
// checks that the server has it: no "no such API path", no wrong method.
func TestAPIReference(t *testing.T) {
	doc, err := os.ReadFile("../../docs/control-api.md")
	if err != nil {
		t.Fatal(err)
	}
	routes := regexp.MustCompile("(?m)^\\| `(GET|POST) (/[^`]*)`").FindAllStringSubmatch(string(doc), -1)
	if len(routes) < 10 {
		t.Fatalf("found %d routes in docs/control-api.md; the table's format changed?", len(routes))
	}
	ts := startServer(t, "", func(c *Config) {
		c.Metrics = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte("{}"))
		})
	})
	for _, r := range routes {
		method, path := r[1], strings.ReplaceAll(r[2], "NAME", "web.socket")
		body := ""
		if method == http.MethodPost {
			body = "{}"
			if strings.HasSuffix(path, "/kill") {
				body = `{"signal": 15}`
			}
		}
		code, m := raw(t, ts.Path(), method, path, body)
		msg, _ := m["error"].(string)
		if code == http.StatusMethodNotAllowed || strings.Contains(msg, "no such API path") {
			t.Errorf("%s %s (documented): %d %s", method, path, code, msg)
		}
	}
}
