package main

import (
	"bufio"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

var sandboxProbe = flag.Bool("sandbox", false, "report what the sandbox lets the probe see and do (Report.Sandbox)")

// SandboxReport is what the probe saw of its confinement (-sandbox). Each
// attempt is "ok" or the errno's name (EPERM, EROFS, …).
type SandboxReport struct {
	// Status holds /proc/self/status lines: NoNewPrivs, Seccomp,
	// Seccomp_filters, CapInh, CapPrm, CapEff, CapBnd, CapAmb, Uid, Gid, Groups.
	Status    map[string]string `json:"status"`
	Mountinfo []string          `json:"mountinfo"` // "PATH OPTIONS SUPER-OPTIONS", in order
	// Attempts: write_usr (create a file in /usr), write_etc,
	// socket_packet (socket(AF_PACKET)), socket_netlink, mmap_wx
	// (PROT_WRITE|PROT_EXEC), personality (PER_LINUX32), chmod_suid
	// (04755 on a file it created), sched_fifo (SCHED_FIFO, undone at
	// once), sethostname (to the current name), getcpu, unshare_uts
	// (on a locked thread), read_home (list /root).
	Attempts   map[string]string `json:"attempts"`
	TmpEntries []string          `json:"tmp_entries"` // names in /tmp
	DevBlock   []string          `json:"dev_block"`   // block devices in /dev
	DevEntries []string          `json:"dev_entries"` // names in /dev
	Interfaces []string          `json:"interfaces"`  // network interfaces
	Hostname   string            `json:"hostname"`
	Namespaces map[string]string `json:"namespaces"` // readlink /proc/self/ns/{net,ipc,uts,mnt,user}
	UIDMap     string            `json:"uid_map"`    // /proc/self/uid_map
	SecureBits int               `json:"securebits"` // prctl(PR_GET_SECUREBITS)
	UID        int               `json:"uid"`
	GID        int               `json:"gid"`
}

func errName(err error) string {
	if err == nil {
		return "ok"
	}
	var e unix.Errno
	if errors.As(err, &e) {
		return unix.ErrnoName(e)
	}
	return err.Error()
}

func sandboxReport() *SandboxReport {
	r := &SandboxReport{Status: map[string]string{}, Attempts: map[string]string{}, UID: os.Getuid(), GID: os.Getgid()}
	if f, err := os.Open("/proc/self/status"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			k, v, _ := strings.Cut(sc.Text(), ":")
			r.Status[k] = strings.TrimSpace(v)
		}
		f.Close()
	}
	if f, err := os.Open("/proc/self/mountinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if fs := strings.Fields(sc.Text()); len(fs) > 5 {
				r.Mountinfo = append(r.Mountinfo, fs[4]+" "+fs[5]+" "+fs[len(fs)-1])
			}
		}
		f.Close()
	}
	r.Attempts["write_usr"] = tryCreate("/usr/.sockd-probe-write")
	r.Attempts["write_etc"] = tryCreate("/etc/.sockd-probe-write")
	r.Attempts["socket_packet"] = trySocket(unix.AF_PACKET, unix.SOCK_DGRAM)
	r.Attempts["socket_netlink"] = trySocket(unix.AF_NETLINK, unix.SOCK_RAW)
	r.Attempts["mmap_wx"] = tryMmapWX()
	r.Attempts["personality"] = tryPersonality()
	r.Attempts["chmod_suid"] = tryChmodSUID()
	r.Attempts["sched_fifo"] = trySchedFIFO()
	r.Attempts["getcpu"] = tryGetcpu()
	r.Hostname, _ = os.Hostname()
	r.Attempts["sethostname"] = errName(unix.Sethostname([]byte(r.Hostname)))
	r.Attempts["unshare_uts"] = tryUnshareUTS()
	_, err := os.ReadDir("/root")
	r.Attempts["read_home"] = errName(unwrap(err))
	r.TmpEntries = names("/tmp")
	r.DevEntries = names("/dev")
	for _, n := range r.DevEntries {
		var st unix.Stat_t
		if unix.Lstat("/dev/"+n, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFBLK {
			r.DevBlock = append(r.DevBlock, n)
		}
	}
	r.Interfaces = interfaces()
	r.Namespaces = map[string]string{}
	for _, ns := range []string{"net", "ipc", "uts", "mnt", "user"} {
		r.Namespaces[ns], _ = os.Readlink("/proc/self/ns/" + ns)
	}
	m, _ := os.ReadFile("/proc/self/uid_map")
	r.UIDMap = strings.Join(strings.Fields(string(m)), " ")
	sb, _ := unix.PrctlRetInt(unix.PR_GET_SECUREBITS, 0, 0, 0, 0)
	r.SecureBits = sb
	return r
}

// interfaces lists the network interfaces of the probe's network
// namespace from /proc/self/net/dev (no netlink socket, which
// RestrictAddressFamilies= may forbid).
func interfaces() []string {
	data, _ := os.ReadFile("/proc/self/net/dev")
	out := []string{}
	for _, line := range strings.Split(string(data), "\n") {
		if name, _, ok := strings.Cut(line, ":"); ok && !strings.Contains(name, "|") {
			out = append(out, strings.TrimSpace(name))
		}
	}
	return out
}

func unwrap(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	var se *os.SyscallError
	if errors.As(err, &se) {
		return se.Err
	}
	return err
}

func names(dir string) []string {
	es, _ := os.ReadDir(dir)
	out := []string{}
	for _, e := range es {
		out = append(out, e.Name())
	}
	return out
}

func tryCreate(path string) string {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err == nil {
		f.Close()
		os.Remove(path)
	}
	return errName(unwrap(err))
}

func trySocket(af, typ int) string {
	fd, err := unix.Socket(af, typ|unix.SOCK_CLOEXEC, 0)
	if err == nil {
		unix.Close(fd)
	}
	return errName(err)
}

func tryMmapWX() string {
	b, err := unix.Mmap(-1, 0, 4096, unix.PROT_READ|unix.PROT_WRITE|unix.PROT_EXEC, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err == nil {
		unix.Munmap(b)
	}
	return errName(err)
}

func tryPersonality() string {
	const perLinux32 = 0x0008
	old, _, e := unix.RawSyscall(unix.SYS_PERSONALITY, perLinux32, 0, 0)
	if e != 0 {
		return errName(e)
	}
	unix.RawSyscall(unix.SYS_PERSONALITY, old, 0, 0)
	return "ok"
}

func tryChmodSUID() string {
	dir, err := os.MkdirTemp(filepath.Join(*reportDir), "suid-")
	if err != nil {
		return "setup: " + err.Error()
	}
	defer os.RemoveAll(dir)
	p := filepath.Join(dir, "f")
	if err := os.WriteFile(p, nil, 0o755); err != nil {
		return "setup: " + err.Error()
	}
	return errName(unix.Chmod(p, 0o4755))
}

func trySchedFIFO() string {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	param := struct{ prio int32 }{1}
	_, _, e := unix.RawSyscall(unix.SYS_SCHED_SETSCHEDULER, 0, 1 /* SCHED_FIFO */, uintptr(unsafe.Pointer(&param)))
	if e == 0 {
		param.prio = 0
		unix.RawSyscall(unix.SYS_SCHED_SETSCHEDULER, 0, 0, uintptr(unsafe.Pointer(&param)))
		return "ok"
	}
	return errName(e)
}

func tryGetcpu() string {
	var cpu, node uint32
	_, _, e := unix.RawSyscall(unix.SYS_GETCPU, uintptr(unsafe.Pointer(&cpu)), uintptr(unsafe.Pointer(&node)), 0)
	if e != 0 {
		return errName(e)
	}
	return "ok"
}

// tryUnshareUTS unshares the UTS namespace on a thread that then exits
// with its goroutine (never unlocked), so the probe is not affected.
func tryUnshareUTS() string {
	c := make(chan string)
	go func() {
		runtime.LockOSThread()
		c <- errName(unix.Unshare(unix.CLONE_NEWUTS))
	}()
	return <-c
}
