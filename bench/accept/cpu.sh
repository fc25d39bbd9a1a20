#!/bin/sh
# bench/accept/cpu.sh: the server's own CPU and context switches per
# connection, sockd (Accept=yes, StandardInput=socket, the unit run.sh
# uses) and tcpserver in turn, REPS times each:
#
#   - µs/conn from utime + stime of /proc/PID/stat (10 ms ticks), and from
#     the run time of every thread in /proc/PID/task/*/schedstat;
#   - slices/conn: the threads' time slices (each ends in a context
#     switch) per connection.
#
# Both are read before and after `loadgen -n N -c C`, after a warm-up of
# 300 connections. The per-connection processes are not counted.
#
# Environment: N (default 5000), C (default 64), REPS (default 3), SOCKD
# (a sockd binary; default: built from this tree), ONLY (default
# "sockd tcpserver").
set -eu
cd "$(dirname "$0")/../.."
N=${N:-5000}
C=${C:-64}
REPS=${REPS:-3}
ONLY=${ONLY:-"sockd tcpserver"}

work=$(mktemp -d "${TMPDIR:-/tmp}/sockd-accept-cpu.XXXXXX")
pid=""
cleanup() {
	[ -z "$pid" ] || { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

if [ -n "${SOCKD:-}" ]; then
	cp "$SOCKD" "$work/sockd"
else
	go build -o "$work/sockd" ./cmd/sockd
fi
go build -o "$work/loadgen" ./bench/accept/loadgen
gcc -O2 -static -o "$work/oneline" bench/accept/oneline.c 2>/dev/null ||
	gcc -O2 -o "$work/oneline" bench/accept/oneline.c
hz=$(getconf CLK_TCK)

# sched PID: the run time (ns) and time slices of all its threads.
sched() {
	cat /proc/"$1"/task/*/schedstat | awk '{ns += $1; n += $3} END {print ns, n}'
}

# measure SERVER: one measurement, printed as a line.
measure() {
	port=$("$work/loadgen" -free-port)
	case $1 in
	sockd)
		mkdir -p "$work/u"
		printf '[Socket]\nListenStream=127.0.0.1:%s\nAccept=yes\nMaxConnections=1000\nTriggerLimitBurst=0\n' "$port" >"$work/u/one.socket"
		printf '[Service]\nExecStart=%s\nStandardInput=socket\n' "$work/oneline" >"$work/u/one@.service"
		"$work/sockd" --units "$work/u" --runtime-dir "$work/rt" --log-level warn >"$work/sockd.log" 2>&1 &
		;;
	tcpserver)
		tcpserver -q -H -R -l 0 -b 1024 -c 1000 127.0.0.1 "$port" "$work/oneline" >/dev/null 2>&1 &
		;;
	esac
	pid=$!
	i=0
	while ! "$work/loadgen" -addr "127.0.0.1:$port" -n 1 -c 1 -timeout 1s >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -lt 100 ] || { echo "cpu.sh: $1 does not serve" >&2; exit 1; }
		sleep 0.1
	done
	"$work/loadgen" -addr "127.0.0.1:$port" -n 300 -c 8 >/dev/null
	t0=$(awk '{print $14 + $15}' /proc/$pid/stat)
	s0=$(sched $pid)
	out=$("$work/loadgen" -addr "127.0.0.1:$port" -n "$N" -c "$C")
	t1=$(awk '{print $14 + $15}' /proc/$pid/stat)
	s1=$(sched $pid)
	kill $pid
	wait $pid 2>/dev/null || true
	pid=""
	rm -rf "$work/u" "$work/rt"
	rate=$(printf '%s' "$out" | sed -n 's/.*"rate":\([0-9.]*\).*/\1/p')
	echo "$s0 $s1" | awk -v s="$1" -v n="$N" -v c="$C" -v t=$(((t1 - t0) * 1000000 / hz / N)) -v r="$rate" \
		'{printf "%-9s c=%d: %4d us/conn (stat), %5.1f us/conn (schedstat), %5.2f slices/conn, %5.0f conn/s\n", s, c, t, ($3 - $1) / 1000 / n, ($4 - $2) / n, r}'
}

for _ in $(seq "$REPS"); do
	for s in $ONLY; do
		if [ "$s" = tcpserver ] && ! command -v tcpserver >/dev/null 2>&1; then
			continue
		fi
		measure "$s"
	done
done
