package supervise

// ResetResult forgets the result of the last transition, as systemctl
// reset-failed does: a service that failed shows inactive (dead) again.
// It does not change the unit's state.
func (u *Unit) ResetResult() {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.status.Result = ""
}
