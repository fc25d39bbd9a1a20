package control

import "time"

// Limits of a request.
const (
	MaxHeaderBytes    = 8 << 10
	MaxBodyBytes      = 64 << 10
	ReadHeaderTimeout = 5 * time.Second
	ReadTimeout       = 10 * time.Second
	IdleTimeout       = 60 * time.Second
)
