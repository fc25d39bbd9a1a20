//go:build !cgo || !linux

package reaper

// newEventSource has no C signal handler to offer without cgo.
func newEventSource() wakeSource { return nil }
