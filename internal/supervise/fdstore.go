package supervise

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sockd/sockd/units"
)

// The fd store of an Accept=no service (systemd.service(5)
// FileDescriptorStoreMax=, sd_notify(3) FDSTORE=1, FDSTOREREMOVE=1,
// FDNAME=): fds the service hands to sockd to get them back at its next
// start.
//
// Lifetime: the store belongs to the unit's goroutine. It survives
// the service's exits, crashes, automatic restarts, re-activation by
// traffic and `sockctl restart`; it is emptied when the unit's socket is
// stopped (Unit.Close, which sockd calls when it stops or a reload drops
// the socket). That is systemd's FileDescriptorStorePreserve=restart,
// except that a stop of the service alone keeps it too (the socket, and
// so the unit, stays active).
//
// Order: entries are kept in insertion order; at each start they are
// passed after the listeners, as fds 3+N…, with their names appended to
// LISTEN_FDNAMES, and $FDSTORE=<max> is set (systemd v254). Their open
// file flags (O_NONBLOCK) are passed unchanged, as systemd does.
//
// FDPOLL: as systemd does, each stored fd is watched for EPOLLHUP and
// EPOLLERR (unless it came with FDPOLL=0), and dropped when it reports
// one: a stored connection whose peer went away is not handed to the
// next instance. Files that cannot be polled (regular files, memfds)
// stay until removed.

// defaultFDName is the name of stored fds sent without FDNAME=.
const defaultFDName = "stored"

// StoredFD describes one entry of a unit's fd store, as
// systemd-analyze fdstore lists it.
type StoredFD struct {
	Name   string // FDNAME=
	Type   string // "sock", "reg", "dir", "fifo", "chr", "blk", "lnk" or "unknown"
	Dev    uint64 // st_dev
	Inode  uint64 // st_ino
	Target string // the readlink of /proc/self/fd/N: "socket:[123]", "/memfd:state (deleted)", …
}

// fdEntry is one stored fd; the store owns fd (close-on-exec).
type fdEntry struct {
	fd   int
	info StoredFD
	poll bool // watched for hangups (not FDPOLL=0)
}

// fdStore is the fd store of one unit; owned by the unit's goroutine.
type fdStore struct {
	entries []fdEntry
	// unwatch stops watching an fd for hangups before it is closed.
	unwatch func(fd int)
}

// closeEntry stops watching e and closes its fd.
func (s *fdStore) closeEntry(e fdEntry) {
	if s.unwatch != nil {
		s.unwatch(e.fd)
	}
	unix.Close(e.fd)
}

// add stores fds under name, up to max entries in all. It takes
// ownership of every fd: duplicates of an open file already stored are
// closed (as systemd does), and so are those over the limit; it returns
// how many were stored, dropped as duplicates and dropped as over max.
func (s *fdStore) add(fds []int, name string, max int, poll bool) (stored, dups, over int) {
	for _, fd := range fds {
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			unix.Close(fd)
			over++ // cannot describe it: treated as refused
			continue
		}
		switch {
		case s.has(uint64(st.Dev), st.Ino):
			unix.Close(fd)
			dups++
		case len(s.entries) >= max:
			unix.Close(fd)
			over++
		default:
			s.entries = append(s.entries, fdEntry{fd: fd, info: describeFD(fd, name, &st), poll: poll})
			stored++
		}
	}
	return stored, dups, over
}

// has reports whether an fd for the open file (dev, ino) is stored.
func (s *fdStore) has(dev, ino uint64) bool {
	for _, e := range s.entries {
		if e.info.Dev == dev && e.info.Inode == ino {
			return true
		}
	}
	return false
}

// remove closes and drops the entries named name; it returns how many.
func (s *fdStore) remove(name string) int {
	kept := s.entries[:0]
	n := 0
	for _, e := range s.entries {
		if e.info.Name == name {
			s.closeEntry(e)
			n++
			continue
		}
		kept = append(kept, e)
	}
	clear(s.entries[len(kept):])
	s.entries = kept
	return n
}

// trim closes the entries beyond max (after FileDescriptorStoreMax= was
// lowered by a reload); it returns how many.
func (s *fdStore) trim(max int) int {
	if len(s.entries) <= max {
		return 0
	}
	n := len(s.entries) - max
	for _, e := range s.entries[max:] {
		s.closeEntry(e)
	}
	s.entries = s.entries[:max:max]
	return n
}

// clear closes every stored fd.
func (s *fdStore) clear() {
	for _, e := range s.entries {
		s.closeEntry(e)
	}
	s.entries = nil
}

// files returns the stored fds and their names, in insertion order.
func (s *fdStore) files() ([]int, []string) {
	fds := make([]int, len(s.entries))
	names := make([]string, len(s.entries))
	for i, e := range s.entries {
		fds[i], names[i] = e.fd, e.info.Name
	}
	return fds, names
}

// snapshot returns a fresh copy of the entries' descriptions.
func (s *fdStore) snapshot() []StoredFD {
	if len(s.entries) == 0 {
		return nil
	}
	out := make([]StoredFD, len(s.entries))
	for i, e := range s.entries {
		out[i] = e.info
	}
	return out
}

func describeFD(fd int, name string, st *unix.Stat_t) StoredFD {
	target, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
	if err != nil {
		target = "?"
	}
	return StoredFD{Name: name, Type: fileType(st.Mode), Dev: uint64(st.Dev), Inode: st.Ino, Target: target}
}

func fileType(mode uint32) string {
	switch mode & unix.S_IFMT {
	case unix.S_IFSOCK:
		return "sock"
	case unix.S_IFREG:
		return "reg"
	case unix.S_IFDIR:
		return "dir"
	case unix.S_IFIFO:
		return "fifo"
	case unix.S_IFCHR:
		return "chr"
	case unix.S_IFBLK:
		return "blk"
	case unix.S_IFLNK:
		return "lnk"
	}
	return "unknown"
}

// storeNotified applies FDSTOREREMOVE=1 and FDSTORE=1 of a message from
// the service (in that order, as systemd's service_notify_message), and
// takes ownership of msg.Files.
func (u *Unit) storeNotified(msg notifyMsg) {
	max := u.cfg.Service.FileDescriptorStoreMax
	if msg.FDStoreRemove {
		if msg.FDName == "" {
			u.log.Warn("service sent FDSTOREREMOVE=1 without a valid FDNAME=; ignored", "service", u.cfg.Service.Name)
		} else if n := u.fdstore.remove(msg.FDName); n > 0 {
			u.log.Debug("removed fds from the fd store", "service", u.cfg.Service.Name, "fdname", msg.FDName, "count", n)
		}
	}
	if len(msg.Files) == 0 {
		u.publishFDStore()
		return
	}
	if max <= 0 || u.cfg.Socket.Accept {
		u.log.Warn("service sent FDSTORE=1 but FileDescriptorStoreMax=0; closing the fds",
			"service", u.cfg.Service.Name, "count", len(msg.Files))
		closeFiles(msg.Files)
		return
	}
	name := msg.FDName
	if name == "" {
		name = defaultFDName
	}
	stored, dups, over := u.fdstore.add(msg.Files, name, max, msg.FDPoll)
	u.pollStored(u.fdstore.entries[len(u.fdstore.entries)-stored:])
	u.log.Debug("stored fds", "service", u.cfg.Service.Name, "fdname", name, "count", stored, "duplicates", dups)
	if over > 0 {
		u.log.Warn("fd store is full, closing the fds over FileDescriptorStoreMax=",
			"service", u.cfg.Service.Name, "fdname", name, "closed", over, "FileDescriptorStoreMax", max)
	}
	u.publishFDStore()
}

// storedFiles returns the fds and names to pass after the listeners, and
// the environment variable $FDSTORE=<max> (nil without a store).
func (u *Unit) storedFiles(svc *units.Service) ([]int, []string, []string) {
	if svc.FileDescriptorStoreMax <= 0 || u.cfg.Socket.Accept {
		if len(u.fdstore.entries) > 0 {
			u.log.Warn("FileDescriptorStoreMax=0 now: emptying the fd store", "service", svc.Name, "count", len(u.fdstore.entries))
			u.clearFDStore()
		}
		return nil, nil, nil
	}
	if n := u.fdstore.trim(svc.FileDescriptorStoreMax); n > 0 {
		u.log.Warn("fd store over FileDescriptorStoreMax=, closing the newest entries",
			"service", svc.Name, "closed", n, "FileDescriptorStoreMax", svc.FileDescriptorStoreMax)
		u.publishFDStore()
	}
	fds, names := u.fdstore.files()
	return fds, names, []string{"FDSTORE=" + strconv.Itoa(svc.FileDescriptorStoreMax)}
}

// clearFDStore closes every stored fd.
func (u *Unit) clearFDStore() {
	u.fdstore.clear()
	u.publishFDStore()
}

// publishFDStore copies the store's description into the status.
func (u *Unit) publishFDStore() {
	snap := u.fdstore.snapshot()
	u.mu.Lock()
	u.status.FDStore = snap
	u.mu.Unlock()
}

// flushWait bounds drainNotify's wait for its marker.
const flushWait = time.Second

// drainNotify applies the notifications the main process sent before it
// exited and that were not read yet, as systemd does by giving its
// notify socket priority over SIGCHLD: an FDSTORE=1 sent just before a
// crash must not be lost. It sends a BARRIER=1 marker from sockd itself
// to the socket; datagrams keep their order, so once the marker comes
// through, every earlier message has been read. Call it before the
// process's notify socket is closed.
func (u *Unit) drainNotify() {
	if u.main == nil || u.main.notify == nil {
		return
	}
	ns := u.main.notify
	sent := sendMarker(ns.path) == nil
	deadline := time.NewTimer(flushWait)
	defer deadline.Stop()
	for {
		var msg notifyMsg
		if sent {
			select {
			case msg = <-ns.c:
			case <-deadline.C:
				u.log.Warn("notify socket did not drain in time", "service", u.cfg.Service.Name)
				return
			}
		} else {
			select {
			case msg = <-ns.c:
			default:
				return
			}
		}
		if msg.PID == os.Getpid() && msg.Barrier {
			return
		}
		u.notified(msg)
	}
}

// sendMarker sends BARRIER=1 to the notify socket at path.
func sendMarker(path string) error {
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("notify socket %s: %w", path, err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("BARRIER=1")); err != nil {
		return fmt.Errorf("notify socket %s: %w", path, err)
	}
	return nil
}

// storeHangup is the watcher key of the unit's fd store entries.
type storeHangup struct{ u *Unit }

// Trigger tells the unit that an entry of its fd store hung up, waking
// its goroutine as Unit.Trigger does (wake.go).
func (h storeHangup) Trigger() {
	u := h.u
	u.mu.Lock()
	defer u.mu.Unlock()
	u.makeChans()
	select {
	case u.hupC <- struct{}{}:
	default:
	}
	u.wakeLocked()
}

// pollStored watches entries for hangups (FDPOLL), as systemd does.
func (u *Unit) pollStored(entries []fdEntry) {
	if u.deps.Watcher == nil {
		return
	}
	for _, e := range entries {
		if !e.poll {
			continue
		}
		err := u.deps.Watcher.AddHangup(e.fd, storeHangup{u})
		if err != nil && !errors.Is(err, unix.EPERM) { // EPERM: not pollable, kept until removed
			u.logger().Warn("cannot watch a stored fd for hangups", "fdname", e.info.Name, "err", err)
		}
	}
}

// dropHungUp removes the polled entries that hung up or failed.
func (u *Unit) dropHungUp() {
	kept := u.fdstore.entries[:0]
	for _, e := range u.fdstore.entries {
		if e.poll && hungUp(e.fd) {
			u.log.Debug("removed a hung-up fd from the fd store", "service", u.cfg.Service.Name, "fdname", e.info.Name)
			u.fdstore.closeEntry(e)
			continue
		}
		kept = append(kept, e)
	}
	clear(u.fdstore.entries[len(kept):])
	u.fdstore.entries = kept
	u.publishFDStore()
}

// hungUp reports whether fd reports a hangup or an error now.
func hungUp(fd int) bool {
	pfd := []unix.PollFd{{Fd: int32(fd)}}
	n, err := unix.Poll(pfd, 0)
	return err == nil && n > 0 && pfd[0].Revents&(unix.POLLHUP|unix.POLLERR) != 0
}
