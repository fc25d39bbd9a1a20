// Command hello-http is an example service for sockd (or systemd): an HTTP
// server that takes its listening sockets from the service manager with
// go-systemd's activation package and reports readiness with its daemon
// package (Type=notify).
//
// On SIGTERM (or SIGINT) it drains: it stops accepting, answers every
// request on the connections it has accepted, and exits once they are
// closed (10s at most). That is what `sockctl restart --graceful
// hello.service` needs: connections that arrive meanwhile wait in the
// listening socket's queue, which the new instance shares, and no request
// is lost. GET /?wait=500ms sends its headers at once (Hello-Pid: the
// pid that serves it) and the body after that long (10s at most), to
// watch a request finish during a restart.
//
// Run it under sockd with examples/units/hello.socket and hello.service.
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/coreos/go-systemd/v22/activation"
	"github.com/coreos/go-systemd/v22/daemon"
)

// maxWait bounds ?wait=, and drainTimeout the drain.
const (
	maxWait      = 10 * time.Second
	drainTimeout = 10 * time.Second
)

func main() {
	listeners, err := activation.Listeners()
	if err != nil {
		log.Fatalf("hello-http: %v", err)
	}
	if len(listeners) == 0 || listeners[0] == nil {
		log.Fatal("hello-http: no listening socket passed (run me under sockd or systemd: LISTEN_FDS is not set for this process)")
	}
	started := time.Now()
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if d, err := time.ParseDuration(r.URL.Query().Get("wait")); err == nil && d > 0 {
			w.Header().Set("Hello-Pid", strconv.Itoa(os.Getpid()))
			w.WriteHeader(http.StatusOK)
			http.NewResponseController(w).Flush() // the client knows who holds it
			time.Sleep(min(d, maxWait))
		}
		fmt.Fprintf(w, "hello from pid %d, up %s\n", os.Getpid(), time.Since(started).Round(time.Millisecond))
	})
	var open conns
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ConnState: open.track}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	var serving sync.WaitGroup
	for _, l := range listeners {
		if l == nil {
			continue
		}
		serving.Add(1)
		go func() {
			defer serving.Done()
			if err := srv.Serve(l); !errors.Is(err, net.ErrClosed) {
				log.Fatalf("hello-http: %v", err)
			}
		}()
	}
	daemon.SdNotify(false, daemon.SdNotifyReady)
	log.Printf("hello-http: serving on %s", listeners[0].Addr())
	<-ctx.Done()
	daemon.SdNotify(false, daemon.SdNotifyStopping)
	drain(srv, listeners, &serving, &open)
	log.Printf("hello-http: stopped")
}

// drain stops srv without losing a request. http.Server.Shutdown alone
// would not do: a request it reads after Shutdown began is dropped, even
// the first one of a connection accepted just before, and that client
// sees the connection closed without an answer. So: stop accepting (the
// service manager keeps the listening sockets open, and the connections
// queued there go to the next instance), then turn keep-alives off, which
// closes the idle connections (an HTTP client retries a request it sent
// on one) and every other connection after its answer, and wait until
// none is left. Shutdown then only has stragglers to close.
func drain(srv *http.Server, listeners []net.Listener, serving *sync.WaitGroup, open *conns) {
	for _, l := range listeners {
		if l != nil {
			l.Close()
		}
	}
	serving.Wait() // every accepted connection is counted in open now
	srv.SetKeepAlivesEnabled(false)
	deadline, cancel := context.WithTimeout(context.Background(), drainTimeout)
	defer cancel()
	select {
	case <-open.closed():
	case <-deadline.Done():
		log.Printf("hello-http: connections still open after %s, closing them", drainTimeout)
	}
	if err := srv.Shutdown(deadline); err != nil {
		srv.Close()
	}
}

// conns counts the server's open connections (http.Server.ConnState).
type conns struct {
	mu   sync.Mutex
	n    int
	none chan struct{} // closed when n drops to 0; see closed
}

func (c *conns) track(_ net.Conn, s http.ConnState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch s {
	case http.StateNew:
		c.n++
	case http.StateHijacked, http.StateClosed:
		c.n--
		if c.n == 0 && c.none != nil {
			close(c.none)
			c.none = nil
		}
	}
}

// closed returns a channel that is closed once no connection is open;
// call it when no new connection can come.
func (c *conns) closed() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan struct{})
	if c.n == 0 {
		close(ch)
	} else {
		c.none = ch
	}
	return ch
}
