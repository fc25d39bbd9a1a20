package notify

import (
	"testing"

	"golang.org/x/sys/unix"
)

// FuzzParseControl: the control-message walker never panics on any
// ancillary data, and returns every fd of the SCM_RIGHTS messages before
// the first malformed one (so that the receiver can close them), with
// credentials only from a well-formed SCM_CREDENTIALS message. The fds
// here are made-up numbers: they are counted, never closed.
func FuzzParseControl(f *testing.F) {
	f.Add(unix.UnixCredentials(&unix.Ucred{Pid: 1, Uid: 2, Gid: 3}))
	f.Add(append(unix.UnixRights(7, 8, 9), unix.UnixCredentials(&unix.Ucred{Pid: 4})...))
	f.Add(unix.UnixRights(5)[:10])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, oob []byte) {
		fds, cred, err := parseControl(oob)
		if err != nil && cred != nil {
			t.Fatalf("parseControl(%x): credentials %+v with error %v", oob, cred, err)
		}
		if len(fds) > len(oob)/4 {
			t.Fatalf("parseControl(%x): %d fds from %d bytes", oob, len(fds), len(oob))
		}
	})
}
