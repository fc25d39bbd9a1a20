// Package handoff passes named file descriptors between processes over an
// AF_UNIX socket with SCM_RIGHTS (unix(7), cmsg(3)): sockd hands a unit's
// listening sockets to a permitted outside process with it, and a
// takeover (sockd --takeover) hands every listener to the next sockd the
// same way. It owns the wire format, both ends of one exchange (Send and
// Receive, SendRequest and ReceiveRequest, Server) and the one-call client
// services use (Listeners). It imports only the standard library and
// golang.org/x/sys/unix, so that any service can import it.
//
// # Transport
//
// The socket is SOCK_SEQPACKET: every sendmsg is one packet, read whole by
// one recvmsg, and the fds of a packet arrive with that packet and no
// other. A SOCK_STREAM socket would need length prefixes and a reader
// careful never to read across the boundary of a message carrying fds (the
// kernel attaches them to the first byte of the write); with SEQPACKET the
// kernel keeps the boundaries, reports an over-long packet with MSG_TRUNC
// and the peer's hang-up as a zero-length read. Send and Receive refuse a
// socket of any other type.
//
// # Packets
//
// A packet is the 4 bytes "SKDH", the major and the minor version of the
// protocol (one byte each), then a request, an error, or one chunk of a
// set of files. A receiver refuses a packet whose major version it does
// not speak (ErrVersion); a minor version may only add to the format. A
// packet is at most MaxMessageSize bytes.
//
// Requests and errors are one JSON object, whose fields a receiver does
// not know it ignores. A chunk of files is JSON too, or, since version
// 1.2, compact: a Server answers a request of version 1.2 or later in
// the compact encoding, any other in JSON, which every peer of major
// version 1 reads, and Receive reads both.
//
//	{"type":"request","op":"listeners","unit":"web"}
//	{"type":"error","error":"unit web.socket: not loaded"}
//	{"type":"files","chunk":0,"chunks":3,"total":600,"files":[
//	    {"unit":"web","name":"http","kind":"stream","addr":"127.0.0.1:80","fingerprint":"…"}, …]}
//
// The compact encoding of a chunk is the byte 'F' (no JSON text starts
// with it), then unsigned varints (encoding/binary's Uvarint, of at most
// 4 bytes): the chunk's number, how many chunks and files the set has,
// how many files this chunk lists, and how many fields each file has (5
// since 1.2); then each file's fields, a varint length and that many
// bytes each: unit, name, kind, addr, fingerprint. A receiver skips the
// fields a later minor version adds after these, and any bytes after
// the last file. Decoding JSON was the largest cost of a handoff of
// 10,000 listeners.
//
//	SKDH 0x01 0x02 'F' 0x00 0x03 0xd8 0x04 0xfd 0x01 0x05
//	    0x03 "web" 0x04 "http" 0x06 "stream" 0x0c "127.0.0.1:80" 0x02 "fp" …
//
// A set of files is sent as one or more "files" packets, numbered from 0;
// each carries at most MaxFDsPerMessage fds (SCM_MAX_FD, the kernel's limit
// per sendmsg) in its SCM_RIGHTS control message, in the order of its
// file list, and every chunk repeats how many chunks and files the set
// has, so the receiver knows when it is done. There is no acknowledgement
// per chunk: a blocked sendmsg is the flow control, and a receiver that
// gives up closes the connection, which fails the sender's next sendmsg.
//
// # Receiving
//
// Every packet is read with MSG_CMSG_CLOEXEC, so a received fd never leaks
// into a process the receiver starts, and recvmsg and sendmsg are retried
// on EINTR. Every control message is parsed. On any failure (a truncated
// packet or control message, MSG_CTRUNC, a bad header, an unknown major
// version, fewer or more fds than the header lists, a hang-up before the
// last chunk) every fd received so far is closed before Receive returns
// the error.
//
// Whether an fd is the kind of file its metadata names (a socket of the
// right type, a FIFO) takes a syscall for every fd, more than receiving
// it costs, so only where the answer is not known otherwise: Listeners
// checks (CheckKinds) and, on a mismatch, closes every fd it received;
// Receive and Exchange leave it to their caller. sockd checks more
// before it adopts a listener from a takeover (its type, address and
// listening state), and net checks the type behind File.Listener and
// File.PacketConn.
//
// Receive peeks at the head of the first packet (MSG_PEEK, no control
// buffer: no fd is installed) to learn the size of the set and grows the
// process's fd table once to fit it, before the first fd arrives,
// rather than by doubling as the fds arrive (see growFDTable).
//
// # Who may connect
//
// Both ends check the other's credentials with SO_PEERCRED: by default only
// root and the same user are trusted (SameUserOrRoot). A Server may widen
// that with PeerAllowed, e.g. to a group. The client checks the server too,
// so a socket planted at the path by another user is never believed.
//
// # Blocking mode
//
// An fd received is a new reference to the same open file description as
// the sender's: file status flags such as O_NONBLOCK are shared with every
// holder, sockd and the services it starts included. File.Listener and
// File.PacketConn go through net.FileListener and net.FilePacketConn, which
// make the open file description non-blocking for every holder (Go's
// netpoller needs it; see golang/go#29277), and they never call
// (*os.File).Fd, which would make it blocking again under the listener's
// feet. sockd hands its services blocking sockets and makes a socket
// blocking again each time it starts the unit's service; a Go listener
// whose socket became blocking waits in accept(2) on a thread and its
// Close waits for the next connection. So take a unit's listeners with
// these helpers when this process, not the unit's own service, is the one
// serving them, or handle Fd with your own non-Go-netpoller code.
package handoff
