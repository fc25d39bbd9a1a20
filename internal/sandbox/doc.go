// Package sandbox owns what systemd.exec(5) does between fork and execve
// to confine a service: the file-system namespace (ProtectSystem=,
// PrivateTmp=, PrivateDevices=, ReadWritePaths=, …), seccomp
// (SystemCallFilter=, RestrictAddressFamilies=, MemoryDenyWriteExecute=,
// …), capabilities and securebits, PrivateUsers=, PrivateNetwork= and
// PrivateIPC=.
//
// sockd's parent compiles a unit's units.Sandbox once per command into a
// Plan (Compile): the namespaces to create, the mount steps in the order
// systemd's setup_namespace() sorts them, the capability sets, and the
// seccomp programs as classic BPF, assembled here in Go (no libseccomp,
// no cgo). The spawned child (internal/spawn's shim, which starts in the
// new namespaces) only replays the Plan with Apply, in the order of
// systemd 252's exec_child(): network namespace and loopback, mounts,
// groups, bounding set and ambient capabilities, user switch, securebits,
// no_new_privs, and the seccomp filters last, right before execve. A step
// that fails exits with systemd's code for it (226/NAMESPACE,
// 218/CAPABILITIES, 228/SECCOMP, …).
//
// Where sockd lacks a privilege a directive needs, the unit fails with
// the step's code; no protection is dropped silently (docs/units.md,
// "Sandboxing").
package sandbox
