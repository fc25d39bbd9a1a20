package daemon

import (
	"fmt"
	"os"

	sddaemon "github.com/coreos/go-systemd/v22/daemon"
)

// notifyManager tells the service manager that started sockd, if any,
// how it is doing, with the sd_notify(3) protocol: "READY=1" once every
// unit is supervised (so that sockd runs as a systemd Type=notify
// service), "STOPPING=1" when it begins to stop. It does nothing when
// NOTIFY_SOCKET is unset. sockd leaves NOTIFY_SOCKET in its own
// environment, so that a generation started by an upgrade in place
// (same pid) can say READY=1 and STOPPING=1 too; services never see it, since their
// environment is built afresh (supervise.baseEnv).
func (d *Daemon) notifyManager(state string) {
	msg := fmt.Sprintf("%s\nMAINPID=%d\nSTATUS=generation %d, %d unit(s)", state, os.Getpid(), d.generation, len(d.units))
	if _, err := sddaemon.SdNotify(false, msg); err != nil {
		d.log.Warn("cannot notify the service manager", "state", state, "err", err)
	}
}
