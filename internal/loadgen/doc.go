// Package loadgen runs a bounded HTTP/1.1 load against a loopback address
// and counts every failure by class. End-to-end tests of zero-downtime
// restarts and upgrades run it while they restart or upgrade a service
// and require Failures to be zero; benchmarks read its latency figures.
//
// Two kinds of worker make GET requests. A new-connection worker opens a
// TCP connection for every request and closes it after the answer
// (Connection: close), so it sees whether the listener accepts during the
// upgrade. A keep-alive worker has its own http.Transport and reuses one
// connection for as long as the server keeps it open, so it sees how the
// old server ends its idle and busy connections.
//
// # Retries on reused connections
//
// The keep-alive workers use net/http's client unchanged, and with it its
// retry rule: a GET written to a reused idle connection that the server
// closed before sending any byte of the answer is sent again, once, on a
// new connection, and only the outcome of the retry is counted. Browsers
// and most HTTP client libraries do the same, so a server that closes
// idle connections while restarting passes here as it would with real
// clients; a server that closes a connection after it began to answer
// does not.
//
// # Bounds
//
// A run is always bounded: Config must set Duration or MaxRequests, and no
// run lasts longer than MaxDuration. Every request has its own Timeout.
// Only loopback addresses are accepted (127.0.0.0/8, ::1, localhost), and
// every connection is dialled to the address checked, whatever a redirect
// says; redirects are not followed.
package loadgen
