package handoff

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// sendRaw sends b with fds as one packet, bypassing Send's checks.
func sendRaw(t *testing.T, c *net.UnixConn, b []byte, fds []int) {
	t.Helper()
	rc, err := rawSeqpacket(c)
	if err != nil {
		t.Fatal(err)
	}
	if err := sendPacket(rc, b, fds); err != nil {
		t.Fatal(err)
	}
}

// filesPacket encodes chunk i of n of a set of total files, listing the
// metadata of files.
func filesPacket(t *testing.T, i, n, total int, files []File) []byte {
	t.Helper()
	h := &header{Type: typeFiles, Chunk: i, Chunks: n, Total: total}
	for _, f := range files {
		h.Files = append(h.Files, f.meta())
	}
	b, err := encodePacket(h)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// compactPacket is filesPacket in the compact encoding.
func compactPacket(t *testing.T, i, n, total int, files []File) []byte {
	t.Helper()
	h := &header{Type: typeFiles, Chunk: i, Chunks: n, Total: total}
	for _, f := range files {
		h.Files = append(h.Files, f.meta())
	}
	b, err := encodeCompact(h)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// lie returns a copy of files with file i labelled kind.
func lie(files []File, i int, kind string) []File {
	out := append([]File(nil), files...)
	out[i].Kind = kind
	return out
}

func fdsOf(files []File) []int {
	out := make([]int, len(files))
	for i, f := range files {
		out[i] = f.Fd
	}
	return out
}

// TestReceiveFailuresCloseEverything makes Receive fail in every way,
// after fds arrived, and checks that none of them is left open.
func TestReceiveFailuresCloseEverything(t *testing.T) {
	for _, tc := range []struct {
		name string
		send func(t *testing.T, c *net.UnixConn, f []File) // f has 6 files
		want string
	}{
		{"truncated header", func(t *testing.T, c *net.UnixConn, f []File) {
			b := filesPacket(t, 0, 1, 3, f[:3])
			sendRaw(t, c, b[:len(b)-10], fdsOf(f[:3]))
		}, "bad packet header"},
		{"bad magic", func(t *testing.T, c *net.UnixConn, f []File) {
			sendRaw(t, c, []byte("GET / HTTP/1.0\r\n\r\n"), fdsOf(f[:3]))
		}, "not a handoff packet"},
		{"unknown major version", func(t *testing.T, c *net.UnixConn, f []File) {
			b := filesPacket(t, 0, 1, 3, f[:3])
			b[4] = VersionMajor + 1
			sendRaw(t, c, b, fdsOf(f[:3]))
		}, fmt.Sprintf("peer speaks version %d.%d, this side %d.%d", VersionMajor+1, VersionMinor, VersionMajor, VersionMinor)},
		{"fewer fds than listed", func(t *testing.T, c *net.UnixConn, f []File) {
			sendRaw(t, c, filesPacket(t, 0, 1, 3, f[:3]), fdsOf(f[:2]))
		}, "lists 3 files but carries 2 fds"},
		{"more fds than listed", func(t *testing.T, c *net.UnixConn, f []File) {
			sendRaw(t, c, filesPacket(t, 0, 1, 3, f[:3]), fdsOf(f[:4]))
		}, "lists 3 files but carries 4 fds"},
		{"set shorter than announced", func(t *testing.T, c *net.UnixConn, f []File) {
			sendRaw(t, c, filesPacket(t, 0, 1, 4, f[:3]), fdsOf(f[:3]))
		}, "ends the set at 3 files, the header announced 4"},
		{"hang-up mid-transfer", func(t *testing.T, c *net.UnixConn, f []File) {
			sendRaw(t, c, filesPacket(t, 0, 2, 6, f[:3]), fdsOf(f[:3]))
			c.Close()
		}, "peer hung up after 3 of 6 files"},
		{"chunk out of order", func(t *testing.T, c *net.UnixConn, f []File) {
			sendRaw(t, c, filesPacket(t, 0, 3, 6, f[:2]), fdsOf(f[:2]))
			sendRaw(t, c, filesPacket(t, 2, 3, 6, f[2:4]), fdsOf(f[2:4]))
		}, "got chunk 2, want chunk 1"},
		{"chunks disagree", func(t *testing.T, c *net.UnixConn, f []File) {
			sendRaw(t, c, filesPacket(t, 0, 2, 6, f[:3]), fdsOf(f[:3]))
			sendRaw(t, c, filesPacket(t, 1, 2, 5, f[3:5]), fdsOf(f[3:5]))
		}, "chunk 1 announces 2 chunks and 5 files, chunk 0 announced 2 and 6"},
		{"compact: truncated", func(t *testing.T, c *net.UnixConn, f []File) {
			b := compactPacket(t, 0, 1, 3, f[:3])
			sendRaw(t, c, b[:len(b)-3], fdsOf(f[:3]))
		}, "bad compact files packet: file 2: fingerprint of 4 bytes: packet ends early"},
		{"compact: fewer fds than listed", func(t *testing.T, c *net.UnixConn, f []File) {
			sendRaw(t, c, compactPacket(t, 0, 1, 3, f[:3]), fdsOf(f[:2]))
		}, "lists 3 files but carries 2 fds"},
		{"compact: hang-up mid-transfer", func(t *testing.T, c *net.UnixConn, f []File) {
			sendRaw(t, c, compactPacket(t, 0, 2, 6, f[:3]), fdsOf(f[:3]))
			c.Close()
		}, "peer hung up after 3 of 6 files"},
		{"error packet with fds", func(t *testing.T, c *net.UnixConn, f []File) {
			b, _ := encodePacket(&header{Type: typeError, Error: "no"})
			sendRaw(t, c, b, fdsOf(f[:3]))
		}, "error packet with 3 fds"},
		{"packet too large", func(t *testing.T, c *net.UnixConn, f []File) {
			b := append(filesPacket(t, 0, 1, 3, f[:3]), make([]byte, MaxMessageSize)...)
			sendRaw(t, c, b, fdsOf(f[:3]))
		}, "MSG_TRUNC"},
		{"error mid-set", func(t *testing.T, c *net.UnixConn, f []File) {
			sendRaw(t, c, filesPacket(t, 0, 2, 6, f[:3]), fdsOf(f[:3]))
			SendError(c, "disk on fire")
		}, "peer answered: disk on fire"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := seqpair(t)
			files := sources(t, 6, "fp")
			before := openFDs(t)
			tc.send(t, a, files)
			got, err := Receive(b)
			if err == nil {
				CloseAll(got)
				t.Fatalf("Receive: %d files, no error; want an error containing %q", len(got), tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Receive: %v; want an error containing %q", err, tc.want)
			}
			checkNoNewFDs(t, before)
		})
	}
}

// TestReceiveErrors checks the errors callers branch on.
func TestReceiveErrors(t *testing.T) {
	a, b := seqpair(t)
	f := sources(t, 1, "fp")
	bad := filesPacket(t, 0, 1, 1, f)
	bad[4] = 7
	sendRaw(t, a, bad, nil)
	if _, err := Receive(b); !errors.Is(err, ErrVersion) {
		t.Errorf("Receive of a version 7 packet: %v; want ErrVersion", err)
	}
	SendError(a, "nope")
	var re *RemoteError
	if _, err := Receive(b); !errors.As(err, &re) || re.Message != "nope" {
		t.Errorf("Receive of an error: %v; want *RemoteError nope", err)
	}
	a.Close()
	if _, err := Receive(b); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("Receive after hang-up: %v; want io.ErrUnexpectedEOF", err)
	}
}

// TestControlTruncated receives a packet with more fds than the control
// buffer holds: the kernel sets MSG_CTRUNC, and the fds that did arrive
// are closed.
func TestControlTruncated(t *testing.T) {
	a, b := seqpair(t)
	files := sources(t, 5, "fp")
	before := openFDs(t)
	sendRaw(t, a, filesPacket(t, 0, 1, 5, files), fdsOf(files))
	rc, err := rawSeqpacket(b)
	if err != nil {
		t.Fatal(err)
	}
	_, fds, err := recvPacket(rc, make([]byte, MaxMessageSize), make([]byte, unix.CmsgSpace(2*4)))
	if err == nil || !strings.Contains(err.Error(), "MSG_CTRUNC") {
		closeFDs(fds)
		t.Fatalf("recvPacket with room for 2 of 5 fds: %d fds, %v; want an MSG_CTRUNC error", len(fds), err)
	}
	checkNoNewFDs(t, before)
}

// TestCheckKinds checks that CheckKinds finds a file of the wrong kind
// among others, and lets the kinds it does not check pass.
func TestCheckKinds(t *testing.T) {
	f := sources(t, 8, "fp") // stream, datagram, sequential-packet, FIFO, and again
	if err := CheckKinds(f); err != nil {
		t.Fatalf("CheckKinds of honest files: %v", err)
	}
	for _, tc := range []struct {
		i          int
		kind, want string
	}{
		{6, KindStream, "file unit0 name-6 (/run/test/6.sock): kind stream but the socket's type is 5, not 1"},
		{4, KindDatagram, "kind datagram but the socket's type is 1, not 2"},
		{0, KindFIFO, "kind fifo but the fd is not a FIFO"},
		{3, KindSequentialPacket, "kind sequential-packet: getsockopt SO_TYPE: socket operation on non-socket"},
	} {
		if err := CheckKinds(lie(f, tc.i, tc.kind)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("file %d labelled %s: %v; want an error containing %q", tc.i, tc.kind, err, tc.want)
		}
	}
	for _, kind := range []string{KindStored, "mystery"} {
		if err := CheckKinds(lie(f, 3, kind)); err != nil {
			t.Errorf("a FIFO labelled %s: %v; want it unchecked", kind, err)
		}
	}
}

// TestListenersKindLies checks that Listeners refuses a set with a file
// of the wrong kind in its last chunk, and closes every fd it received.
func TestListenersKindLies(t *testing.T) {
	raiseNofile(t, 3*600+256)
	files := sources(t, 600, "fp")
	path, served := serveOne(t, &Server{Answer: dupAnswer(lie(files, 598, KindFIFO))})
	before := openFDs(t)
	got, err := Listeners(context.Background(), path, "web")
	if err == nil {
		CloseAll(got)
		t.Fatal("Listeners accepted a sequential-packet socket labelled fifo")
	}
	if !strings.Contains(err.Error(), "name-598 (/run/test/598.sock): kind fifo but the fd is not a FIFO") {
		t.Errorf("Listeners: %v; want an error naming file 598", err)
	}
	if err := <-served; err != nil {
		t.Errorf("ServeConn: %v", err)
	}
	checkNoNewFDs(t, before)
}
