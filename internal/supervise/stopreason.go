package supervise

// StopBecause is Stop, with the reason the service's stop is logged
// with ("socket stopped" rather than "sockd is stopping").
func (u *Unit) StopBecause(reason string) {
	u.mu.Lock()
	u.life.reason = reason
	u.mu.Unlock()
	u.Stop()
}

// stopReason is why the unit's context ended: the reason given to
// StopBecause, else sockd stopping.
func (u *Unit) stopReason() string {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.life.reason != "" {
		return u.life.reason
	}
	return "sockd is stopping"
}
