package spawn

import (
	"syscall"
	"testing"
)

// BenchmarkSpawnTrue spawns /bin/true (with the fast path where there is
// one) and waits for its exit through the reaper.
func BenchmarkSpawnTrue(b *testing.B) {
	r := newReaper(b)
	s := &Spec{Path: "/bin/true", Env: []string{"PATH=/usr/bin:/bin"}}
	for b.Loop() {
		p, err := Spawn(r, s)
		if err != nil {
			b.Fatal(err)
		}
		if st := <-p.Exit; st.Wait.ExitStatus() != 0 {
			b.Fatal(st)
		}
		<-p.ExecDone()
	}
}

// BenchmarkSpawnTrueWithFD is BenchmarkSpawnTrue passing one socket, as
// for an Accept=yes connection.
func BenchmarkSpawnTrueWithFD(b *testing.B) {
	r := newReaper(b)
	p, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer syscall.Close(p[0])
	defer syscall.Close(p[1])
	s := &Spec{Path: "/bin/true", Files: []int{p[1]}, Names: []string{"connection"}}
	for b.Loop() {
		p, err := Spawn(r, s)
		if err != nil {
			b.Fatal(err)
		}
		<-p.Exit
		<-p.ExecDone()
	}
}

// BenchmarkForkExecTrue is the baseline: plain syscall.ForkExec of
// /bin/true, waited for through the reaper.
func BenchmarkForkExecTrue(b *testing.B) {
	r := newReaper(b)
	devnull, err := devNull()
	if err != nil {
		b.Fatal(err)
	}
	fd := uintptr(devnull)
	attr := &syscall.ProcAttr{Env: []string{"PATH=/usr/bin:/bin"}, Files: []uintptr{fd, fd, fd},
		Sys: &syscall.SysProcAttr{Setsid: true}}
	for b.Loop() {
		c, err := r.Start(func() (int, error) {
			return syscall.ForkExec("/bin/true", []string{"true"}, attr)
		})
		if err != nil {
			b.Fatal(err)
		}
		<-c
	}
}

// BenchmarkSpawnTrueWithFDShim is BenchmarkSpawnTrueWithFD through the
// shim.
func BenchmarkSpawnTrueWithFDShim(b *testing.B) {
	fastDisabled.Store(true)
	defer fastDisabled.Store(false)
	BenchmarkSpawnTrueWithFD(b)
}
