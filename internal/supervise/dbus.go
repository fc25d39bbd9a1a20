package supervise

import (
	"context"
	"fmt"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/sockd/sockd/units"
)

// waitBusName is Type=dbus's readiness (systemd.service(5)): the service
// is started once BusName= has an owner on the system bus (the
// NameOwnerChanged signal, and NameHasOwner to close the race). Without a
// reachable system bus ($DBUS_SYSTEM_BUS_ADDRESS, or
// /run/dbus/system_bus_socket) the start fails with that error.
func (u *Unit) waitBusName(ctx context.Context, svc *units.Service, deadline <-chan time.Time) bool {
	name := svc.Ready.BusName
	conn, err := dbus.ConnectSystemBus()
	if err != nil {
		u.log.Error("Type=dbus: no system bus reachable, stopping the service", "service", svc.Name, "err", err)
		u.stopServiceResult(ctx, "no system bus", false)
		u.mu.Lock()
		u.status.Result = "resources"
		u.mu.Unlock()
		return false
	}
	defer conn.Close()
	signals := make(chan *dbus.Signal, 16)
	conn.Signal(signals)
	if err := conn.AddMatchSignal(dbus.WithMatchInterface("org.freedesktop.DBus"),
		dbus.WithMatchMember("NameOwnerChanged"), dbus.WithMatchArg(0, name)); err != nil {
		u.startFailedStopping(ctx, svc, fmt.Errorf("Type=dbus: watching %s: %w", name, err))
		return false
	}
	var has bool
	if err := conn.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, name).Store(&has); err != nil {
		u.startFailedStopping(ctx, svc, fmt.Errorf("Type=dbus: NameHasOwner %s: %w", name, err))
		return false
	}
	for !has {
		select {
		case sig := <-signals:
			if len(sig.Body) == 3 {
				owner, _ := sig.Body[2].(string)
				has = sig.Body[0] == name && owner != ""
			}
		case msg := <-u.main.notifyC():
			u.notified(msg)
		case st, ok := <-u.main.exitC():
			u.mainExited(ctx, st, ok)
			return false
		case <-deadline:
			u.log.Error("service did not take its bus name in time, stopping it", "service", svc.Name, "bus_name", name, "timeout", svc.TimeoutStart)
			u.stopServiceResult(ctx, "start timed out", true)
			return false
		case <-ctx.Done():
			u.stopService(ctx, "sockd is stopping")
			return false
		}
	}
	u.log.Info("the service took its bus name", "service", svc.Name, "bus_name", name)
	return true
}

// startFailedStopping stops a started main process whose start failed.
func (u *Unit) startFailedStopping(ctx context.Context, svc *units.Service, err error) {
	u.log.Error("service failed to start, stopping it", "service", svc.Name, "err", err)
	u.stopServiceResult(ctx, err.Error(), false)
}
