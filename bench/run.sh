#!/bin/sh
# bench/run.sh: build sockd and the benchmark binaries, then run
# cmd/sockbench: activation latency against systemd-socket-activate and
# sockd with 1,000 and 10,000 units. Arguments go to sockbench (flags
# first, then "activation" and/or "scale"), e.g.
#   bench/run.sh                          # everything (about 4 minutes)
#   bench/run.sh -samples 50 activation   # a quick latency comparison
#   bench/run.sh -units 1000 scale
# See bench/README.md.
set -eu
cd "$(dirname "$0")/.."

if ! command -v go >/dev/null 2>&1; then
	echo "run.sh: go is not on PATH" >&2
	exit 1
fi
if [ ! -x /usr/bin/systemd-socket-activate ]; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		echo "run.sh: installing systemd for systemd-socket-activate" >&2
		apt-get install -y systemd >/dev/null || { apt-get update >/dev/null && apt-get install -y systemd >/dev/null; }
	else
		echo "run.sh: /usr/bin/systemd-socket-activate is missing (apt-get install systemd); the activation comparison will fail" >&2
	fi
fi

bin=$(mktemp -d "${TMPDIR:-/tmp}/sockd-bench.XXXXXX")
trap 'rm -rf "$bin"' EXIT INT TERM

echo "run.sh: building into $bin" >&2
go build -o "$bin/sockd" ./cmd/sockd
CGO_ENABLED=0 go build -o "$bin/sockd-nocgo" ./cmd/sockd
go build -o "$bin/tinysvc" ./bench/tinysvc
go build -o "$bin/sockbench" ./bench/cmd/sockbench
go build -o "$bin/minishim" ./bench/testdata/minishim
set -- -sockd "$bin/sockd" -sockd-alt "$bin/sockd-nocgo" -sockd-alt-label "sockd CGO_ENABLED=0" -tinysvc "$bin/tinysvc" "$@"
shims="minishim (Go)=$bin/minishim"
if command -v gcc >/dev/null 2>&1; then
	gcc -O2 -o "$bin/tinysvc-c" bench/testdata/tinysvc.c
	gcc -O2 -o "$bin/minishim-c" bench/testdata/minishim.c
	shims="$shims,minishim (C)=$bin/minishim-c"
	if gcc -O2 -static -o "$bin/minishim-static" bench/testdata/minishim.c 2>/dev/null; then
		shims="$shims,minishim (static C)=$bin/minishim-static"
	fi
	set -- -tinysvc-c "$bin/tinysvc-c" "$@"
else
	echo "run.sh: no gcc: skipping the C service" >&2
fi
set -- -shims "$shims" "$@"
"$bin/sockbench" "$@"
