// Package bench holds sockd's benchmarks: activation latency against
// systemd-socket-activate, and sockd with 1,000 and 10,000 units.
//
// The in-process parts are Go benchmarks in this package (go test -bench
// . ./bench/): loading generated units (units/unitdir), binding their
// listeners (activation.Bind), and bringing up the daemon
// (internal/daemon). The end-to-end measurements run the built binaries:
// bench/run.sh builds them and runs cmd/sockbench, which prints the
// tables; BenchmarkE2E* run the same code under the testing package and
// are skipped with -short. A plain go test ./bench/ only runs quick smoke
// tests. See README.md for how to run them and the figures measured.
package bench
