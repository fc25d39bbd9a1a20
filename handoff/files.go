package handoff

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// The kinds of file sockd sends, named as the units' Listen*= kinds.
// CheckKinds checks that a file of one of these kinds is what it says
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
// many chunks as MaxFDsPerMessage and MaxMessageSize require, in the
// JSON encoding, which every peer of major version 1 reads (a Server
// answers a request of version 1.2 or later in the compact encoding).
// The fds stay open and owned by the caller: the receiver gets its own.
func Send(conn *net.UnixConn, files []File) error {
	return sendFiles(conn, files, false, nil)
}

// sendFiles sends files as Send does, in the compact encoding or in
// JSON, and calls sent, if not nil, with the files of each chunk once
// sendmsg has taken them.
func sendFiles(conn *net.UnixConn, files []File, compact bool, sent func([]File)) error {
	rc, err := rawSeqpacket(conn)
	if err != nil {
		return err
	}
	if len(files) > MaxFiles {
		return fmt.Errorf("handoff: %d files exceed %d", len(files), MaxFiles)
	}
	ends, err := chunk(files, compact)
	if err != nil {
		return err
	}
	var buf []byte
	if compact {
		buf = make([]byte, 0, MaxMessageSize)
	}
	fds := make([]int, 0, MaxFDsPerMessage)
	lo := 0
	for i, hi := range ends {
		c := files[lo:hi]
		b, err := encodeChunk(buf, &header{Type: typeFiles, Chunk: i, Chunks: len(ends), Total: len(files)}, c, compact)
		if err != nil {
			return err
		}
		fds = fds[:0]
		for j := range c {
			fds = append(fds, c[j].Fd)
		}
		if err := sendPacket(rc, b, fds); err != nil {
			return fmt.Errorf("%w (chunk %d of %d)", err, i+1, len(ends))
		}
		if sent != nil {
			sent(c)
		}
		lo = hi
	}
	return nil
}

// encodeChunk returns the packet of h, the head of a files packet, with
// the metadata of files, in the compact encoding (appended to buf[:0])
// or in JSON.
func encodeChunk(buf []byte, h *header, files []File, compact bool) ([]byte, error) {
	if !compact {
		h.Files = make([]fileMeta, len(files))
		for j := range files {
			h.Files[j] = files[j].meta()
		}
		return encodePacket(h)
	}
	b := appendCompactHead(buf[:0], h.Chunk, h.Chunks, h.Total, len(files))
	for j := range files {
		m := files[j].meta()
		b = appendCompactFile(b, &m)
	}
	if len(b) > MaxMessageSize { // chunk prevents it
		return nil, fmt.Errorf("handoff: files packet of %d bytes exceeds %d", len(b), MaxMessageSize)
	}
	return b, nil
}

// envelope is room left in every files packet for its prefix and the
// fields other than the file list.
const envelope = 256

// chunk splits files into chunks of at most MaxFDsPerMessage files whose
// packets, in the compact encoding or in JSON, fit MaxMessageSize, and
// returns where each chunk ends. An empty set is one empty chunk.
func chunk(files []File, compact bool) ([]int, error) {
	var ends []int
	size, n := envelope, 0 // of the current chunk
	for i := range files {
		m := files[i].meta()
		if err := m.check(); err != nil {
			return nil, fmt.Errorf("handoff: file %d (%s %s): %w", i, files[i].Unit, files[i].Name, err)
		}
		if files[i].Fd < 0 {
			return nil, fmt.Errorf("handoff: file %d (%s %s): no fd", i, files[i].Unit, files[i].Name)
		}
		var fileSize int
		if compact {
			fileSize = compactFileSize(&m)
		} else {
			b, _ := json.Marshal(m) // strings only: cannot fail
			fileSize = len(b) + 1   // and a comma
		}
		if envelope+fileSize > MaxMessageSize {
			return nil, fmt.Errorf("handoff: file %d (%s %s): metadata of %d bytes does not fit a packet", i, files[i].Unit, files[i].Name, fileSize)
		}
		if n == MaxFDsPerMessage || size+fileSize > MaxMessageSize {
			ends = append(ends, i)
			size, n = envelope, 0
		}
		size += fileSize
		n++
	}
	return append(ends, len(files)), nil
}

// Receive reads one set of files sent with Send or a Server. If the peer
// answered with an error instead, it returns a *RemoteError. On any
// failure every fd received so far is closed; see the package doc. It
// does not check that each fd is of the kind its metadata names:
// CheckKinds does.
func Receive(conn *net.UnixConn) ([]File, error) {
	rc, err := rawSeqpacket(conn)
	if err != nil {
		return nil, err
	}
	// Make room for the whole set in the fd table before the first fd
	// arrives, if the first packet says how many; see growFDTable.
	if total := peekSetSize(rc); total > MaxFDsPerMessage {
		growFDTable(total)
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
				growFDTable(h.Total) // if it did not before: a JSON packet
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
// packet's fds in the order of its header, or an error after closing
// them.
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

// growFDTable makes room for n more fds in the process's fd table at
// once. The kernel grows the table by doubling, from 64 fds, and each
// step of a multithreaded process (every Go program) waits for an RCU
// grace period, 6–10 ms here and more under load: receiving 10,000 fds
// into a fresh process took twice as long as into one whose table was
// already large. Dup'ing an fd to the highest number needed, then
// closing it, grows the table in one step, and costs a microsecond once
// the table is large enough. Errors (a low RLIMIT_NOFILE) are ignored:
// the table then grows as the fds arrive.
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
