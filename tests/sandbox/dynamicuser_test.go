package sandbox_test

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// DynamicUser= runs the service as an id of 61184–65519 that no user or
// group owns, with the protections it implies, and releases the id when
// the service has exited.
func TestDynamicUser(t *testing.T) {
	r, s, addr := probeLog(t, "ExecStart=$BIN/probe -report $REP -sandbox -conns 2", "DynamicUser=yes", "ReadWritePaths=$REP")
	if r.UID < 61184 || r.UID > 65519 || r.GID != r.UID {
		t.Fatalf("uid %d gid %d; want one id of 61184…65519", r.UID, r.GID)
	}
	// Implied: ProtectSystem=strict, PrivateTmp=, NoNewPrivileges=, RestrictSUIDSGID=.
	if r.Attempts["write_usr"] != "EROFS" || len(r.TmpEntries) != 0 || r.Status["NoNewPrivs"] != "1" {
		t.Errorf("write /usr %s, /tmp %v, NoNewPrivs %s; want the protections DynamicUser= implies",
			r.Attempts["write_usr"], r.TmpEntries, r.Status["NoNewPrivs"])
	}
	lock := filepath.Join("/run/sockd/dynamic-uid", strconv.Itoa(r.UID))
	if _, err := os.Stat(lock); err != nil {
		t.Fatalf("the id is not held while the service runs: %v", err)
	}
	// The probe exits after its second answer; the id is released then.
	if _, err := dial(addr); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(lock); os.IsNotExist(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still exists after the service exited; sockd's log:\n%s", lock, s.LogText())
		}
	}
}
