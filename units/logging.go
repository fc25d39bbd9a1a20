package units

import (
	"fmt"
	"strconv"
)

// Logging holds how the service's output is logged (systemd.exec(5)
// "Logging and Standard Input/Output").
type Logging struct {
	SyslogIdentifier  string // SyslogIdentifier=; "" means the program's name
	SyslogFacility    int    // SyslogFacility=; default 3 (daemon)
	SyslogLevel       int    // SyslogLevel=; default 6 (info)
	SyslogLevelPrefix bool   // SyslogLevelPrefix=; default yes: "<N>" sets a line's level
	LogLevelMax       int    // LogLevelMax=; default 7 (debug): lines above are dropped
}

// SyslogLevels are the syslog priorities by name.
var SyslogLevels = map[string]int{"emerg": 0, "alert": 1, "crit": 2, "err": 3, "warning": 4, "notice": 5, "info": 6, "debug": 7}

// SyslogFacilities are the syslog facilities by name.
var SyslogFacilities = map[string]int{"kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "syslog": 5, "lpr": 6,
	"news": 7, "uucp": 8, "cron": 9, "authpriv": 10, "ftp": 11, "local0": 16, "local1": 17, "local2": 18,
	"local3": 19, "local4": 20, "local5": 21, "local6": 22, "local7": 23}

func namedInt(names map[string]int, what string, max int) func(func(*Unit) *int) setter {
	return func(g func(*Unit) *int) setter {
		return func(u *Unit, v string) error {
			if n, ok := names[v]; ok {
				*g(u) = n
				return nil
			}
			if n, err := strconv.Atoi(v); err == nil && n >= 0 && n <= max {
				*g(u) = n
				return nil
			}
			return fmt.Errorf("invalid %s %q", what, v)
		}
	}
}

func logging[T any](name string, kind ValueKind, get func(l *Logging) *T, set func(func(u *Unit) *T) setter) directive {
	return svc(name, kind, func(s *Service) *T { return get(&s.Logging) }, set)
}

func loggingDirectives() []directive {
	return []directive{
		logging("SyslogIdentifier", KindString, func(l *Logging) *string { return &l.SyslogIdentifier }, func(g func(*Unit) *string) setter {
			return func(u *Unit, v string) error { *g(u) = v; return nil }
		}),
		logging("SyslogFacility", KindString, func(l *Logging) *int { return &l.SyslogFacility }, namedInt(SyslogFacilities, "syslog facility", 23)),
		logging("SyslogLevel", KindString, func(l *Logging) *int { return &l.SyslogLevel }, namedInt(SyslogLevels, "syslog level", 7)),
		logging("SyslogLevelPrefix", KindBool, func(l *Logging) *bool { return &l.SyslogLevelPrefix }, boolSet),
		logging("LogLevelMax", KindString, func(l *Logging) *int { return &l.LogLevelMax }, namedInt(SyslogLevels, "log level", 7)),
	}
}
