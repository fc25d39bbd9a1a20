// Command loadgen runs a bounded HTTP load against a loopback address with
// internal/loadgen and prints the outcome as one JSON object: requests OK,
// requests and connections of each kind of worker, failures by class
// (refused, reset, timeout, wrong, other) with the first messages of each,
// and the latency of the OK requests.
//
//	{"ok":1980,"failures":0,"new_conn_requests":990,"keepalive_requests":990,"new_conn_dials":990,"keepalive_dials":1,"refused":0,...,"p50_ms":0.41,"p99_ms":1.9,"max_ms":3.2}
//
// Usage:
//
//	loadgen -addr 127.0.0.1:8080 [-path /] [-want hello] [-conns 1] [-keepalive 1]
//	        [-duration 10s] [-max-requests 0] [-timeout 5s] [-rate 0] [-fail-on-error]
//
// -conns workers open a connection per request, -keepalive workers reuse
// theirs; -rate limits each worker to that many requests a second. The run
// stops after -duration or -max-requests, whichever comes first, and
// after 10 minutes whatever the flags say; SIGINT and SIGTERM end it early.
// The exit status is 0, or 1 when -fail-on-error is set and a request
// failed, or 2 for bad flags.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/sockd/sockd/internal/loadgen"
)

func main() {
	var c loadgen.Config
	flag.StringVar(&c.Addr, "addr", "", "host:port of the server (loopback only)")
	flag.StringVar(&c.Path, "path", "/", "path (and query) to request")
	flag.StringVar(&c.Want, "want", "", "text the body must contain (anywhere, not only at the start)")
	flag.IntVar(&c.Conns, "conns", 1, "workers opening a new connection per request")
	flag.IntVar(&c.KeepAlive, "keepalive", 1, "workers reusing a keep-alive connection")
	flag.DurationVar(&c.Duration, "duration", 10*time.Second, "stop starting requests after this long (at most 10m; 0 with -max-requests: 10m)")
	flag.IntVar(&c.MaxRequests, "max-requests", 0, "stop after this many requests in all (0: no limit)")
	flag.DurationVar(&c.Timeout, "timeout", loadgen.DefaultTimeout, "timeout of each request")
	flag.Float64Var(&c.Rate, "rate", 0, "requests a second per worker (0: as fast as answered)")
	failOnError := flag.Bool("fail-on-error", false, "exit with status 1 if any request failed")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "loadgen: unexpected arguments %q\n", flag.Args())
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	r, err := loadgen.Run(ctx, c)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if err := json.NewEncoder(os.Stdout).Encode(r); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
	if *failOnError && r.Failures() > 0 {
		os.Exit(1)
	}
}
