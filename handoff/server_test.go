package handoff

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// serveOne listens on a "unixpacket" socket in a temporary directory and
// serves the first connection with s; the returned channel has
// ServeConn's error.
func serveOne(t *testing.T, s *Server) (string, <-chan error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "handoff.sock")
	ln, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: path, Net: "unixpacket"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return path, async(func() error {
		c, err := ln.AcceptUnix()
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		return s.ServeConn(c)
	})
}

// dupAnswer answers OpListeners for unit "web" with dups of files.
func dupAnswer(files []File) func(unix.Ucred, Request) ([]File, error) {
	return func(_ unix.Ucred, req Request) ([]File, error) {
		if req.Op != OpListeners || req.Unit != "web" {
			return nil, fmt.Errorf("%s %s: no such thing", req.Op, req.Unit)
		}
		out := append([]File(nil), files...)
		for i := range out {
			fd, err := unix.FcntlInt(uintptr(out[i].Fd), unix.F_DUPFD_CLOEXEC, 3)
			if err != nil {
				CloseAll(out[:i])
				return nil, err
			}
			out[i].Fd = fd
		}
		return out, nil
	}
}

// TestListeners asks a Server for files with Listeners, and checks that
// the server closes the dups it sent.
func TestListeners(t *testing.T) {
	files := sources(t, 3, "fp")
	path, served := serveOne(t, &Server{Answer: dupAnswer(files)})
	before := openFDs(t)
	got, err := Listeners(context.Background(), path, "web")
	if err != nil {
		t.Fatal(err)
	}
	if err := <-served; err != nil {
		t.Errorf("ServeConn: %v", err)
	}
	if len(got) != len(files) {
		t.Fatalf("got %d files; want %d", len(got), len(files))
	}
	for i := range got {
		sameFile(t, got[i].Name, files[i].Fd, got[i].Fd)
	}
	CloseAll(got)
	checkNoNewFDs(t, before)
}

// TestServerErrors checks the answers to a request the server refuses or
// cannot answer.
func TestServerErrors(t *testing.T) {
	t.Run("unknown unit", func(t *testing.T) {
		path, served := serveOne(t, &Server{Answer: dupAnswer(nil)})
		_, err := Listeners(context.Background(), path, "nope")
		var re *RemoteError
		if !errors.As(err, &re) || !strings.Contains(re.Message, "listeners nope: no such thing") {
			t.Errorf("Listeners: %v; want a *RemoteError from the answer", err)
		}
		if err := <-served; err == nil || !strings.Contains(err.Error(), "no such thing") {
			t.Errorf("ServeConn: %v; want the answer's error", err)
		}
	})
	t.Run("peer refused", func(t *testing.T) {
		var asked bool
		path, served := serveOne(t, &Server{
			PeerAllowed: func(unix.Ucred) bool { return false },
			Answer:      func(unix.Ucred, Request) ([]File, error) { asked = true; return nil, nil },
		})
		_, err := Listeners(context.Background(), path, "web")
		var re *RemoteError
		if !errors.As(err, &re) || re.Message != "permission denied" {
			t.Errorf("Listeners: %v; want permission denied", err)
		}
		var refused *RefusedError
		if err := <-served; !errors.As(err, &refused) || int(refused.Peer.Pid) != unix.Getpid() {
			t.Errorf("ServeConn: %v; want a *RefusedError naming pid %d", err, unix.Getpid())
		}
		if asked {
			t.Error("Answer was called for a refused peer")
		}
	})
	t.Run("bad request", func(t *testing.T) {
		a, b := seqpair(t)
		served := async(func() error { return (&Server{Answer: dupAnswer(nil)}).ServeConn(b) })
		sendRaw(t, a, append([]byte("SKDH\x01\x00"), make([]byte, MaxRequestSize)...), nil)
		if err := <-served; err == nil || !strings.Contains(err.Error(), "MSG_TRUNC") {
			t.Errorf("ServeConn of an oversized request: %v; want MSG_TRUNC", err)
		}
		if _, err := Receive(a); !errors.As(err, new(*RemoteError)) {
			t.Errorf("Receive: %v; want the server's error", err)
		}
	})
	t.Run("hang-up before the request", func(t *testing.T) {
		a, b := seqpair(t)
		a.Close()
		if err := (&Server{Answer: dupAnswer(nil)}).ServeConn(b); !errors.Is(err, io.EOF) {
			t.Errorf("ServeConn: %v; want io.EOF", err)
		}
	})
}

// TestListenersContext checks that ctx bounds a server that never answers.
func TestListenersContext(t *testing.T) {
	release := make(chan struct{})
	path, served := serveOne(t, &Server{Answer: func(unix.Ucred, Request) ([]File, error) {
		<-release // until the client gave up
		return nil, nil
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := Listeners(ctx, path, "web"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Listeners: %v; want context.DeadlineExceeded", err)
	}
	close(release)
	<-served
}

// TestServerAnswersInTheRequestsVersion checks that a Server answers a
// request of version 1.1 in JSON, which such a peer reads, and one of
// 1.2 in the compact encoding.
func TestServerAnswersInTheRequestsVersion(t *testing.T) {
	files := sources(t, 3, "fp")
	for _, tc := range []struct {
		minor  byte
		marker byte
	}{{0, '{'}, {1, '{'}, {2, compactMarker}, {9, compactMarker}} {
		a, b := seqpair(t)
		served := async(func() error { return (&Server{Answer: dupAnswer(files)}).ServeConn(b) })
		req, err := encodePacket(&header{Type: typeRequest, Op: OpListeners, Unit: "web"})
		if err != nil {
			t.Fatal(err)
		}
		req[5] = tc.minor
		sendRaw(t, a, req, nil)
		rc, err := rawSeqpacket(a)
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, MaxMessageSize)
		n, fds, err := recvPacket(rc, buf, make([]byte, oobSize))
		closeFDs(fds)
		if err != nil {
			t.Fatalf("request of version 1.%d: %v", tc.minor, err)
		}
		if err := <-served; err != nil {
			t.Errorf("request of version 1.%d: ServeConn: %v", tc.minor, err)
		}
		if got := buf[prefixLen]; got != tc.marker || len(fds) != 3 {
			t.Errorf("request of version 1.%d: answer %q… with %d fds; want %q… with 3", tc.minor, buf[:prefixLen+1], len(fds), []byte{tc.marker})
		}
		if h, err := decodePacket(buf[:n]); err != nil || len(h.Files) != 3 || h.Files[2].Name != files[2].Name {
			t.Errorf("request of version 1.%d: decoding the answer: %+v, %v", tc.minor, h, err)
		}
	}
}
