package handoff

import (
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestRoundTrip sends sets of 0, 1, 300 and 600 files (more than one
// sendmsg can carry), in either encoding, and checks that every file
// arrives with its metadata, close-on-exec, and referring to the inode
// that was sent.
func TestRoundTrip(t *testing.T) {
	t.Run("json", func(t *testing.T) { testRoundTrip(t, false) })
	t.Run("compact", func(t *testing.T) { testRoundTrip(t, true) })
}

func testRoundTrip(t *testing.T, compact bool) {
	for _, tc := range []struct {
		name        string
		n           int
		fingerprint string
	}{
		{"0", 0, "fp"},
		{"1", 1, "fp"},
		{"300", 300, "fp"},
		{"600", 600, "fp"},
		// Metadata too big for 253 files a packet: split by size.
		{"600-big-metadata", 600, strings.Repeat("o", 2000)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := seqpair(t)
			sent := sources(t, tc.n, tc.fingerprint)
			before := openFDs(t)
			done := async(func() error { return sendFiles(a, sent, compact, nil) })
			got, err := Receive(b)
			if err := <-done; err != nil {
				t.Fatalf("Send: %v", err)
			}
			if err != nil {
				t.Fatalf("Receive: %v", err)
			}
			defer CloseAll(got)
			if len(got) != len(sent) {
				t.Fatalf("received %d files; want %d", len(got), len(sent))
			}
			for i := range got {
				g, w := got[i], sent[i]
				if g.Unit != w.Unit || g.Name != w.Name || g.Kind != w.Kind || g.Addr != w.Addr || g.Fingerprint != w.Fingerprint {
					t.Errorf("file %d: got %+v; want %+v", i, g, w)
				}
				if _, ok := before[g.Fd]; ok {
					t.Errorf("file %d: fd %d was already open before Receive", i, g.Fd)
				}
				if !isCloexec(t, g.Fd) {
					t.Errorf("file %d: fd %d is not close-on-exec", i, g.Fd)
				}
				sameFile(t, w.Name, w.Fd, g.Fd)
			}
			CloseAll(got)
			checkNoNewFDs(t, before)
		})
	}
}

// TestChunks checks how sets are split, in either encoding: by fd
// count, and by size.
func TestChunks(t *testing.T) {
	for _, tc := range []struct {
		n           int
		fingerprint string
		want        []int
	}{
		{0, "", []int{0}},
		{253, "", []int{253}},
		{254, "", []int{253, 1}},
		{600, "", []int{253, 253, 94}},
		{100, strings.Repeat("x", 10000), []int{6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 4}},
	} {
		files := make([]File, tc.n)
		for i := range files {
			files[i] = File{Unit: "u", Name: "n", Kind: KindStream, Fingerprint: tc.fingerprint, Fd: 100}
		}
		for _, compact := range []bool{false, true} {
			ends, err := chunk(files, compact)
			if err != nil {
				t.Fatalf("%d files, compact %v: %v", tc.n, compact, err)
			}
			var got []int
			lo := 0
			for i, hi := range ends {
				got = append(got, hi-lo)
				h := &header{Type: typeFiles, Chunk: i, Chunks: len(ends), Total: tc.n}
				if _, err := encodeChunk(nil, h, files[lo:hi], compact); err != nil {
					t.Errorf("%d files, compact %v: chunk %d: %v", tc.n, compact, i, err)
				}
				lo = hi
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("%d files with a %d-byte fingerprint, compact %v: chunks of %v; want %v", tc.n, len(tc.fingerprint), compact, got, tc.want)
			}
		}
	}
}

// TestSendRefuses checks what Send refuses before sending anything.
func TestSendRefuses(t *testing.T) {
	a, _ := seqpair(t)
	for _, tc := range []struct {
		name  string
		files []File
		want  string
	}{
		{"no fd", []File{{Unit: "u", Name: "n", Fd: -1}}, "no fd"},
		{"long name", []File{{Unit: "u", Name: strings.Repeat("n", 256), Fd: 0}}, "name of 256 bytes exceeds 255"},
		{"not utf-8", []File{{Unit: "u\xff", Name: "n", Fd: 0}}, "not UTF-8"},
		{"escaped metadata too big", []File{{Unit: "u", Fingerprint: strings.Repeat("\x01", 16<<10), Fd: 0}}, "does not fit a packet"},
	} {
		if err := Send(a, tc.files); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Send: %v; want an error containing %q", tc.name, err, tc.want)
		}
	}
	s, _ := pair(t, unix.SOCK_STREAM)
	if err := Send(s, nil); err == nil || !strings.Contains(err.Error(), "SOCK_SEQPACKET") {
		t.Errorf("Send on a stream socket: %v; want an error naming SOCK_SEQPACKET", err)
	}
	if _, err := Receive(s); err == nil || !strings.Contains(err.Error(), "SOCK_SEQPACKET") {
		t.Errorf("Receive on a stream socket: %v; want an error naming SOCK_SEQPACKET", err)
	}
}
