// Package enable owns the enablement of systemd units as plain file-system
// operations on systemd's unit search path, the way `systemctl enable`,
// `disable`, `mask`, `unmask` and `is-enabled` do them (systemctl(1),
// systemd.unit(5) "[Install] Section Options"): a unit is enabled by
// symlinks in TARGET.wants/ (WantedBy=), TARGET.requires/ (RequiredBy=)
// and alias links (Alias=), following Also= and, for a template,
// DefaultInstance=; it is masked by a symlink to /dev/null in
// /etc/systemd/system. Links made by deb-systemd-helper are the same
// links, so a package's enablement is seen as-is.
//
// No daemon is needed for any of it: `sockctl enable` works on the files,
// and `sockctl reload` (or SIGHUP) makes a `sockd --systemd-units` apply
// the new set. WantedSockets gives that set: the socket units pulled in
// by the targets a system boots into.
//
// Every path is taken under a root directory (systemctl --root), so that
// tests and image builds work on a tree that is not the running system.
// Symlink targets are written and read relative to that root, as
// systemctl writes them ("/lib/systemd/system/ssh.socket").
package enable
