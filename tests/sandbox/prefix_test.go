package sandbox_test

import "testing"

// The "+" prefix runs the command without the sandbox and without the
// user switch; "!" keeps the sandbox but not the user switch.
func TestPrefixFullPrivileges(t *testing.T) {
	r := probe(t, "ExecStart=+$BIN/probe -report $REP -sandbox -conns 1",
		"User=nobody", "ProtectSystem=strict", "SystemCallFilter=~getcpu:EACCES")
	if r.UID != 0 || r.Attempts["write_usr"] != "ok" || r.Attempts["getcpu"] != "ok" || r.Namespaces["mnt"] != hostNS("mnt") {
		t.Errorf("+: uid %d, write /usr %s, getcpu %s, mnt %s; want root, unconfined",
			r.UID, r.Attempts["write_usr"], r.Attempts["getcpu"], r.Namespaces["mnt"])
	}
}

func TestPrefixNoSetuid(t *testing.T) {
	r := probe(t, "ExecStart=!$BIN/probe -report $REP -sandbox -conns 1",
		"User=nobody", "ProtectSystem=strict", "ReadWritePaths=$REP")
	if r.UID != 0 || r.Attempts["write_usr"] != "EROFS" {
		t.Errorf("!: uid %d, write /usr %s; want root with /usr read-only", r.UID, r.Attempts["write_usr"])
	}
	// Negative control: without "!" the user switch happens.
	r = probe(t, "User=nobody", "ProtectSystem=strict", "ReadWritePaths=$REP")
	if r.UID != 65534 {
		t.Errorf("without !: uid %d; want 65534", r.UID)
	}
}

// A step that fails exits with systemd's code for it.
func TestExitCodes(t *testing.T) {
	failedStart(t, "226/NAMESPACE", "ReadOnlyPaths=/nonexistent-sockd-test")
	failedStart(t, "226/NAMESPACE", "BindPaths=/nonexistent-sockd-test:/mnt")
}

// Optional paths ("-") that are missing are skipped.
func TestOptionalPathMissing(t *testing.T) {
	r := probe(t, "ReadOnlyPaths=-/nonexistent-sockd-test /etc", "BindPaths=-/nonexistent-sockd-test:/mnt")
	if r.Attempts["write_etc"] != "EROFS" {
		t.Errorf("write /etc: %s; want EROFS", r.Attempts["write_etc"])
	}
}

// PermissionsStartOnly= runs ExecStartPre= (and the other control
// commands) without the sandbox; the main command keeps it.
func TestPermissionsStartOnly(t *testing.T) {
	pre := `ExecStartPre=/bin/sh -c "touch /usr/.sockd-pso && rm /usr/.sockd-pso"`
	r := probe(t, pre, "PermissionsStartOnly=yes", "ProtectSystem=strict", "ReadWritePaths=$REP")
	if r.Attempts["write_usr"] != "EROFS" {
		t.Errorf("main command: write /usr %s; want EROFS", r.Attempts["write_usr"])
	}
	// Negative control: without it, ExecStartPre= is confined and fails.
	failedStart(t, "ExecStartPre sh: code=exited, status=1/FAILURE", pre, "ProtectSystem=strict")
}
