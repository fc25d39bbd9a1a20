package control

import "testing"

func TestCanonicalName(t *testing.T) {
	for in, want := range map[string]string{
		"web": "web.socket", "web.socket": "web.socket", "web.service": "web.service",
		"web@.service": "web@.service", `web@1-127.0.0.1:80-127.0.0.1:4711.service`: `web@1-127.0.0.1:80-127.0.0.1:4711.service`,
		`a\x2db.socket`: `a\x2db.socket`,
		"":              "", "web.target": "", "a/b.service": "", "@x.service": "", "a@b@c.service": "", "web@x": "", "a b": "",
	} {
		got, err := CanonicalName(in)
		if (err != nil) != (want == "") || got != want {
			t.Errorf("CanonicalName(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestStates(t *testing.T) {
	for _, tc := range [][5]string{
		{"socket", "listening", "", "active", "listening"},
		{"socket", "running", "success", "active", "running"},
		{"socket", "auto-restart", "exit-code", "active", "running"},
		{"socket", "failed", "trigger-limit-hit", "failed", "failed"},
		{"service", "listening", "", "inactive", "dead"},
		{"service", "listening", "success", "inactive", "dead"},
		{"service", "listening", "exit-code", "failed", "failed"},
		{"service", "starting", "", "activating", "start"},
		{"service", "running", "success", "active", "running"},
		{"service", "stopping", "", "deactivating", "stop"},
		{"service", "auto-restart", "signal", "activating", "auto-restart"},
		{"service", "failed", "start-limit-hit", "failed", "failed"},
	} {
		a, s := States(tc[0], tc[1], tc[2])
		if a != tc[3] || s != tc[4] {
			t.Errorf("States(%q, %q, %q) = %s/%s, want %s/%s", tc[0], tc[1], tc[2], a, s, tc[3], tc[4])
		}
	}
}
