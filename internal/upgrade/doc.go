// Package upgrade owns what crosses an execve(2) when sockd upgrades
// itself in place: the new binary, opened once and checked on its fd
// (Binary), which both the check child and the upgrade execute, so that
// the file cannot be swapped between them; only a file that root or
// sockd's own user owns and alone may write, in directories that only
// they may write, is accepted (docs/upgrade.md, "Who may upgrade").
package upgrade
