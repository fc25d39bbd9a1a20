// Package harness runs sockd and systemd-socket-activate as external
// processes and measures them: activation latency (connect to first
// response byte), start-up time, resident memory and idle wake-ups. It is
// shared by the sockbench command (bench/run.sh) and the end-to-end
// benchmarks of package bench.
//
// Every measurement is bounded in count and time and uses loopback only.
package harness
