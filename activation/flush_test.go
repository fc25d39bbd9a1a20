package activation

import (
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/sockd/sockd/units"
)

func TestFlush(t *testing.T) {
	dir := t.TempDir()
	special := filepath.Join(dir, "special")
	if err := os.WriteFile(special, []byte("some bytes"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := newSocket(
		pathListener(units.Stream, filepath.Join(dir, "stream")),
		pathListener(units.Datagram, filepath.Join(dir, "dgram")),
		pathListener(units.FIFO, filepath.Join(dir, "fifo")),
		moreListener(units.Special, special),
	)
	ls := bind(t, s)
	for range 3 {
		c, err := net.Dial("unix", filepath.Join(dir, "stream"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	for range 2 {
		c, err := net.Dial("unixgram", filepath.Join(dir, "dgram"))
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte("x"))
		c.Close()
	}
	w, err := os.OpenFile(filepath.Join(dir, "fifo"), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("line\n"))
	defer w.Close()
	for i, want := range []int{3, 2, 1, 1} {
		if n, err := ls[i].Flush(); n != want || err != nil {
			t.Errorf("%s: Flush = %d, %v; want %d", ls[i].Spec().Address, n, err, want)
		}
		if n, err := ls[i].Flush(); n != 0 || err != nil {
			t.Errorf("%s: second Flush = %d, %v; want 0", ls[i].Spec().Address, n, err)
		}
	}
}
