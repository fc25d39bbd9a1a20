package handoff

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// The kinds of file sockd sends, named as the units' Listen*= kinds. A
// receiver checks that a file of one of these kinds is what it says
// (SO_TYPE, or fstat for a FIFO); other kinds pass unchecked.
const (
	KindStream           = "stream"            // ListenStream=: SOCK_STREAM
	KindDatagram         = "datagram"          // ListenDatagram=: SOCK_DGRAM
	KindSequentialPacket = "sequential-packet" // ListenSequentialPacket=: SOCK_SEQPACKET
	KindFIFO             = "fifo"              // ListenFIFO=: a named pipe
	// KindStored is an fd store entry (FDSTORE=1): any kind of file.
	KindStored = "stored"
)

// File is one named fd and its metadata.
type File struct {
	Unit        string // the unit's name, "web"
	Name        string // the fd's name, as in LISTEN_FDNAMES
	Kind        string // KindStream, KindDatagram, …
	Addr        string // the address as written in the unit: "127.0.0.1:80", "/run/web.sock"
	Fingerprint string // the listener and its bind options (sockd's units.Fingerprint)
	// Fd is the descriptor. Received ones are close-on-exec and owned
	// by the receiver; Send does not close the ones it sends.
	Fd int
}

// CloseAll closes the fd of every file, ignoring errors, and sets it to -1.
func CloseAll(files []File) {
	for i := range files {
		if files[i].Fd >= 0 {
			unix.Close(files[i].Fd)
			files[i].Fd = -1
		}
	}
}

func (f *File) meta() fileMeta {
	return fileMeta{Unit: f.Unit, Name: f.Name, Kind: f.Kind, Addr: f.Addr, Fingerprint: f.Fingerprint}
}

// Send sends files as one set over conn, a SOCK_SEQPACKET socket, in as
// many chunks as MaxFDsPerMessage and MaxMessageSize require. The fds
// stay open and owned by the caller: the receiver gets its own.
func Send(conn *net.UnixConn, files []File) error {
	rc, err := rawSeqpacket(conn)
	if err != nil {
		return err
	}
	if len(files) > MaxFiles {
		return fmt.Errorf("handoff: %d files exceed %d", len(files), MaxFiles)
	}
	chunks, err := chunk(files)
	if err != nil {
		return err
	}
	for i, c := range chunks {
		h := &header{Type: typeFiles, Chunk: i, Chunks: len(chunks), Total: len(files), Files: make([]fileMeta, len(c))}
		fds := make([]int, len(c))
		for j := range c {
			h.Files[j], fds[j] = c[j].meta(), c[j].Fd
		}
		b, err := encodePacket(h)
		if err != nil {
			return err
		}
		if err := sendPacket(rc, b, fds); err != nil {
			return fmt.Errorf("%w (chunk %d of %d)", err, i+1, len(chunks))
		}
	}
	return nil
}

// envelope is room left in every files packet for its prefix and the
// fields other than the file list.
const envelope = 256

// chunk splits files into chunks of at most MaxFDsPerMessage files whose
// packets fit MaxMessageSize. An empty set is one empty chunk.
func chunk(files []File) ([][]File, error) {
	out := [][]File{nil}
	size := envelope
	for i := range files {
		m := files[i].meta()
		if err := m.check(); err != nil {
			return nil, fmt.Errorf("handoff: file %d (%s %s): %w", i, files[i].Unit, files[i].Name, err)
		}
		if files[i].Fd < 0 {
			return nil, fmt.Errorf("handoff: file %d (%s %s): no fd", i, files[i].Unit, files[i].Name)
		}
		b, _ := json.Marshal(m) // strings only: cannot fail
		n := len(b) + 1         // and a comma
		if envelope+n > MaxMessageSize {
			return nil, fmt.Errorf("handoff: file %d (%s %s): metadata of %d bytes does not fit a packet", i, files[i].Unit, files[i].Name, n)
		}
		last := len(out) - 1
		if len(out[last]) == MaxFDsPerMessage || size+n > MaxMessageSize {
			out, last, size = append(out, nil), last+1, envelope
		}
		out[last] = append(out[last], files[i])
		size += n
	}
	return out, nil
}

// Receive reads one set of files sent with Send. If the peer answered
// with an error instead, it returns a *RemoteError. On any failure every
// fd received so far is closed; see the package doc.
func Receive(conn *net.UnixConn) ([]File, error) {
	rc, err := rawSeqpacket(conn)
	if err != nil {
		return nil, err
	}
	buf, oob := make([]byte, MaxMessageSize), make([]byte, oobSize)
	var files []File
	var first *header
	for next := 0; ; next++ {
		h, fds, err := receiveChunk(rc, buf, oob, progress{first, next, len(files)})
		if err != nil {
			CloseAll(files)
			return nil, err
		}
		if first == nil {
			first = h
			files = make([]File, 0, h.Total)
			if h.Chunks > 1 {
				growFDTable(h.Total)
			}
		}
		for i, m := range h.Files {
			files = append(files, File{Unit: m.Unit, Name: m.Name, Kind: m.Kind, Addr: m.Addr, Fingerprint: m.Fingerprint, Fd: fds[i]})
		}
		if h.Chunk == h.Chunks-1 {
			return files, nil
		}
	}
}

// progress is where a Receive is: the set's first chunk (nil before it),
// the number of the chunk expected next, and the files received so far.
type progress struct {
	first     *header
	next, got int
}

// receiveChunk reads the next files packet of a set. It returns the
// packet's fds in the order of its header, each checked against its
// kind, or an error after closing them.
func receiveChunk(rc syscall.RawConn, buf, oob []byte, p progress) (*header, []int, error) {
	n, fds, err := recvPacket(rc, buf, oob)
	if errors.Is(err, io.EOF) {
		if p.first == nil {
			return nil, nil, fmt.Errorf("handoff: peer hung up before answering: %w", io.ErrUnexpectedEOF)
		}
		return nil, nil, fmt.Errorf("handoff: peer hung up after %d of %d files: %w", p.got, p.first.Total, io.ErrUnexpectedEOF)
	}
	if err != nil {
		return nil, nil, err
	}
	h, err := decodePacket(buf[:n])
	if err == nil {
		err = h.follows(p, len(fds))
	}
	if err == nil {
		err = checkKinds(h.Files, fds)
	}
	if err != nil {
		closeFDs(fds)
		return nil, nil, err
	}
	return h, fds, nil
}

// follows checks that h, a decoded packet carrying nfds fds, is the chunk
// the set expects next.
func (h *header) follows(p progress, nfds int) error {
	switch {
	case h.Type == typeError && nfds > 0:
		return fmt.Errorf("handoff: error packet with %d fds", nfds)
	case h.Type == typeError:
		return &RemoteError{Message: h.Error}
	case h.Type != typeFiles:
		return fmt.Errorf("handoff: got a %s packet, want files", h.Type)
	case nfds != len(h.Files):
		return fmt.Errorf("handoff: chunk %d lists %d files but carries %d fds", h.Chunk, len(h.Files), nfds)
	case h.Chunk != p.next:
		return fmt.Errorf("handoff: got chunk %d, want chunk %d", h.Chunk, p.next)
	case p.first != nil && (h.Chunks != p.first.Chunks || h.Total != p.first.Total):
		return fmt.Errorf("handoff: chunk %d announces %d chunks and %d files, chunk 0 announced %d and %d",
			h.Chunk, h.Chunks, h.Total, p.first.Chunks, p.first.Total)
	case p.got+len(h.Files) > h.Total:
		return fmt.Errorf("handoff: %d files received, the header announced %d", p.got+len(h.Files), h.Total)
	case h.Chunk == h.Chunks-1 && p.got+len(h.Files) != h.Total:
		return fmt.Errorf("handoff: the last chunk ends the set at %d files, the header announced %d", p.got+len(h.Files), h.Total)
	}
	return nil
}

// checkKinds checks that every fd is the kind of file its metadata says.
func checkKinds(metas []fileMeta, fds []int) error {
	for i, m := range metas {
		if err := checkKind(m.Kind, fds[i]); err != nil {
			return fmt.Errorf("handoff: file %s %s (%s): %w", m.Unit, m.Name, m.Addr, err)
		}
	}
	return nil
}

func checkKind(kind string, fd int) error {
	var typ int
	switch kind {
	case KindStream:
		typ = unix.SOCK_STREAM
	case KindDatagram:
		typ = unix.SOCK_DGRAM
	case KindSequentialPacket:
		typ = unix.SOCK_SEQPACKET
	case KindFIFO:
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			return os.NewSyscallError("fstat", err)
		}
		if st.Mode&unix.S_IFMT != unix.S_IFIFO {
			return fmt.Errorf("kind %s but the fd is not a FIFO (mode %#o)", kind, st.Mode)
		}
		return nil
	default:
		return nil
	}
	got, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE)
	if err != nil {
		return fmt.Errorf("kind %s: %w", kind, os.NewSyscallError("getsockopt SO_TYPE", err))
	}
	if got != typ {
		return fmt.Errorf("kind %s but the socket's type is %d, not %d", kind, got, typ)
	}
	return nil
}

// growFDTable makes room for n more fds in the process's fd table at
// once. The kernel grows the table by doubling, and each step of a
// multithreaded process waits for an RCU grace period: receiving 10,000
// fds into a fresh process took twice as long as into one whose table
// was already large. Dup'ing an fd to the highest number needed, then
// closing it, grows the table in one step. Errors (a low RLIMIT_NOFILE)
// are ignored: the table then grows as the fds arrive, as before.
func growFDTable(n int) {
	var lim unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &lim) != nil {
		return
	}
	target := min(uint64(n)+64, lim.Cur-1)
	if target < 128 {
		return
	}
	if fd, err := unix.FcntlInt(0, unix.F_DUPFD_CLOEXEC, int(target)); err == nil {
		unix.Close(fd)
	} else if fd, err := unix.FcntlInt(1, unix.F_DUPFD_CLOEXEC, int(target)); err == nil {
		unix.Close(fd) // fd 0 may be closed; any open fd will do
	}
}
