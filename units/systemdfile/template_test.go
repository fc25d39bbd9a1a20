package systemdfile

import (
	"reflect"
	"strings"
	"testing"
)

func TestLoadTemplateInstance(t *testing.T) {
	tmpl := map[string]string{
		"lib/db@.socket":  "[Socket]\nListenStream=/run/db/%i.sock\nFileDescriptorName=%p-%i\n",
		"lib/db@.service": "[Service]\nExecStart=/bin/db --instance %i --unit %n\n",
	}
	for _, c := range []struct {
		name, instance string
		extra          map[string]string
		listen         []string
		files          []string
		argv           []string
	}{
		{name: "from the template", instance: "db@main", listen: []string{"/run/db/main.sock"},
			files: []string{"lib/db@.socket", "lib/db@.service"},
			argv:  []string{"/bin/db", "--instance", "main", "--unit", "db@main.service"}},
		{name: "an instance's own file and drop-ins", instance: "db@x",
			extra: map[string]string{
				"etc/db@x.socket":               "[Socket]\nListenStream=/run/other.sock\n",
				"etc/db@.service.d/a.conf":      "[Service]\nEnvironment=T=1\n",
				"etc/db@x.service.d/b.conf":     "[Service]\nEnvironment=I=%i\n",
				"etc/db@other.service.d/c.conf": "[Service]\nEnvironment=NO=1\n",
			},
			listen: []string{"/run/other.sock"},
			files:  []string{"etc/db@x.socket", "lib/db@.service", "etc/db@.service.d/a.conf", "etc/db@x.service.d/b.conf"},
			argv:   []string{"/bin/db", "--instance", "x", "--unit", "db@x.service"}},
		{name: "Service= names an instance", instance: "db@y",
			extra:  map[string]string{"etc/db@.socket.d/svc.conf": "[Socket]\nService=db@%i-rw.service\n"},
			listen: []string{"/run/db/y.sock"},
			files:  []string{"lib/db@.socket", "etc/db@.socket.d/svc.conf", "lib/db@.service"},
			argv:   []string{"/bin/db", "--instance", "y-rw", "--unit", "db@y-rw.service"}},
		{name: "no template", instance: "web@1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			files := map[string]string{}
			for k, v := range tmpl {
				files[k] = v
			}
			for k, v := range c.extra {
				files[k] = v
			}
			u, errs, root := loadTree(t, c.instance, files)
			if c.instance == "web@1" {
				if u != nil || len(errs) != 1 || !matchErrors(errs, []string{`socket unit web@1.socket not found, nor its template web@.socket (searched lib, etc)`}) {
					t.Errorf("got %v, %q", u, errs)
				}
				return
			}
			if len(errs) > 0 {
				t.Fatalf("errors: %q", errs)
			}
			if got := listenAddrs(u); !reflect.DeepEqual(got, c.listen) {
				t.Errorf("listeners %q; want %q", got, c.listen)
			}
			var got []string
			for _, f := range u.Files {
				got = append(got, strings.TrimPrefix(f, root+"/"))
			}
			if !reflect.DeepEqual(got, c.files) {
				t.Errorf("files %q; want %q", got, c.files)
			}
			if got := u.Service.ExecStart[0].Argv; !reflect.DeepEqual(got, c.argv) {
				t.Errorf("ExecStart %q; want %q", got, c.argv)
			}
		})
	}
}
