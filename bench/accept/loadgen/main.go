// Command loadgen measures how many connections per second an inetd-style
// server serves: each connection is dialled, read to end of file, checked
// to start with the expected line, and closed. It opens -n connections,
// at most -c at a time, against a loopback address, and stops after
// -max-time whatever is left; every connection has its own -timeout. It
// prints one JSON object:
//
//	{"conns":2000,"ok":2000,"errors":0,"secs":0.81,"rate":2469.1,"p50_ms":0.39,"p99_ms":0.8}
//
// Usage:
//
//	loadgen -addr 127.0.0.1:7000 -n 2000 -c 8 [-want hello] [-timeout 5s] [-max-time 60s]
//	loadgen -free-port     # prints a TCP port free on loopback, for scripts
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

type result struct {
	Conns  int     `json:"conns"`
	OK     int     `json:"ok"`
	Errors int     `json:"errors"`
	Secs   float64 `json:"secs"`
	Rate   float64 `json:"rate"`
	P50ms  float64 `json:"p50_ms"`
	P99ms  float64 `json:"p99_ms"`
	// FirstError is one of the errors, to say what went wrong.
	FirstError string `json:"first_error,omitempty"`
}

func main() {
	addr := flag.String("addr", "", "host:port to connect to (loopback only)")
	n := flag.Int("n", 1000, "connections in all")
	c := flag.Int("c", 1, "connections at a time")
	want := flag.String("want", "hello", "what the reply must start with")
	timeout := flag.Duration("timeout", 5*time.Second, "deadline of one connection")
	maxTime := flag.Duration("max-time", 60*time.Second, "stop starting connections after this long")
	freePort := flag.Bool("free-port", false, "print a TCP port free on 127.0.0.1 and exit")
	flag.Parse()
	if *freePort {
		l, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			fmt.Fprintln(os.Stderr, "loadgen:", err)
			os.Exit(1)
		}
		fmt.Println(l.Addr().(*net.TCPAddr).Port)
		l.Close()
		return
	}
	if err := checkLoopback(*addr); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(2)
	}
	r := run(*addr, *n, *c, []byte(*want), *timeout, *maxTime)
	json.NewEncoder(os.Stdout).Encode(r)
	if r.Errors > 0 {
		os.Exit(1)
	}
}

// checkLoopback refuses any target but a loopback address.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%s is not a loopback address", host)
	}
	return nil
}

func run(addr string, n, c int, want []byte, timeout, maxTime time.Duration) result {
	ctx, cancel := context.WithTimeout(context.Background(), maxTime)
	defer cancel()
	var next atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	var errs []error
	var wg sync.WaitGroup
	start := time.Now()
	for range c {
		wg.Go(func() {
			for next.Add(1) <= int64(n) && ctx.Err() == nil {
				t := time.Now()
				err := one(addr, want, timeout)
				d := time.Since(t)
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				} else {
					lat = append(lat, d)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	r := result{Conns: len(lat) + len(errs), OK: len(lat), Errors: len(errs), Secs: secs, Rate: float64(len(lat)) / secs}
	if len(errs) > 0 {
		r.FirstError = errs[0].Error()
	}
	slices.Sort(lat)
	if len(lat) > 0 {
		r.P50ms = ms(lat[len(lat)/2])
		r.P99ms = ms(lat[len(lat)*99/100])
	}
	return r
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// one makes one connection and reads the reply to end of file.
func one(addr string, want []byte, timeout time.Duration) error {
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(timeout))
	b, err := io.ReadAll(io.LimitReader(conn, 4096))
	if err != nil {
		return err
	}
	if !bytes.HasPrefix(b, want) {
		return errors.New("unexpected reply " + fmt.Sprintf("%q", b))
	}
	return nil
}
