package sockctl_test

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sockd/sockd/tests/internal/e2e"
)

// The example hello.service runs hello-http from the directory of the
// sockd that starts it, so it works wherever `go install` put both, not
// only in ~/go/bin (issue 18): here both are copied into a directory of
// their own, with no HOME.
func TestExampleHelloServiceAnyGOPATH(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "elsewhere", "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"sockd", "hello-http"} {
		data, err := os.ReadFile(filepath.Join(binDir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(bin, name), data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	svc, err := os.ReadFile("../../examples/units/hello.service")
	if err != nil {
		t.Fatal(err)
	}
	port := e2e.FreePort(t)
	t.Setenv("HOME", "/nonexistent")
	s := e2e.Start(t, e2e.Options{Binary: filepath.Join(bin, "sockd")}, map[string]string{
		"hello.service": string(svc),
		"hello.socket":  fmt.Sprintf("[Socket]\nListenStream=127.0.0.1:%d\n", port),
	})
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
	if err != nil {
		t.Fatalf("GET: %v\nsockd log:\n%s", err, s.LogText())
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if !strings.HasPrefix(string(body), "hello from pid") {
		t.Errorf("GET answered %q; want hello-http's answer\nsockd log:\n%s", body, s.LogText())
	}
}
