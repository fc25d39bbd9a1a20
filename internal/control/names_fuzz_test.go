package control

import (
	"strings"
	"testing"
)

// FuzzCanonicalName: a name CanonicalName accepts comes back as a
// .socket or .service name of allowed characters, which it accepts
// unchanged.
func FuzzCanonicalName(f *testing.F) {
	for _, s := range []string{"web", "web.socket", "web.service", "web@.service", "web@x.service", "a.b", "@.socket", "..", "x/y", strings.Repeat("a", 300)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		c, err := CanonicalName(name)
		if err != nil {
			return
		}
		if !strings.HasSuffix(c, ".socket") && !strings.HasSuffix(c, ".service") {
			t.Fatalf("CanonicalName(%q) = %q: neither .socket nor .service", name, c)
		}
		// ".." may appear (as in systemd, "a@..service" is a valid
		// instance); without "/" a name cannot leave a directory.
		if strings.ContainsAny(c, "/\x00 \n") {
			t.Fatalf("CanonicalName(%q) = %q: has a character a file name must not", name, c)
		}
		if again, err := CanonicalName(c); err != nil || again != c {
			t.Fatalf("CanonicalName(%q) = %q, but CanonicalName(%q) = %q, %v", name, c, c, again, err)
		}
	})
}
