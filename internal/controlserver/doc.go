// Package controlserver serves sockd's control API (the types and paths
// are in internal/control) on RUNTIME_DIR/control.sock: it binds the
// socket with no window of looser permissions, identifies every caller
// with SO_PEERCRED, lets anyone who can connect read and only root,
// sockd's own user and the configured group change anything — except
// an upgrade (POST /v1/upgrade), which chooses the code sockd runs and
// is root's alone, or sockd's own user's when sockd is not root — and hands
// each request to a Backend (the daemon). sockctl links the client
// package only; this one is the daemon's.
package controlserver
