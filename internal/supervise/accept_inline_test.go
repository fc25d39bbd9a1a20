package supervise

import (
	"syscall"
	"testing"
	"time"

	"github.com/sockd/sockd/internal/reaper"
	"github.com/sockd/sockd/internal/spawn"
)

// TestKillGroupBeforeSetsid: a process started without waiting for its
// setsid (as Accept=yes instances are) and signalled at once, before its
// process group may exist, still dies of the signal: killGroup falls
// back to the pid, where the signal waits until the child unblocks it.
func TestKillGroupBeforeSetsid(t *testing.T) {
	r, err := reaper.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Stop()
	for i := range 50 {
		exited := make(chan reaper.Status, 1)
		p, err := spawn.SpawnDirect(r, &spawn.Spec{
			Path: "/bin/sleep", Argv: []string{"sleep", "30"},
			Stdin:         spawn.Stdio{Kind: spawn.StdioNull},
			Stdout:        spawn.Stdio{Kind: spawn.StdioNull},
			Stderr:        spawn.Stdio{Kind: spawn.StdioNull},
			NoSessionWait: true,
			Exited:        func(st reaper.Status, ok bool) { exited <- st },
		})
		if err != nil {
			t.Fatal(err)
		}
		killGroup(p.Pid, syscall.SIGTERM)
		select {
		case st := <-exited:
			if !st.Wait.Signaled() || st.Wait.Signal() != syscall.SIGTERM {
				t.Fatalf("run %d: %v; want killed by SIGTERM", i, st)
			}
		case <-time.After(10 * time.Second):
			syscall.Kill(p.Pid, syscall.SIGKILL)
			t.Fatalf("run %d: the signal sent before setsid was lost", i)
		}
		<-p.ExecDone()
	}
}
