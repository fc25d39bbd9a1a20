package daemon

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sockd/sockd/internal/control"
	"github.com/sockd/sockd/internal/controlserver"
	"github.com/sockd/sockd/internal/logring"
	"github.com/sockd/sockd/internal/supervise"
	"github.com/sockd/sockd/units"
)

// ControlConfig configures the control API (see ServeControl).
type ControlConfig struct {
	// Group names the group (a name or a numeric gid) whose members may
	// make changes through the control socket, which is then mode 0660
	// and owned by that group; empty means mode 0600 and only root and
	// sockd's own user may make changes.
	Group string
	// Ring, if set, is the log ring installed in front of the daemon's
	// log handler; status then shows each unit's last log records.
	Ring *logring.Ring
	// Metrics, if set, is served at /metrics (see NewMetrics).
	Metrics http.Handler
}

// shutdownGrace is how long requests in progress may finish when the
// control server stops.
const shutdownGrace = 2 * time.Second

// ServeControl serves the control API on RUNTIME_DIR/control.sock until
// ctx is done or stop is called. stop shuts the server down and waits
// until its goroutines have returned; call it before Run returns (or
// after: it is idempotent).
func (d *Daemon) ServeControl(ctx context.Context, cfg ControlConfig) (stop func(), err error) {
	gid := -1
	if cfg.Group != "" {
		if gid, err = lookupGroup(cfg.Group); err != nil {
			return nil, fmt.Errorf("control group: %w", err)
		}
		// The group may traverse the private runtime directory to reach
		// the socket (0660), no more.
		if err := d.rundir.AllowGroup(gid); err != nil {
			return nil, fmt.Errorf("control group: %w", err)
		}
	} else if err := d.rundir.Private(); err != nil {
		return nil, err
	}
	srv, err := controlserver.Listen(controlserver.Config{
		Path:    filepath.Join(d.rundir.Path(), control.SocketName),
		Dir:     d.rundir, // bound and locked through the open directory
		Group:   gid,
		Backend: &controlBackend{d: d, ring: cfg.Ring, ctx: ctx},
		Log:     d.log.With("component", "control"),
		Metrics: cfg.Metrics,
	})
	if err != nil {
		return nil, err
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(); err != nil {
			d.log.Error("control socket", "err", err)
		}
	}()
	d.log.Info("control socket ready", "path", srv.Path(), "group", cfg.Group)
	d.stopControl = untilStopped(ctx, func() {
		sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
		defer cancel()
		srv.Shutdown(sctx)
		<-done
	})
	return d.stopControl, nil
}

// untilStopped runs shutdown once ctx is done or the returned stop is
// called, on a goroutine of its own; stop waits until shutdown returned
// and may be called more than once.
func untilStopped(ctx context.Context, shutdown func()) (stop func()) {
	stopped, shut := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(shut)
		select {
		case <-ctx.Done():
		case <-stopped:
		}
		shutdown()
	}()
	var once sync.Once
	return func() {
		once.Do(func() { close(stopped) })
		<-shut
	}
}

func lookupGroup(name string) (int, error) {
	if n, err := strconv.Atoi(name); err == nil && n >= 0 {
		return n, nil
	}
	g, err := user.LookupGroup(name)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(g.Gid)
}

// controlBackend is the daemon as the control server sees it.
type controlBackend struct {
	d    *Daemon
	ring *logring.Ring
	ctx  context.Context // the daemon's: requests end when it is done
}

// find returns the supervisor of a canonical unit name and the kind of
// unit the name designates ("socket" or "service").
func (b *controlBackend) find(name string) (*supervise.Unit, string, error) {
	n, err := units.ParseUnitName(name)
	if err != nil {
		return nil, "", control.Errorf(http.StatusBadRequest, name, "%v", err)
	}
	for _, u := range b.d.Units() {
		cfg := u.Config()
		switch n.Suffix {
		case "socket":
			if cfg.Name+".socket" == name {
				return u, "socket", nil
			}
		case "service":
			if cfg.Service.Name == name {
				return u, "service", nil
			}
			if n.Template && n.Instance != "" && cfg.Service.Name == units.InstanceName(name, "") {
				return u, kindInstance, nil
			}
		}
	}
	return nil, "", control.NoSuchUnit(name)
}

func (b *controlBackend) Units(ctx context.Context) ([]control.Unit, error) {
	us := b.d.Units()
	sort.Slice(us, func(i, j int) bool { return us[i].Name() < us[j].Name() })
	out := make([]control.Unit, len(us))
	for i, u := range us {
		out[i] = b.view(u, "socket", false)
	}
	invalid := b.d.Invalid()
	names := make([]string, 0, len(invalid))
	for name := range invalid {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		out = append(out, invalidView(name, invalid[name]))
	}
	return append(out, b.d.maskedViews()...), nil
}

// invalidView shows a unit that failed to load, as systemctl shows a unit
// with LOAD=bad-setting: inactive, with the reasons.
func invalidView(name string, errs []string) control.Unit {
	return control.Unit{Name: name + ".socket", Kind: "socket", Socket: name + ".socket",
		ActiveState: "inactive", SubState: "bad-setting", State: "invalid", Result: "bad-setting", Errors: errs}
}

func (b *controlBackend) Unit(ctx context.Context, name string) (control.Unit, error) {
	u, kind, err := b.find(name)
	if err != nil {
		if errs, ok := b.d.Invalid()[strings.TrimSuffix(name, ".socket")]; ok && strings.HasSuffix(name, ".socket") {
			return invalidView(strings.TrimSuffix(name, ".socket"), errs), nil
		}
		if v, ok := b.d.maskedView(name); ok {
			return v, nil
		}
		return control.Unit{}, err
	}
	if kind == kindInstance {
		return b.instanceView(u, name)
	}
	return b.view(u, kind, true), nil
}

func (b *controlBackend) view(u *supervise.Unit, kind string, withLog bool) control.Unit {
	cfg := u.Config()
	st := u.Status()
	v := control.Unit{
		Name:        cfg.Name + ".socket",
		Kind:        kind,
		Socket:      cfg.Name + ".socket",
		Service:     cfg.Service.Name,
		Description: cfg.Socket.Description,
		State:       string(st.State),
		Result:      st.Result,
		Since:       st.Since,
		Activations: st.Activations,
		Restarts:    st.Restarts,
		StatusText:  st.StatusText,
		Condition:   st.Condition,
		Files:       filesOf(cfg, kind),
		Listeners:   []control.Listener{},
	}
	if cfg.Socket.Accept { // ACCEPTED counts connections given an instance
		v.Activations, v.Refused, v.Connections = st.Accepted, st.Refused, st.Connections
		if kind == "socket" {
			for _, inst := range u.Instances() {
				v.Instances = append(v.Instances, control.Instance{Name: inst.Name, PID: inst.PID, Remote: inst.Remote, Since: inst.Since})
			}
		}
	}
	if kind == "service" {
		v.Name, v.Description = cfg.Service.Name, cfg.Service.Description
		v.FDStore, v.FDStoreMax = fdStoreOf(st.FDStore), cfg.Service.FileDescriptorStoreMax
	}
	if v.Description == "" {
		v.Description = cfg.Socket.Description
	}
	v.ActiveState, v.SubState = control.States(kind, v.State, v.Result)
	if st.State == supervise.StateStarting || st.State == supervise.StateRunning || st.State == supervise.StateStopping {
		v.MainPID = st.MainPID
	}
	v.DrainingPIDs = st.DrainingPIDs // graceful.go
	if e := st.LastExit; e != nil {
		v.LastExit = &control.Exit{Code: e.Code, Status: e.Status, Text: e.String()}
	}
	for _, l := range u.Listeners() {
		v.Listeners = append(v.Listeners, control.Listener{Listen: l.Spec().Address.String(), Type: listenerType(l.Spec().Kind), Closed: l.Refusing()})
	}
	if e, ok := b.d.bindFailed.get(cfg.Name); ok && kind == "socket" { // bindfail.go
		v.ActiveState, v.SubState, v.State, v.Result = "failed", "failed", "failed", "resources"
		v.StatusText = e
		for _, l := range cfg.Socket.Listeners {
			v.Listeners = append(v.Listeners, control.Listener{Listen: l.Address.String(), Type: listenerType(l.Kind)})
		}
	}
	if withLog && b.ring != nil {
		v.Log = b.ring.Tail(cfg.Name, logring.StatusLines, time.Time{})
	}
	return v
}

// listenerType names a listener kind as systemctl list-sockets does.
func listenerType(k units.ListenerKind) string {
	switch k {
	case units.Stream:
		return "Stream"
	case units.Datagram:
		return "Datagram"
	case units.SequentialPacket:
		return "SequentialPacket"
	case units.FIFO:
		return "FIFO"
	case units.Netlink:
		return "Netlink"
	case units.Special:
		return "Special"
	case units.MessageQueue:
		return "MessageQueue"
	case units.USBFunction:
		return "USBFunction"
	}
	return string(k)
}

// filesOf returns the files of the socket or the service part of a unit:
// NAME.socket and its drop-ins, or NAME.service and its drop-ins; a TOML
// file describes both.
func filesOf(cfg *units.Unit, kind string) []string {
	var out []string
	for _, f := range cfg.Files {
		if strings.HasSuffix(f, ".toml") || strings.Contains(filepath.Base(filepath.Dir(f))+"/"+filepath.Base(f), "."+kind) {
			out = append(out, f)
		}
	}
	if out == nil {
		out = append([]string{}, cfg.Files...)
	}
	return out
}

func (b *controlBackend) Do(ctx context.Context, name string, a control.Action) error {
	u, kind, err := b.find(name)
	if err != nil && a == control.Start && isSocketInstance(name) {
		return b.d.StartInstance(name) // template.go
	}
	if err != nil {
		return err
	}
	// A request in progress ends when sockd stops.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(b.ctx, cancel)()
	var op supervise.Op
	switch {
	case kind == kindInstance:
		return b.doInstance(ctx, u, name, a)
	case kind == "socket" && a == control.Start:
		if u.Status().State == supervise.StateStopped {
			return b.d.StartSocket(u.Config().Name)
		}
		if u.Status().State != supervise.StateFailed {
			return nil // already listening
		}
		op = supervise.OpReset
	case kind == "socket" && a == control.Stop:
		return b.d.StopSocket(u.Config().Name)
	case kind == "socket" && a == control.Restart:
		if err := b.d.StopSocket(u.Config().Name); err != nil {
			return err
		}
		return b.d.StartSocket(u.Config().Name)
	case kind == "socket" && a == control.ReloadUnit:
		return control.Errorf(http.StatusBadRequest, name, "a socket unit cannot be reloaded; reload %s", u.Config().Service.Name)
	case u.Config().Socket.Accept && a != control.Stop:
		return control.Errorf(http.StatusBadRequest, name, "%s: a template; sockd starts an instance of it per connection", a)
	case a == control.Start:
		op = supervise.OpStart
	case a == control.Stop:
		op = supervise.OpStop
	case a == control.Restart:
		op = supervise.OpRestart
	case a == control.ReloadUnit:
		op = supervise.OpReload
	default:
		return control.Errorf(http.StatusBadRequest, name, "unknown action %q", a)
	}
	err = u.Do(ctx, op)
	switch {
	case errors.Is(err, supervise.ErrStopped) || (err != nil && b.ctx.Err() != nil):
		return control.Errorf(http.StatusServiceUnavailable, name, "sockd is stopping")
	case err != nil:
		return err
	}
	return nil
}

func (b *controlBackend) Reload(ctx context.Context) error {
	return b.d.Reload(ctx)
}

func (b *controlBackend) Files(ctx context.Context, name string) ([]control.File, error) {
	u, kind, err := b.find(name)
	if err != nil {
		return nil, err
	}
	if kind == kindInstance {
		kind = "service"
	}
	var out []control.File
	for _, p := range filesOf(u.Config(), kind) {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, control.Errorf(http.StatusInternalServerError, name, "%v", err)
		}
		out = append(out, control.File{Path: p, Content: string(data)})
	}
	return out, nil
}

// Per-connection instances of Accept=yes units ("echo@0-….service").

// kindInstance is what find returns for the name of an instance of an
// Accept=yes unit's template.
const kindInstance = "instance"

// instanceView shows an instance of an Accept=yes unit's template: a
// live one as a running service, with its main pid, since when it runs,
// and (as its status text, an instance having no STATUS= of its own) the
// peer it serves; any other as inactive, as systemctl shows an instance
// that is not loaded.
func (b *controlBackend) instanceView(u *supervise.Unit, name string) (control.Unit, error) {
	cfg := u.Config()
	v := control.Unit{
		Name:        name,
		Kind:        "service",
		Socket:      cfg.Name + ".socket",
		Service:     name,
		Description: cfg.Service.Description,
		State:       string(supervise.StateListening),
		Files:       filesOf(cfg, "service"),
		Listeners:   []control.Listener{},
	}
	if inst, ok := u.Instance(name); ok {
		v.State, v.Since, v.MainPID = string(supervise.StateRunning), inst.Since, inst.PID
		v.StatusText = "connection from " + inst.Remote
	}
	if v.Description == "" {
		v.Description = cfg.Socket.Description
	}
	v.ActiveState, v.SubState = control.States("service", v.State, "")
	return v, nil
}

// doInstance stops one instance; instances are started by connections
// only.
func (b *controlBackend) doInstance(ctx context.Context, u *supervise.Unit, name string, a control.Action) error {
	if a != control.Stop {
		return control.Errorf(http.StatusBadRequest, name, "%s: per-connection instances are started by connections only", a)
	}
	err := u.StopInstance(ctx, name)
	if errors.Is(err, supervise.ErrNoInstance) {
		return nil // not running: stopped already
	}
	return err
}

// fdStoreOf converts a unit's fd store for the control API.
func fdStoreOf(store []supervise.StoredFD) []control.StoredFD {
	var out []control.StoredFD
	for _, e := range store {
		out = append(out, control.StoredFD{Name: e.Name, Type: e.Type, Dev: e.Dev, Inode: e.Inode, Target: e.Target})
	}
	return out
}

// Daemon describes the running sockd (controlserver.Upgrader).
func (b *controlBackend) Daemon(ctx context.Context) (control.Daemon, error) {
	return b.d.Info(), nil
}

// Upgrade checks the new binary and prepares the re-execution
// (controlserver.Upgrader); a refusal is answered 409 with the reason.
func (b *controlBackend) Upgrade(ctx context.Context, req control.UpgradeRequest) (control.Daemon, func(), error) {
	info, commit, err := b.d.Upgrade(ctx, req.Binary)
	if err != nil {
		return info, nil, control.Errorf(http.StatusConflict, "", "%v; sockd (pid %d) keeps running unchanged", err, info.PID)
	}
	return info, commit, nil
}
