#!/bin/sh
# bench/accept/run.sh: connections per second that inetd-style servers
# serve with a trivial per-connection program (oneline.c: writes "hello"
# and exits), at concurrency 1, 8 and 64, all in one run on loopback:
#
#   sockd, Accept=yes, StandardInput=socket     (forked without the shim)
#   sockd, the same with NoNewPrivileges=yes    (which needs the shim)
#   sockd, Accept=yes, connection on fd 3       (LISTEN_FDS: the shim)
#   systemd-socket-activate --inetd -a
#   xinetd
#   ucspi-tcp's tcpserver
#
# Each is set up not to limit the load: sockd with MaxConnections=1000 and
# TriggerLimitBurst=0, xinetd with instances, per_source and cps raised,
# tcpserver with -c 1000 -b 1024. Rates are reported with their ratio to
# the fastest at each concurrency. As root, missing xinetd and ucspi-tcp
# are installed with apt-get; otherwise they are left out.
#
# Environment: N (connections per measurement, default 3000), CONC
# (default "1 8 64"), ONLY (a space-separated subset of: sockd
# sockd-shim sockd-fd3 ssa xinetd tcpserver). See bench/accept/README.md.
set -eu
cd "$(dirname "$0")/../.."
N=${N:-3000}
CONC=${CONC:-"1 8 64"}
ONLY=${ONLY:-"sockd sockd-shim sockd-fd3 ssa xinetd tcpserver"}

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
	missing=""
	command -v xinetd >/dev/null 2>&1 || missing="$missing xinetd"
	command -v tcpserver >/dev/null 2>&1 || missing="$missing ucspi-tcp"
	if [ -n "$missing" ]; then
		echo "run.sh: installing$missing" >&2
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null 2>&1 ||
			{ apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null; } ||
			echo "run.sh: could not install$missing" >&2
	fi
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/sockd-accept-bench.XXXXXX")
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	for p in $pids; do wait "$p" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

go build -o "$work/sockd" ./cmd/sockd
go build -o "$work/loadgen" ./bench/accept/loadgen
if command -v gcc >/dev/null 2>&1; then
	gcc -O2 -static -o "$work/oneline" bench/accept/oneline.c 2>/dev/null ||
		gcc -O2 -o "$work/oneline" bench/accept/oneline.c
	prog="$work/oneline"
else
	echo "run.sh: no gcc: using /bin/echo hello as the per-connection program" >&2
	printf '#!/bin/sh\nexec /bin/echo hello\n' >"$work/oneline"
	chmod +x "$work/oneline"
	prog="$work/oneline"
fi

# wait_ready PORT: until a connection is served.
wait_ready() {
	i=0
	while ! "$work/loadgen" -addr "127.0.0.1:$1" -n 1 -c 1 -timeout 1s >/dev/null 2>&1; do
		i=$((i + 1))
		if [ $i -ge 100 ]; then
			echo "run.sh: nothing serves port $1" >&2
			return 1
		fi
		sleep 0.1
	done
}

# sockd_units DIR PORT NAME EXTRA_SERVICE_LINES: an Accept=yes unit.
sockd_unit() {
	mkdir -p "$1"
	printf '[Socket]\nListenStream=127.0.0.1:%s\nAccept=yes\nMaxConnections=1000\nTriggerLimitBurst=0\n' "$2" >"$1/$3.socket"
	printf '[Service]\nExecStart=%s\n%b' "$prog" "$4" >"$1/$3@.service"
}

# start NAME PORT: start the server NAME on PORT, in the background.
start() {
	case $1 in
	sockd)
		sockd_unit "$work/u-$1" "$2" one 'StandardInput=socket\n'
		"$work/sockd" --units "$work/u-$1" --runtime-dir "$work/rt-$1" --log-level warn >"$work/$1.log" 2>&1 &
		;;
	sockd-shim)
		sockd_unit "$work/u-$1" "$2" one 'StandardInput=socket\nNoNewPrivileges=yes\n'
		"$work/sockd" --units "$work/u-$1" --runtime-dir "$work/rt-$1" --log-level warn >"$work/$1.log" 2>&1 &
		;;
	sockd-fd3)
		sockd_unit "$work/u-$1" "$2" one ''
		"$work/sockd" --units "$work/u-$1" --runtime-dir "$work/rt-$1" --log-level warn >"$work/$1.log" 2>&1 &
		;;
	ssa)
		command -v systemd-socket-activate >/dev/null 2>&1 || return 1
		systemd-socket-activate -l "127.0.0.1:$2" -a --inetd "$prog" >"$work/$1.log" 2>&1 &
		;;
	xinetd)
		command -v xinetd >/dev/null 2>&1 || return 1
		cat >"$work/xinetd.conf" <<-EOF
		defaults
		{
		        instances       = UNLIMITED
		        per_source      = UNLIMITED
		        cps             = 1000000 1
		        log_type        = FILE $work/xinetd-service.log
		        log_on_success  =
		        log_on_failure  =
		}
		service oneline
		{
		        type            = UNLISTED
		        port            = $2
		        bind            = 127.0.0.1
		        socket_type     = stream
		        protocol        = tcp
		        wait            = no
		        user            = $(id -un)
		        server          = $prog
		        instances       = UNLIMITED
		        per_source      = UNLIMITED
		        cps             = 1000000 1
		        flags           = REUSE
		}
		EOF
		xinetd -dontfork -f "$work/xinetd.conf" -pidfile "$work/xinetd.pid" >"$work/$1.log" 2>&1 &
		;;
	tcpserver)
		command -v tcpserver >/dev/null 2>&1 || return 1
		tcpserver -q -H -R -l 0 -b 1024 -c 1000 127.0.0.1 "$2" "$prog" >"$work/$1.log" 2>&1 &
		;;
	esac
	pid=$!
	pids="$pids $pid"
}

label() {
	case $1 in
	sockd) echo "sockd (inetd, no shim)" ;;
	sockd-shim) echo "sockd (inetd, shim)" ;;
	sockd-fd3) echo "sockd (fd 3, shim)" ;;
	ssa) echo "systemd-socket-activate --inetd -a" ;;
	xinetd) echo "xinetd" ;;
	tcpserver) echo "tcpserver" ;;
	esac
}

results="$work/results"
: >"$results"
for s in $ONLY; do
	port=$("$work/loadgen" -free-port)
	if ! start "$s" "$port"; then
		echo "run.sh: $(label "$s") is not installed: left out" >&2
		continue
	fi
	if ! wait_ready "$port"; then
		cat "$work/$s.log" >&2
		exit 1
	fi
	"$work/loadgen" -addr "127.0.0.1:$port" -n 300 -c 8 >/dev/null || true # warm up
	for c in $CONC; do
		out=$("$work/loadgen" -addr "127.0.0.1:$port" -n "$N" -c "$c") || {
			echo "run.sh: $(label "$s") at concurrency $c: $out" >&2
		}
		rate=$(printf '%s' "$out" | sed -n 's/.*"rate":\([0-9.]*\).*/\1/p')
		errs=$(printf '%s' "$out" | sed -n 's/.*"errors":\([0-9]*\).*/\1/p')
		p99=$(printf '%s' "$out" | sed -n 's/.*"p99_ms":\([0-9.]*\).*/\1/p')
		echo "$s $c $rate $errs $p99" >>"$results"
		echo "run.sh: $(label "$s"), concurrency $c: $rate conn/s, $errs errors, p99 $p99 ms" >&2
	done
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	pids=$(echo "$pids" | sed "s/ $pid\$//")
done

echo
echo "$N connections per measurement, $(nproc) CPUs, $(uname -r); rate in connections/s (ratio to the fastest at that concurrency)"
echo
awk -v conc="$CONC" '
function label(s) {
	if (s == "sockd") return "sockd (inetd, no shim)"
	if (s == "sockd-shim") return "sockd (inetd, shim)"
	if (s == "sockd-fd3") return "sockd (fd 3, shim)"
	if (s == "ssa") return "systemd-socket-activate --inetd -a"
	return s
}
{ rate[$1, $2] = $3; errs[$1, $2] = $4; if (!($1 in seen)) { seen[$1] = 1; order[n++] = $1 }; if ($3 > best[$2]) best[$2] = $3 }
END {
	nc = split(conc, cs, " ")
	hdr = "| server |"; sep = "|---|"
	for (i = 1; i <= nc; i++) { hdr = hdr " c=" cs[i] " |"; sep = sep "---:|" }
	print hdr; print sep
	for (k = 0; k < n; k++) {
		s = order[k]; line = "| " label(s) " |"
		for (i = 1; i <= nc; i++) {
			r = rate[s, cs[i]]
			cell = (r == "" ? "–" : sprintf("%.0f (%.2f)", r, best[cs[i]] > 0 ? r / best[cs[i]] : 0))
			if (errs[s, cs[i]] > 0) cell = cell " ⚠" errs[s, cs[i]] " errors"
			line = line " " cell " |"
		}
		print line
	}
}' "$results"
