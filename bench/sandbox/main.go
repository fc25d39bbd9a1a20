// Command sandbox measures what sockd's sandbox adds to a service's start:
// the time from Spawn to the exit of /bin/true, for
//
//   - plain: no sandbox (the cgo fast path where the build has it),
//   - shim: the shim sockd uses for every sandboxed service, with an
//     empty sandbox (what the shim itself costs),
//   - uuidd: the protection set of uuid-runtime's uuidd.service, read
//     from the installed unit (User=uuidd, PrivateUsers=,
//     ProtectSystem=strict, ProtectHome=, PrivateDevices=,
//     ProtectKernel*=, ProtectControlGroups=, MemoryDenyWriteExecute=,
//     SystemCallFilter=, ReadWritePaths=),
//   - bwrap: bubblewrap(1) building the equivalent sandbox (user
//     namespace with the same user, read-only /, the same writable path,
//     tmpfs over /home and /root, a private /dev, read-only /proc/sys and
//     /sys, no capabilities, and sockd's compiled SystemCallFilter=
//     program through --seccomp),
//
// interleaved, in one run, and prints medians, 90th percentiles and
// their ratios. Run it as root: sudo go run ./bench/sandbox.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"os/user"
	"sort"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/sockd/sockd/internal/reaper"
	"github.com/sockd/sockd/internal/sandbox"
	"github.com/sockd/sockd/internal/spawn"
	"github.com/sockd/sockd/units"
	"github.com/sockd/sockd/units/systemdfile"
)

func main() {
	spawn.RunShimIfRequested()
	n := flag.Int("n", 300, "starts per variant")
	socket := flag.String("unit", "/lib/systemd/system/uuidd.socket", "the socket unit whose service's protections to measure")
	flag.Parse()
	u, err := systemdfile.LoadFile(*socket, units.SpecifierEnv{RuntimeDir: "/run"})
	if err != nil {
		log.Fatal(err)
	}
	svc := &u.Service
	plan, err := sandbox.Compile(svc, svc.ExecStart[0], sandbox.MainCommand, sandbox.Options{})
	if err != nil {
		log.Fatal(err)
	}
	if err := sandbox.EnsureInaccessible(); err != nil {
		log.Fatal(err)
	}
	r, err := reaper.New(nil)
	if err != nil {
		log.Fatal(err)
	}
	defer r.Stop()
	variants := []struct {
		name string
		run  func() error
	}{
		{"plain", spawner(r, &spawn.Spec{Path: "/bin/true"})},
		{"shim", spawner(r, &spawn.Spec{Path: "/bin/true", Sandbox: &sandbox.Plan{}})},
		{"uuidd", spawner(r, &spawn.Spec{Path: "/bin/true", User: svc.User, Group: svc.Group, Sandbox: plan})},
		{"bwrap", bwrap(r, svc, plan)},
	}
	times := make([][]time.Duration, len(variants))
	for i := 0; i < *n; i++ {
		for v, vr := range variants {
			start := time.Now()
			if err := vr.run(); err != nil {
				log.Fatalf("%s: %v", vr.name, err)
			}
			times[v] = append(times[v], time.Since(start))
		}
	}
	med := make([]time.Duration, len(variants))
	fmt.Printf("%-6s %10s %10s   (%d starts of /bin/true each, interleaved)\n", "", "median", "p90", *n)
	for v, vr := range variants {
		sort.Slice(times[v], func(i, j int) bool { return times[v][i] < times[v][j] })
		med[v] = times[v][len(times[v])/2]
		fmt.Printf("%-6s %10v %10v\n", vr.name, med[v].Round(time.Microsecond), times[v][len(times[v])*9/10].Round(time.Microsecond))
	}
	fmt.Printf("uuidd/plain %.2f, uuidd/shim %.2f, uuidd/bwrap %.2f; sandbox setup over the shim: %v (median)\n",
		ratio(med[2], med[0]), ratio(med[2], med[1]), ratio(med[2], med[3]), (med[2] - med[1]).Round(time.Microsecond))
}

func ratio(a, b time.Duration) float64 { return float64(a) / float64(b) }

func spawner(r *reaper.Reaper, s *spawn.Spec) func() error {
	return func() error {
		p, err := spawn.Spawn(r, s)
		if err != nil {
			return err
		}
		if err := p.WaitExec(); err != nil {
			return err
		}
		if st := <-p.Exit; st.Wait.ExitStatus() != 0 {
			return fmt.Errorf("exit %v", st)
		}
		return nil
	}
}

// bwrap runs /bin/true under bubblewrap with the sandbox closest to plan.
func bwrap(r *reaper.Reaper, svc *units.Service, plan *sandbox.Plan) func() error {
	path, err := exec.LookPath("bwrap")
	if err != nil {
		log.Fatal("bwrap is not installed (apt-get install bubblewrap)")
	}
	usr, err := user.Lookup(svc.User)
	if err != nil {
		log.Fatal(err)
	}
	prog := plan.Filters[len(plan.Filters)-1].Insns // SystemCallFilter=
	raw := unsafe.Slice((*byte)(unsafe.Pointer(&prog[0])), len(prog)*int(unsafe.Sizeof(prog[0])))
	memfd, err := unix.MemfdCreate("seccomp", 0)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := unix.Write(memfd, raw); err != nil {
		log.Fatal(err)
	}
	args := []string{"bwrap", "--unshare-user", "--uid", usr.Uid, "--gid", usr.Gid,
		"--ro-bind", "/", "/", "--bind", "/var/lib/libuuid", "/var/lib/libuuid",
		"--tmpfs", "/home", "--tmpfs", "/root", "--dev", "/dev", "--bind", "/proc", "/proc",
		"--ro-bind", "/proc/sys", "/proc/sys", "--ro-bind", "/sys", "/sys",
		"--cap-drop", "ALL", "--seccomp", "3", "/bin/true"}
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		log.Fatal(err)
	}
	attr := &syscall.ProcAttr{Files: []uintptr{devnull.Fd(), devnull.Fd(), devnull.Fd(), uintptr(memfd)},
		Sys: &syscall.SysProcAttr{Setsid: true}}
	return func() error {
		if _, err := unix.Seek(memfd, 0, 0); err != nil {
			return err
		}
		c, err := r.Start(func() (int, error) { return syscall.ForkExec(path, args, attr) })
		if err != nil {
			return err
		}
		if st := <-c; st.Wait.ExitStatus() != 0 {
			return fmt.Errorf("bwrap exit %v", st)
		}
		return nil
	}
}
