package supervise

import "time"

// observeStart reports how long the service took to start, from the
// start (ExecStartPre= included) to its readiness and ExecStartPost=,
// to Deps.StartLatency under the socket unit's name.
func (u *Unit) observeStart(took time.Duration) {
	if f := u.deps.StartLatency; f != nil {
		f(u.cfg.Name+".socket", took)
	}
}
