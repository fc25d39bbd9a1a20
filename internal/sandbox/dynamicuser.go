package sandbox

import (
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"
)

// The range of DynamicUser= ids, as systemd's (systemd.exec(5)).
const (
	DynamicUIDMin = 61184
	DynamicUIDMax = 65519
)

// DynamicUserDir holds one lock file per allocated id, as systemd's
// /run/systemd/dynamic-uid: an id is taken while its file is locked.
var DynamicUserDir = "/run/sockd/dynamic-uid"

// DynamicUser is a uid (and the gid of the same number) allocated for a
// service while it runs.
type DynamicUser struct {
	Name string
	UID  int
	lock *os.File
}

var dynamicUsers struct {
	sync.Mutex
	m map[string]*DynamicUser // service name → its user
}

// AcquireDynamicUser returns the dynamic user of a service, allocating
// one on first use: the first free id of the range starting at a hash of
// the name (so a service tends to get the same id again), skipping ids
// that /etc/passwd or /etc/group use or another sockd holds. It is
// released by ReleaseUnit.
func AcquireDynamicUser(service, name string) (*DynamicUser, error) {
	dynamicUsers.Lock()
	defer dynamicUsers.Unlock()
	if d, ok := dynamicUsers.m[service]; ok {
		return d, nil
	}
	if err := os.MkdirAll(DynamicUserDir, 0o755); err != nil {
		return nil, fmt.Errorf("DynamicUser: %w", err)
	}
	h := fnv.New32a()
	h.Write([]byte(name))
	n := DynamicUIDMax - DynamicUIDMin + 1
	start := int(h.Sum32() % uint32(n))
	for i := 0; i < n; i++ {
		uid := DynamicUIDMin + (start+i)%n
		d, err := tryUID(uid, name)
		if err != nil {
			return nil, err
		}
		if d != nil {
			if dynamicUsers.m == nil {
				dynamicUsers.m = map[string]*DynamicUser{}
			}
			dynamicUsers.m[service] = d
			return d, nil
		}
	}
	return nil, fmt.Errorf("DynamicUser: every id of %d…%d is taken", DynamicUIDMin, DynamicUIDMax)
}

// tryUID locks uid's file; nil, nil means the id is taken.
func tryUID(uid int, name string) (*DynamicUser, error) {
	id := strconv.Itoa(uid)
	if _, err := user.LookupId(id); err == nil {
		return nil, nil
	}
	if _, err := user.LookupGroupId(id); err == nil {
		return nil, nil
	}
	path := filepath.Join(DynamicUserDir, id)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("DynamicUser: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, nil
		}
		return nil, fmt.Errorf("DynamicUser: lock %s: %w", path, err)
	}
	// The file may have been unlinked by its releaser between our open
	// and lock: then it no longer guards the id.
	var a, b unix.Stat_t
	if unix.Fstat(int(f.Fd()), &a) != nil || unix.Stat(path, &b) != nil || a.Ino != b.Ino {
		f.Close()
		return nil, nil
	}
	f.Truncate(0)
	f.WriteAt([]byte(name+"\n"), 0)
	return &DynamicUser{Name: name, UID: uid, lock: f}, nil
}

// release frees the id: its lock file is removed, then unlocked.
func (d *DynamicUser) release() {
	os.Remove(d.lock.Name())
	d.lock.Close()
}

// releaseDynamicUser releases the service's dynamic user, if it has one.
func releaseDynamicUser(service string) {
	dynamicUsers.Lock()
	d, ok := dynamicUsers.m[service]
	delete(dynamicUsers.m, service)
	dynamicUsers.Unlock()
	if ok {
		d.release()
	}
}
