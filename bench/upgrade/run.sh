#!/bin/sh
# bench/upgrade/run.sh: sockd's upgrades in place (sockctl upgrade), all in
# one run on loopback, about 1 minute:
#
#   handoff  BenchmarkHandoff10000 (handoff/): 10,000 listeners over
#            handoff.sock, the first one into a fresh process and repeated
#   scale    sockd with 10,000 listener units upgraded 3 times: the time
#            until the new generation is ready, its phases from sockd's
#            log, and the longest a new connection waits (a client
#            connecting in a loop to a unit whose service answers one
#            connection and exits, so that sockd serves each one)
#   load     examples/hello-http under a steady load (internal/loadgen):
#            p50/p99/max around 5 sockd upgrades against quiet windows,
#            and the failed requests of 5 upgrades against 5 restarts of
#            systemd-socket-activate, side by side
#
# Environment: ONLY (a subset of "handoff scale load"), UNITS (default
# 10000, lowered to fit the hard RLIMIT_NOFILE), SCALE_UPGRADES (3),
# UPGRADES (5), PROBE (oneshot, or accept: an Accept=yes unit instead);
# other arguments go to the driver (bench/upgrade/driver, flags first,
# e.g. -rate 100). See bench/upgrade/README.md.
set -eu
cd "$(dirname "$0")/../.."
ONLY=${ONLY:-"handoff scale load"}
UNITS=${UNITS:-10000}
SCALE_UPGRADES=${SCALE_UPGRADES:-3}
UPGRADES=${UPGRADES:-5}
PROBE=${PROBE:-oneshot}

if ! command -v go >/dev/null 2>&1; then
	echo "run.sh: go is not on PATH" >&2
	exit 1
fi
ssa=$(command -v systemd-socket-activate || echo /usr/bin/systemd-socket-activate)
case " $ONLY " in *" load "*)
	if [ ! -x "$ssa" ]; then
		if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
			echo "run.sh: installing systemd for systemd-socket-activate" >&2
			apt-get update -qq >/dev/null &&
				DEBIAN_FRONTEND=noninteractive apt-get install -y -qq systemd >/dev/null ||
				echo "run.sh: could not install systemd" >&2
		fi
		if [ ! -x "$ssa" ]; then
			echo "run.sh: no systemd-socket-activate (apt-get install systemd): the side-by-side comparison leaves it out" >&2
			ssa=""
		fi
	fi
	;;
esac

# sockd with 10,000 listeners needs 10,000 fds, and so does the check
# child it runs during an upgrade (each in its own process).
ulimit -n "$(ulimit -Hn)"

work=$(mktemp -d "${TMPDIR:-/tmp}/sockd-upgrade-bench.XXXXXX")
driver=""
cleanup() {
	trap - EXIT INT TERM
	if [ -n "$driver" ]; then
		kill "$driver" 2>/dev/null || true
		wait "$driver" 2>/dev/null || true
	fi
	# Whatever still runs a binary built here (a sockd, its services)
	# was started by this run: end it by its pid.
	for d in /proc/[0-9]*; do
		case $(readlink "$d/exe" 2>/dev/null) in
		"$work"/*) kill -9 "${d#/proc/}" 2>/dev/null || true ;;
		esac
	done
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "run.sh: building into $work" >&2
go build -ldflags "-X main.version=bench-a" -o "$work/sockd-a" ./cmd/sockd
go build -ldflags "-X main.version=bench-b" -o "$work/sockd-b" ./cmd/sockd
go build -o "$work/sockctl" ./cmd/sockctl
go build -o "$work/hello-http" ./examples/hello-http
go build -o "$work/tinysvc" ./bench/tinysvc
go build -o "$work/driver" ./bench/upgrade/driver

handoff=""
case " $ONLY " in *" handoff "*)
	echo "run.sh: go test -run '^\$' -bench Handoff -benchtime 10x ./handoff/" >&2
	out=$(go test -run '^$' -bench Handoff -benchtime 10x ./handoff/ 2>&1) || {
		printf '%s\n' "$out" >&2
		exit 1
	}
	line=$(printf '%s\n' "$out" | grep '^BenchmarkHandoff')
	echo "run.sh: $line" >&2
	avg=$(printf '%s' "$line" | sed -n 's/.* \([0-9.]*\) ms\/handoff.*/\1/p')
	first=$(printf '%s' "$line" | sed -n 's/.* \([0-9.]*\) ms\/first.*/\1/p')
	[ -n "$avg" ] && [ -n "$first" ] && handoff="$avg,$first"
	;;
esac

phases=""
for p in scale load; do
	case " $ONLY " in *" $p "*) phases="$phases $p" ;; esac
done
if [ -z "$phases" ]; then
	exit 0
fi
mkdir "$work/run"
# shellcheck disable=SC2086 # $phases is a list of words
"$work/driver" -sockd "$work/sockd-a" -sockd2 "$work/sockd-b" -sockctl "$work/sockctl" \
	-hello "$work/hello-http" -tinysvc "$work/tinysvc" -ssa "$ssa" -work "$work/run" -handoff "$handoff" \
	-units "$UNITS" -scale-upgrades "$SCALE_UPGRADES" -upgrades "$UPGRADES" -probe "$PROBE" "$@" $phases &
driver=$!
status=0
wait "$driver" || status=$?
driver=""
exit "$status"
