// Package upgrade owns what crosses an execve(2) when sockd upgrades
// itself in place (docs/upgrade.md):
//
//   - the new binary (binary.go): opened once and checked on its fd —
//     a regular file owned by root or sockd's user, in directories only
//     they may write — and executed from that fd by both the check child
//     and the upgrade, so that it cannot be swapped between them;
//   - the state (state.go, settings.go): every unit's listeners, fd store,
//     running processes and settings, in a versioned format, format 3
//     in one encoding keyed by field name (codec.go), so that a newer
//     build reads an older state, and a format a build cannot read is
//     refused before anything changes (Choose, Decode); format 1 (JSON)
//     for builds older than format 3;
//   - the check (check.go): `sockd --upgrade-check` decodes a rehearsal
//     of the state, the settings bytes the upgrade will hand over, and
//     reports the units it would restore (CheckState, Digest);
//   - the crossing itself (exec.go, inherited.go): the state in a memfd,
//     the previous binary's fd for a rollback (Exec); in the new image,
//     the state read back with its fds made close-on-exec at once, the
//     inherited sockets to adopt by matching if the state does not
//     decode, and Rollback, which re-executes the previous binary with
//     the same state when the new image cannot start.
//
// internal/daemon decides when (Upgrade, Restore): it parks the units,
// and restores them from a State and the fds it names. That restore is
// the same for any source of a State and its fds — an upgrade in place,
// a takeover over handoff.sock, or a process that held the fds while
// sockd restarted.
package upgrade
