// Command hello-http is an example service for sockd (or systemd): an HTTP
// server that takes its listening socket from the service manager with
// go-systemd's activation package and reports readiness with its daemon
// package (Type=notify).
//
// Run it under sockd with examples/units/hello.socket and hello.service.
package main

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/coreos/go-systemd/v22/activation"
	"github.com/coreos/go-systemd/v22/daemon"
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
		fmt.Fprintf(w, "hello from pid %d, up %s\n", os.Getpid(), time.Since(started).Round(time.Millisecond))
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	for _, l := range listeners[1:] {
		if l != nil {
			go srv.Serve(l)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	go func() {
		<-ctx.Done()
		daemon.SdNotify(false, daemon.SdNotifyStopping)
		shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(shutdown) // drains in-flight requests, then Serve returns
	}()
	daemon.SdNotify(false, daemon.SdNotifyReady)
	log.Printf("hello-http: serving on %s", listeners[0].Addr())
	if err := srv.Serve(listeners[0]); err != nil && err != http.ErrServerClosed {
		log.Fatalf("hello-http: %v", err)
	}
}
