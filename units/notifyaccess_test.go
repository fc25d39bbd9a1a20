package units

import "testing"

// NotifyAccess= has its row in directiveCases here, in its own file, so
// that the directive and its test stay together.
func init() {
	directiveCases = append(directiveCases, directiveCase{"Service", "NotifyAccess", "all",
		func(u *Unit) any { return u.Service.NotifyAccess }, NotifyAccessAll,
		"everyone", `invalid value "everyone", want one of [none main exec all]`})
}

func TestEffectiveNotifyAccess(t *testing.T) {
	for _, c := range []struct {
		typ  ServiceType
		set  NotifyAccess
		want NotifyAccess
	}{
		{TypeNotify, NotifyAccessDefault, NotifyAccessMain}, // systemd's default for Type=notify
		{TypeSimple, NotifyAccessDefault, NotifyAccessNone},
		{TypeExec, NotifyAccessDefault, NotifyAccessNone},
		{TypeNotify, NotifyAccessAll, NotifyAccessAll},
		{TypeNotify, NotifyAccessNone, NotifyAccessNone},
		{TypeSimple, NotifyAccessExec, NotifyAccessExec},
	} {
		s := Service{Type: c.typ, NotifyAccess: c.set}
		if got := s.EffectiveNotifyAccess(); got != c.want {
			t.Errorf("Type=%s NotifyAccess=%q: effective %q; want %q", c.typ, c.set, got, c.want)
		}
	}
}
