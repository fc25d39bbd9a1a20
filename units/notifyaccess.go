package units

// NotifyAccess is the value of NotifyAccess= (systemd.service(5)): which
// of the service's processes may send notifications to its
// NOTIFY_SOCKET. sockd checks it by the sender's SCM_CREDENTIALS pid, as
// systemd does.
type NotifyAccess string

// The values NotifyAccess= accepts. NotifyAccessDefault (the empty
// string) is the unset value: see (*Service).EffectiveNotifyAccess.
const (
	NotifyAccessDefault NotifyAccess = ""
	NotifyAccessNone    NotifyAccess = "none" // no process: messages are dropped
	NotifyAccessMain    NotifyAccess = "main" // the main process only
	NotifyAccessExec    NotifyAccess = "exec" // the main process and the Exec*= commands sockd runs
	NotifyAccessAll     NotifyAccess = "all"  // any process of the service (its session)
)

// EffectiveNotifyAccess returns NotifyAccess=, or its default when unset:
// main for Type=notify or when WatchdogSec= or FileDescriptorStoreMax=
// is set, none otherwise, as systemd does.
func (s *Service) EffectiveNotifyAccess() NotifyAccess {
	switch {
	case s.NotifyAccess != NotifyAccessDefault:
		return s.NotifyAccess
	case s.Type == TypeNotify, s.Ready.Watchdog > 0, s.FileDescriptorStoreMax > 0:
		// As systemd's service_add_extras(): a service that needs the
		// notify socket gets it, for its main process.
		return NotifyAccessMain
	}
	return NotifyAccessNone
}

// notifyDirectives is the [Service] directive NotifyAccess=.
func notifyDirectives() []directive {
	return []directive{
		svc("NotifyAccess", KindString, func(s *Service) *NotifyAccess { return &s.NotifyAccess }, func(g func(*Unit) *NotifyAccess) setter {
			return enumField(g, []NotifyAccess{NotifyAccessNone, NotifyAccessMain, NotifyAccessExec, NotifyAccessAll}, nil)
		}),
	}
}
