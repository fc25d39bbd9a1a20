// Package activation creates the listening sockets and FIFOs of a socket
// unit the way systemd.socket(5) describes, and watches them for the first
// readable event.
//
// # Binding
//
// Bind creates every listener of a units.Socket in declaration order. If
// one fails, the ones already made are closed (and the file system nodes,
// directories and symlinks created for them are removed) and the error
// names the unit, the listen address and the errno:
//
//	unit web: listen 127.0.0.1:80: bind: address already in use
//
// The errno is wrapped, so errors.Is(err, unix.EADDRINUSE) works.
//
// Sockets are created with SOCK_CLOEXEC and left blocking: the open file
// description is shared with the services, which expect what systemd hands
// them by default (NonBlocking=no). A Listener keeps the raw descriptor;
// never wrap it in an *os.File and call Fd, which would change the shared
// blocking mode. FIFOs are opened O_RDWR|O_NONBLOCK|O_NOFOLLOW as systemd
// does; whoever passes them on decides the final blocking mode.
//
// The order follows systemd's socket_address_listen: socket, IPV6_V6ONLY,
// BindToDevice, ReusePort, FreeBind, Transparent, SO_REUSEADDR, bind, then
// the per-socket options of systemd.socket(5) (KeepAlive... PassPacketInfo;
// IPTOS before Priority, since setting IP_TOS also sets SO_PRIORITY), and
// listen last, so that no connection is queued before every option is
// in place.
//
// # Which option failures are fatal
//
// systemd logs and ignores almost every failed setsockopt. sockd is
// stricter: an option that the unit asks for and that cannot be set fails
// the unit with an error naming the directive and the socket option, e.g.
// "Mark: setsockopt SO_MARK: operation not permitted". Options that do
// not apply to a listener's family or type are skipped, not failed: the
// IP-only options (BindToDevice, ReusePort, FreeBind, Transparent, IPTOS,
// IPTTL, Broadcast, PassPacketInfo) on Unix, vsock and FIFO listeners, the
// TCP options (KeepAlive*, NoDelay, DeferAcceptSec) on anything but TCP,
// PassCredentials on anything but AF_UNIX.
//
// The one exception is ReceiveBuffer= and SendBuffer=. Like systemd
// (fd_set_rcvbuf), sockd sets SO_RCVBUF, reads the value back, and when the
// kernel capped it below the request (net.core.rmem_max/wmem_max) tries
// SO_RCVBUFFORCE. That needs CAP_NET_ADMIN; units written for PID 1 often
// ask for more than the unprivileged limit (journald asks for 8M), so an
// EPERM there is a warning in Listener.Warnings, not a failure, and the
// socket keeps the capped size. Any other error is fatal.
//
// Durations are rounded up to whole seconds (a non-zero KeepAliveTimeSec=
// or DeferAcceptSec= below one second becomes 1, where systemd would set 0).
// BindIPv6Only=default leaves IPV6_V6ONLY alone, so a bare port is dual
// stack unless net.ipv6.bindv6only=1, as with systemd. A bare port on a
// kernel without IPv6 binds 0.0.0.0 instead. IPTOS= and IPTTL= on an IPv6
// socket set IPV6_TCLASS and IPV6_UNICAST_HOPS and also IP_TOS and IP_TTL,
// which apply to IPv4 traffic on a dual-stack socket.
//
// # File system nodes
//
// Parent directories are created with exactly DirectoryMode (the umask is
// worked around with fchmod, not applied) and, on failure, removed again.
// Existing directories are left as they are. A zero SocketMode or
// DirectoryMode means the systemd default, 0666 or 0755.
//
// Permissions never pass through a looser state, and the process umask is
// never changed (it is process-wide, so changing it would race with every
// other goroutine creating files): the socket's inode is fchmod'ed to 0
// before bind, so the node appears with mode 0 (the socket inode gets its
// usual 0777 back afterwards); the node is then opened with
// O_PATH|O_NOFOLLOW, checked to be a socket owned by sockd's user, chowned
// to SocketUser/SocketGroup and only then chmod'ed to SocketMode, both
// through that descriptor, so a node swapped in the meantime is never
// touched. A FIFO is made with mode 0600, opened, and fchown'ed and
// fchmod'ed the same way. SocketUser alone also sets the group to the
// user's primary group, as systemd does.
//
// If bind finds the path taken (EADDRINUSE), the node is probed: a socket
// that answers connect (or refuses the probe for its type, or has a full
// backlog) is live and the unit fails ("a live socket is at the path");
// a socket that refuses the connection is stale and is removed, and bind
// is tried once more. (A live stream socket sees the probe as a connection
// that closes at once.) Anything that is not a socket (a regular file, a
// symlink, a directory) is never removed: the unit fails. systemd unlinks
// whatever is there; sockd does not.
//
// An existing FIFO is reused, with its mode and owner set to the unit's.
// Abstract sockets ("@name") get no mode, owner or removal. Paths must fit
// in sun_path: 107 bytes plus the NUL; abstract names too, "@" included
// (one byte less than the kernel allows, a limit of x/sys/unix).
//
// Symlinks= are made (with parent directories) for a unit's single path
// listener; a unit with Symlinks= and more than one path listener fails, as
// does a symlink that cannot be made (systemd only logs it). An existing
// symlink to the node is kept; another symlink at that place is replaced
// only with RemoveOnStop=, as systemd does; any other file there fails.
//
// Listener.Close only closes the descriptor: the node stays, so a new sockd
// generation that inherited the socket keeps its path. Listener.Remove
// unlinks the node and the symlinks when the unit has RemoveOnStop=, and
// only if they are still the ones this Listener made (same device and inode
// for the node, same target for a symlink). An inode number can be reused
// once the node is deleted, so a node that someone else deleted and
// recreated may still be taken for ours.
//
// # Watching
//
// A Watcher owns one epoll descriptor and one goroutine. Each added
// descriptor is level-triggered and one-shot: the first readable event is
// delivered to the callback and disarms the descriptor, which then stays
// quiet while the service runs, until Rearm. The goroutine waits in Go's
// poller on the epoll descriptor itself (a duplicate of it, so no thread
// is held while nothing happens), then collects the events with a
// non-blocking epoll_wait; an eventfd wakes it for Close. The listening
// descriptors themselves never enter the Go netpoller (it would set
// O_NONBLOCK on the open file description the services share).
//
// # Adopting inherited descriptors
//
// Matches tells whether a descriptor sockd inherited (LISTEN_FDS) is the
// socket or FIFO a units.Listener describes, so the daemon can adopt it
// instead of binding.
package activation
