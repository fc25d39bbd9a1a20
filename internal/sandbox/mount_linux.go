package sandbox

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// InaccessibleFile is the mode-0 empty file bound over an inaccessible
// path that is not a directory (systemd's /run/systemd/inaccessible/reg).
const InaccessibleFile = "/run/sockd/inaccessible/reg"

// SetupMounts sets up the file-system namespace the child was created in
// (CLONE_NEWNS): every mount step, then read-only flags, then the
// propagation of MountFlags= (setup_namespace() in systemd).
func (p *Plan) SetupMounts() error {
	if p.CloneFlags&unix.CLONE_NEWNS == 0 {
		return nil
	}
	if err := unix.Mount("", "/", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return fail(exitNamespace, "mount namespace: make / a slave: %w", err)
	}
	points, err := mountPoints()
	if err != nil {
		return fail(exitNamespace, "%w", err)
	}
	done := make([]bool, len(p.Mounts))
	for i, m := range p.Mounts {
		ok, err := establish(m, points)
		if err != nil {
			return fail(exitNamespace, "mount %s (%s): %w", m.Path, m.Op, err)
		}
		done[i] = ok
		if ok {
			points[m.Path] = true
		}
	}
	if points, err = mountPoints(); err != nil {
		return fail(exitNamespace, "%w", err)
	}
	for i, m := range p.Mounts {
		if done[i] && m.ReadOnly {
			if err := p.makeReadOnly(m, points); err != nil {
				return fail(exitNamespace, "make %s read-only: %w", m.Path, err)
			}
		}
	}
	if err := unix.Mount("", "/", "", p.Propagation|unix.MS_REC, ""); err != nil {
		return fail(exitNamespace, "MountFlags: %w", err)
	}
	return nil
}

// establish performs one step; false means an optional path was missing.
func establish(m Mount, points map[string]bool) (bool, error) {
	var st unix.Stat_t
	exists := unix.Lstat(m.Path, &st) == nil
	switch m.Op {
	case OpTmpfs:
		flags, data := tmpfsFlags(m.Data)
		if !exists {
			if err := os.MkdirAll(m.Path, 0o755); err != nil {
				return false, err
			}
		}
		return true, unix.Mount("tmpfs", m.Path, "tmpfs", flags, data)
	case OpBind:
		return bind(m)
	case OpPrivateDev:
		return true, privateDev()
	}
	if !exists {
		if m.Optional || m.Op == OpImplicitRW {
			return false, nil
		}
		return false, fmt.Errorf("%w (prefix the path with \"-\" to skip it when missing)", unix.ENOENT)
	}
	switch m.Op {
	case OpInaccessible:
		if st.Mode&unix.S_IFMT == unix.S_IFLNK {
			return false, unix.ELOOP
		}
		if st.Mode&unix.S_IFMT == unix.S_IFDIR {
			return true, unix.Mount("tmpfs", m.Path, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=000,size=4k,nr_inodes=1")
		}
		return true, unix.Mount(InaccessibleFile, m.Path, "", unix.MS_BIND, "")
	case OpPrivateTmp:
		if m.Src == "" {
			return false, errors.New("no private directory (Plan.WithPrivateTmp)")
		}
		return true, unix.Mount(m.Src, m.Path, "", unix.MS_BIND|unix.MS_REC, "")
	case OpProc:
		err := unix.Mount("proc", "/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, m.Data)
		if errors.Is(err, unix.EINVAL) { // no hidepid=/subset= on this kernel: an unrestricted procfs
			err = unix.Mount("proc", "/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "")
		}
		if errors.Is(err, unix.EPERM) { // as systemd: keep the host's /proc
			return true, nil
		}
		return true, err
	}
	// Read-only and writable paths become mounts of their own, so that
	// their flags can differ from their parent's.
	if !points[m.Path] {
		return true, unix.Mount(m.Path, m.Path, "", unix.MS_BIND|unix.MS_REC, "")
	}
	return true, nil
}

// bind is BindPaths=/BindReadOnlyPaths=: the destination is created when
// missing, as a directory or an empty file like the source.
func bind(m Mount) (bool, error) {
	var src unix.Stat_t
	if err := unix.Stat(m.Src, &src); err != nil {
		if m.Optional && errors.Is(err, unix.ENOENT) {
			return false, nil
		}
		return false, fmt.Errorf("source %s: %w", m.Src, err)
	}
	if _, err := os.Lstat(m.Path); errors.Is(err, os.ErrNotExist) {
		if src.Mode&unix.S_IFMT == unix.S_IFDIR {
			err = os.MkdirAll(m.Path, 0o755)
		} else if err = os.MkdirAll(filepath.Dir(m.Path), 0o755); err == nil {
			var f *os.File
			if f, err = os.OpenFile(m.Path, os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
				f.Close()
			}
		}
		if err != nil {
			return false, err
		}
	}
	flags := uintptr(unix.MS_BIND | unix.MS_REC)
	if m.NoRec {
		flags = unix.MS_BIND
	}
	return true, unix.Mount(m.Src, m.Path, "", flags, "")
}

// makeReadOnly sets MOUNT_ATTR_RDONLY on the mount at m.Path and, unless
// NoRec, every mount below it except those at or below another step's
// path (which decides for itself). Read-only is only ever set, never
// cleared, as in systemd.
func (p *Plan) makeReadOnly(m Mount, points map[string]bool) error {
	for mp := range points {
		if mp != m.Path && (m.NoRec || !under(mp, m.Path)) {
			continue
		}
		if p.ownedByDeeper(mp, m.Path) {
			continue
		}
		attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}
		err := unix.MountSetattr(unix.AT_FDCWD, mp, unix.AT_SYMLINK_NOFOLLOW, &attr)
		if err != nil && !(mp != m.Path && (errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EACCES))) {
			return fmt.Errorf("%s: %w", mp, err)
		}
	}
	return nil
}

// ownedByDeeper reports whether mount point mp is at or below a step
// whose path is below top.
func (p *Plan) ownedByDeeper(mp, top string) bool {
	for _, o := range p.Mounts {
		if o.Path != top && under(o.Path, top) && (mp == o.Path || under(mp, o.Path)) {
			return true
		}
	}
	return false
}

// mountPoints lists the mount points of the calling thread's namespace.
func mountPoints() (map[string]bool, error) {
	f, err := os.Open("/proc/thread-self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("read mountinfo: %w", err)
	}
	defer f.Close()
	out := map[string]bool{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 {
			out[unescapeMountinfo(fields[4])] = true
		}
	}
	return out, sc.Err()
}

// unescapeMountinfo decodes the octal escapes (\040 for a space) of a
// mountinfo path.
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// tmpfsFlags splits TemporaryFileSystem= options into mount flags and the
// tmpfs data, with MS_NODEV|MS_STRICTATIME as systemd's default.
func tmpfsFlags(opts string) (uintptr, string) {
	flags := uintptr(unix.MS_NODEV | unix.MS_STRICTATIME)
	var data []string
	for _, o := range strings.Split(opts, ",") {
		switch o {
		case "", "ro", "rw": // ro is applied after setup
		case "nosuid":
			flags |= unix.MS_NOSUID
		case "suid":
			flags &^= unix.MS_NOSUID
		case "nodev":
			flags |= unix.MS_NODEV
		case "dev":
			flags &^= unix.MS_NODEV
		case "noexec":
			flags |= unix.MS_NOEXEC
		case "exec":
			flags &^= unix.MS_NOEXEC
		case "strictatime":
		case "noatime":
			flags = flags&^unix.MS_STRICTATIME | unix.MS_NOATIME
		default:
			data = append(data, o)
		}
	}
	return flags, strings.Join(data, ",")
}
